"""Sources: lazy tensors from every format htsr reads, one tensor in memory at a time."""

from htsr.sources.base import FLOAT_DTYPES, Layout, TensorRef, natural_key
from htsr.sources.resolve import FILE_FORMATS, FileFormat, ModelSource, open_model

__all__ = [
    "FILE_FORMATS",
    "FLOAT_DTYPES",
    "FileFormat",
    "Layout",
    "ModelSource",
    "TensorRef",
    "natural_key",
    "open_model",
]
