"""Exceptions and warnings raised by htsr.

Each exception subclasses the builtin a user would naturally catch: a bad file is an
``OSError`` (and carries its path), a bad layer a ``ValueError`` (and carries its name).
"""

from __future__ import annotations

from pathlib import Path


class HtsrError(Exception):
    """Base class of every error htsr raises on purpose."""


class SourceError(HtsrError, OSError):
    """A model file or directory cannot be read: missing, truncated, corrupt or unsupported.

    Attributes
    ----------
    path : str
        The file or directory at fault.
    reason : str
        What is wrong with it.
    """

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


class LayerError(HtsrError, ValueError):
    """One layer cannot be analysed (NaN/Inf, all-zero, unsupported shape, ...).

    Attributes
    ----------
    layer : str
        The full dotted tensor name.
    reason : str
        What is wrong with it.
    """

    def __init__(self, layer: str, reason: str) -> None:
        self.layer = layer
        self.reason = reason
        super().__init__(f"layer {layer!r}: {reason}")


class LayerSkippedError(LayerError):
    """A layer with nothing to analyse, which is not a failure: a fine-tune update that is exactly
    zero (the layer was frozen), or a LoRA update whose product is zero (an untrained adapter).

    Its row says ``skipped: <reason>``, it is not counted among the failed layers, and
    ``on_error="raise"`` does not raise it.
    """


class MissingExtraError(HtsrError, ImportError):
    """An optional dependency is needed; the message names the extra to install."""


class FitWarning(UserWarning):
    """A fit could not be made or is of doubtful quality (see the fit's ``status``)."""


class DegenerateLayerWarning(UserWarning):
    """A layer is degenerate (NaN/Inf, all-zero, too few eigenvalues) and was not analysed."""


class LayerErrorsWarning(UserWarning):
    """Some layers of a model failed; the message groups identical reasons with counts."""


class NegativeEigenvalueWarning(UserWarning):
    """A Gram matrix gave negative eigenvalues beyond round-off; they were set to zero."""


__all__ = [
    "DegenerateLayerWarning",
    "FitWarning",
    "HtsrError",
    "LayerError",
    "LayerErrorsWarning",
    "LayerSkippedError",
    "MissingExtraError",
    "NegativeEigenvalueWarning",
    "SourceError",
]
