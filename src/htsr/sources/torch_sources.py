"""PyTorch models: an ``nn.Module`` in memory, or a checkpoint file (``.pt/.pth/.bin``)."""

from __future__ import annotations

import pickle
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from htsr._optional import import_optional
from htsr.errors import SourceError
from htsr.sources.base import TensorRef
from htsr.sources.mapping import is_tensor_mapping, mapping_refs, ref_from_value

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


def _unwrap_state_dict(obj: object, path: Path) -> Mapping[str, Any]:
    """Find the state dict inside a loaded checkpoint (possibly nested under a common key)."""
    if is_tensor_mapping(obj):
        return obj  # type: ignore[return-value]
    if isinstance(obj, Mapping):
        for key in _NESTED_KEYS:
            if key in obj and is_tensor_mapping(obj[key]):
                return obj[key]  # type: ignore[no-any-return]
        tensors = {k: v for k, v in obj.items() if is_tensor_mapping({k: v})}
        if tensors:
            return tensors
    raise SourceError(
        path,
        f"no state dict found in this checkpoint (top-level object is {type(obj).__name__}); "
        "expected a dict of tensors, possibly under one of " + ", ".join(_NESTED_KEYS),
    )


def load_checkpoint(path: Path) -> Mapping[str, Any]:
    """Load a PyTorch checkpoint safely (``weights_only=True``) and memory-mapped when possible.

    Raises
    ------
    SourceError
        If the file is missing, truncated, corrupt, or holds no tensors.
    """
    torch = import_optional("torch", extra="torch", caller="reading a PyTorch checkpoint")
    if not path.is_file():
        raise SourceError(path, "no such file")
    try:
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as e:
            if "mmap" not in str(e) and "zip" not in str(e):
                raise
            # Legacy (non-zip) checkpoints cannot be memory-mapped.
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise SourceError(path, f"not a safe PyTorch checkpoint: {str(e).splitlines()[0]}") from e
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise SourceError(path, f"corrupt or truncated PyTorch checkpoint ({first})") from e
    return _unwrap_state_dict(obj, path)


def checkpoint_refs(path: Path) -> list[TensorRef]:
    """Refs to the tensors of a PyTorch checkpoint file, in the state dict's order."""
    return mapping_refs(load_checkpoint(path), origin=str(path))


__all__ = ["checkpoint_refs", "is_torch_module", "load_checkpoint", "module_refs"]
