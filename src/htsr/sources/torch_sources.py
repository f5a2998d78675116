"""PyTorch models: an ``nn.Module`` in memory, or a checkpoint file (``.pt/.pth/.bin``)."""

from __future__ import annotations

import pickle
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from htsr._optional import import_optional
from htsr.errors import SourceError
from htsr.sources.base import TensorRef, check_regular_file, reading
from htsr.sources.mapping import is_tensor_mapping, mapping_refs, ref_from_value
from htsr.sources.torch_zip import (
    UnsupportedPickleError,
    is_record,
    is_torch_zip,
    read_zip_checkpoint,
    zip_tensor_refs,
)

#: Keys under which training scripts commonly nest the state dict of a checkpoint.
_NESTED_KEYS = ("state_dict", "model_state_dict", "model", "module", "net", "network", "params")


def is_torch_module(obj: object) -> bool:
    """Whether ``obj`` is a ``torch.nn.Module`` (without importing torch)."""
    return any(
        cls.__module__ == "torch.nn.modules.module" and cls.__name__ == "Module"
        for cls in type(obj).__mro__
    )


def module_refs(model: Any) -> list[TensorRef]:
    """Refs to every parameter of a module, in module order, with its module's class name.

    Shared (tied) parameters appear once, under the first name ``named_modules`` gives them.
    The model itself is not touched: parameters are detached and copied to the CPU when loaded.
    """
    seen: set[int] = set()
    refs = []
    for module_name, module in model.named_modules():
        for param_name, param in module.named_parameters(recurse=False):
            if id(param) in seen:
                continue
            seen.add(id(param))
            full = f"{module_name}.{param_name}" if module_name else param_name
            refs.append(ref_from_value(full, param, "<torch.nn.Module>", type(module).__name__))
    return refs


def _unwrap_state_dict(
    obj: object, path: Path, is_tensor: Callable[[object], bool]
) -> Mapping[str, Any]:
    """Find the state dict inside a loaded checkpoint (possibly nested under a common key):
    the first mapping holding tensors, at the top or under one of :data:`_NESTED_KEYS`."""
    if isinstance(obj, Mapping):
        candidates = [obj] + [obj[k] for k in _NESTED_KEYS if isinstance(obj.get(k), Mapping)]
        for candidate in candidates:
            tensors = {k: v for k, v in candidate.items() if is_tensor(v)}
            if tensors:
                return tensors
    raise SourceError(
        path,
        f"no state dict found in this checkpoint (top-level object is {type(obj).__name__}); "
        "expected a dict of tensors, possibly under one of " + ", ".join(_NESTED_KEYS),
    )


def _is_torch_tensor(value: object) -> bool:
    return is_tensor_mapping({"": value})


def load_checkpoint(path: Path) -> Mapping[str, Any]:
    """Load a PyTorch checkpoint with torch (``weights_only=True``), memory-mapped when it is a
    zip archive; the state dict of torch tensors.

    Raises
    ------
    SourceError
        If the file is missing, truncated, corrupt, or holds no tensors. torch's own messages
        are replaced by ours (never its advice to pass ``weights_only=False``).
    """
    torch = import_optional("torch", extra="torch", caller="reading a PyTorch checkpoint")
    check_regular_file(path)
    zipped = is_torch_zip(path)
    if not zipped:
        with reading(path, "PyTorch checkpoint"), path.open("rb") as f:
            magic = f.read(2)
        if magic == b"PK":
            raise SourceError(
                path, "corrupt or truncated PyTorch checkpoint (a zip archive without its end)"
            )
        if magic[:1] != b"\x80":  # every pickle of protocol >= 2 starts with PROTO
            raise SourceError(path, "not a PyTorch checkpoint (neither a zip archive nor a pickle)")
    try:
        with reading(path, "PyTorch checkpoint"):
            obj = torch.load(path, map_location="cpu", weights_only=True, mmap=zipped)
    except SourceError as e:
        if isinstance(e.__cause__, pickle.UnpicklingError):
            raise SourceError(
                path,
                "not a safe PyTorch checkpoint: it holds objects other than tensors and "
                "plain containers, which htsr does not unpickle",
            ) from e.__cause__
        raise
    return _unwrap_state_dict(obj, path, _is_torch_tensor)


def checkpoint_refs(path: Path) -> list[TensorRef]:
    """Refs to the tensors of a PyTorch checkpoint file, in the state dict's order.

    A zip checkpoint (``torch.save`` since PyTorch 1.6) is read without torch, one tensor at a
    time (:mod:`htsr.sources.torch_zip`); one whose ``data.pkl`` holds other objects, and a
    legacy (non-zip) checkpoint, are loaded whole by ``torch.load(weights_only=True)``.
    """
    check_regular_file(path)
    if is_torch_zip(path):
        try:
            obj = read_zip_checkpoint(path)
        except UnsupportedPickleError:
            pass
        else:
            return zip_tensor_refs(path, dict(_unwrap_state_dict(obj, path, is_record)))
    return mapping_refs(load_checkpoint(path), origin=str(path))


__all__ = ["checkpoint_refs", "is_torch_module", "load_checkpoint", "module_refs"]
