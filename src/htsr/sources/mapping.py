"""In-memory models: a dict of name -> NumPy array or torch tensor (a state dict)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

import numpy as np

from htsr.sources.base import TensorRef


def _is_torch_tensor(value: object) -> bool:
    return type(value).__module__.startswith("torch") and hasattr(value, "detach")


def tensor_to_numpy(tensor: Any) -> np.ndarray:
    """A NumPy copy of a torch tensor on the CPU; bf16/fp8 are widened to float32 (exact)."""
    t = tensor.detach()
    if t.device.type != "cpu":
        t = t.cpu()
    if (t.is_floating_point() and t.element_size() == 1) or str(t.dtype) == "torch.bfloat16":
        t = t.float()
    return np.asarray(t.numpy())


def _identity(array: np.ndarray) -> np.ndarray:
    return array


def torch_dtype_name(dtype: Any) -> str:
    """``torch.bfloat16`` -> ``'bfloat16'``."""
    return str(dtype).removeprefix("torch.")


def ref_from_value(name: str, value: Any, origin: str, module_type: str | None = None) -> TensorRef:
    """A ref to an in-memory array or tensor (loading returns a view or a CPU copy)."""
    if _is_torch_tensor(value):
        return TensorRef(
            name=name,
            shape=tuple(int(d) for d in value.shape),
            dtype=torch_dtype_name(value.dtype),
            origin=origin,
            loader=partial(tensor_to_numpy, value),
            module_type=module_type,
        )
    array = np.asarray(value)
    return TensorRef(
        name=name,
        shape=tuple(int(d) for d in array.shape),
        dtype=array.dtype.name,
        origin=origin,
        loader=partial(_identity, array),
        module_type=module_type,
    )


def is_tensor_mapping(obj: object) -> bool:
    """Whether ``obj`` is a non-empty mapping whose values are all arrays or tensors."""
    if not isinstance(obj, Mapping) or not obj:
        return False
    return all(isinstance(v, np.ndarray) or _is_torch_tensor(v) for v in obj.values())


def mapping_refs(mapping: Mapping[str, Any], *, origin: str = "<dict>") -> list[TensorRef]:
    """Refs to every value of a state dict / dict of arrays, in the dict's order."""
    return [ref_from_value(str(name), value, origin) for name, value in mapping.items()]


__all__ = ["is_tensor_mapping", "mapping_refs", "ref_from_value", "tensor_to_numpy"]
