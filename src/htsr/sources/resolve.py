"""Turn whatever the user passed (object, file or directory) into a list of lazy tensors."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from htsr.errors import SourceError
from htsr.sources.base import TensorRef, check_regular_file, guarded, naturally_sorted, reading
from htsr.sources.flax import msgpack_refs
from htsr.sources.gguf import gguf_refs
from htsr.sources.keras import keras_refs
from htsr.sources.mapping import has_array_leaf, is_tensor_mapping, mapping_refs
from htsr.sources.numpy_files import npy_refs, npz_refs
from htsr.sources.onnx import onnx_refs
from htsr.sources.peft import adapter_refs, is_adapter_directory
from htsr.sources.safetensors_files import (
    read_index,
    safetensors_refs,
    sharded_safetensors_refs,
)
from htsr.sources.torch_sources import checkpoint_refs, is_torch_module, module_refs


@dataclass(frozen=True, slots=True)
class FileFormat:
    """One entry of the file-format registry.

    Attributes
    ----------
    name : str
        Short name shown to users.
    suffixes : tuple of str
        File name endings that select it.
    reader : callable
        ``Path -> list[TensorRef]``.
    extra : str or None
        The pip extra it needs, if any.
    exclusive : bool
        In a directory holding files of this format, read only those (the first such format
        in :data:`FILE_FORMATS` wins): their side files (ONNX external data, often ``*.bin``)
        are not models of their own.
    """

    name: str
    suffixes: tuple[str, ...]
    reader: Callable[[Path], list[TensorRef]]
    extra: str | None = None
    exclusive: bool = False


FILE_FORMATS: tuple[FileFormat, ...] = (
    FileFormat("safetensors", (".safetensors",), safetensors_refs, exclusive=True),
    FileFormat("onnx", (".onnx",), onnx_refs, extra="formats", exclusive=True),
    FileFormat("gguf", (".gguf",), gguf_refs, extra="formats", exclusive=True),
    FileFormat("keras", (".keras", ".h5", ".hdf5"), keras_refs, extra="formats"),
    FileFormat("flax-msgpack", (".msgpack",), msgpack_refs, extra="formats"),
    FileFormat("pytorch", (".pt", ".pth", ".bin", ".ckpt"), checkpoint_refs, extra="torch"),
    FileFormat("numpy", (".npy",), npy_refs),
    FileFormat("numpy-archive", (".npz",), npz_refs),
)
_BY_SUFFIX = {suffix: fmt for fmt in FILE_FORMATS for suffix in fmt.suffixes}


@dataclass(frozen=True, slots=True)
class ModelSource:
    """The tensors of a model, lazily, with a description of where they come from.

    Attributes
    ----------
    refs : list of TensorRef
        In model order.
    description : str
        The path or the kind of object.
    format : str
        The format name (``safetensors``, ``pytorch``, ``torch.nn.Module``, ...).
    """

    refs: list[TensorRef]
    description: str
    format: str


def open_model(model: Any) -> ModelSource:
    """Lazy tensors of ``model``: a ``torch.nn.Module``, a state dict, a dict of NumPy arrays,
    or a path to a file or a directory (see :data:`FILE_FORMATS`).

    Raises
    ------
    SourceError
        If the path does not exist, or its format is unsupported, truncated or corrupt.
    TypeError
        If ``model`` is an object of a type htsr does not read.
    """
    if isinstance(model, (str, os.PathLike)):
        return _open_path(Path(model))
    if is_torch_module(model):
        return ModelSource(module_refs(model), type(model).__name__, "torch.nn.Module")
    if is_tensor_mapping(model):
        return ModelSource(mapping_refs(model), "<dict>", "state_dict")
    if has_array_leaf(model):
        return ModelSource(mapping_refs(model), "<nested dict>", "nested_dict")
    if isinstance(model, dict) and not model:
        return ModelSource([], "<empty dict>", "state_dict")
    raise TypeError(
        "`model` must be a torch.nn.Module, a (nested) dict of arrays/tensors, or a path to a "
        f"model file or directory; got {type(model).__name__}"
    )


def _open_path(path: Path) -> ModelSource:
    if not path.exists():
        raise SourceError(path, "no such file or directory")
    if path.is_dir():
        return _open_directory(path)
    check_regular_file(path)  # before any open: a FIFO or device is refused, never read
    if path.name.endswith(".index.json"):
        with reading(path, "shard index"):
            return _open_index(path)
    fmt = _BY_SUFFIX.get(path.suffix.lower())
    if fmt is None:
        known = ", ".join(sorted(_BY_SUFFIX))
        raise SourceError(path, f"unsupported file type {path.suffix!r}; htsr reads {known}")
    with reading(path, f"{fmt.name} file"):  # the one error contract (see htsr.sources.base)
        refs = fmt.reader(path)
    return ModelSource([guarded(ref, f"{fmt.name} file") for ref in refs], str(path), fmt.name)


def _open_index(index: Path) -> ModelSource:
    if index.name.endswith(".safetensors.index.json"):
        return ModelSource(sharded_safetensors_refs(index), str(index), "safetensors-sharded")
    weight_map = read_index(index)
    refs: list[TensorRef] = []
    for shard in dict.fromkeys(weight_map.values()):
        wanted = {n for n, s in weight_map.items() if s == shard}
        refs.extend(r for r in checkpoint_refs(index.parent / shard) if r.name in wanted)
    return ModelSource(naturally_sorted(refs), str(index), "pytorch-sharded")


def _open_directory(directory: Path) -> ModelSource:
    """A Hugging Face ``save_pretrained`` directory, a PEFT adapter, or a folder of weight files."""
    if is_adapter_directory(directory):  # LoRA updates, see htsr.sources.peft
        return ModelSource(adapter_refs(directory), str(directory), "peft-lora")
    for index_name in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        if (directory / index_name).is_file():
            return _open_index(directory / index_name)
    for single in ("model.safetensors", "pytorch_model.bin"):
        if (directory / single).is_file():
            return _open_path(directory / single)
    files = sorted(
        (p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in _BY_SUFFIX),
        key=lambda p: p.name,
    )
    chosen = files
    for fmt in FILE_FORMATS:
        own = [p for p in files if fmt.exclusive and p.suffix.lower() in fmt.suffixes]
        if own:
            chosen = own
            break
    if not chosen:
        known = ", ".join(sorted(_BY_SUFFIX))
        raise SourceError(directory, f"directory holds no model weights (no index, no {known})")
    if len(chosen) == 1:  # one model file: its own order (graph, file or layer order)
        return ModelSource(_open_path(chosen[0]).refs, str(directory), "directory")
    refs = [ref for p in chosen for ref in _open_path(p).refs]
    return ModelSource(naturally_sorted(refs), str(directory), "directory")


__all__ = ["FILE_FORMATS", "FileFormat", "ModelSource", "open_model"]
