"""In-memory models: a dict of name -> array or tensor (a state dict), possibly nested.

Nested mappings (a Flax/JAX parameter pytree ``{"params": {"Dense_0": {"kernel": ...}}}``, a
dict of state dicts) are flattened depth first, in the mappings' own order, to ``/``-joined
names (``params/Dense_0/kernel``); lists and tuples inside them count as mappings keyed by
position. Keys that already hold dots (``encoder.layer.0.weight``) are kept as they are. A
leaf that is not an array (a step counter, a string, ``None``) gets its own ref that is never
loaded and whose row says ``skipped: not an array (<type>)``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import partial
from typing import Any

import numpy as np

from htsr.sources.base import Layout, TensorRef

#: Separator of the names of nested mappings (Flax's ``flax.traverse_util`` convention).
SEPARATOR = "/"


def _is_torch_tensor(value: object) -> bool:
    return type(value).__module__.startswith("torch") and hasattr(value, "detach")


def _is_jax_array(value: object) -> bool:
    return type(value).__module__.startswith(("jax", "jaxlib")) and hasattr(value, "shape")


def is_array(value: object) -> bool:
    """Whether ``value`` is an array or tensor htsr reads (NumPy, torch, JAX, or anything with
    ``shape``, ``dtype`` and ``__array__``)."""
    if isinstance(value, np.ndarray) or _is_torch_tensor(value):
        return True
    return all(hasattr(value, a) for a in ("shape", "dtype", "__array__"))


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


def _as_numpy(value: Any) -> np.ndarray:
    return np.asarray(value)


def _not_an_array(name: str, type_name: str) -> np.ndarray:
    raise TypeError(f"{name!r} is not an array ({type_name})")


def torch_dtype_name(dtype: Any) -> str:
    """``torch.bfloat16`` -> ``'bfloat16'``."""
    return str(dtype).removeprefix("torch.")


def ref_from_value(name: str, value: Any, origin: str, module_type: str | None = None) -> TensorRef:
    """A ref to an in-memory array or tensor (loading returns a view or a CPU copy).

    JAX arrays are Flax's: their kernels of 3 or more axes are channels last. A value that
    is not an array gives a ref with ``unreadable`` set (never loaded).
    """
    if _is_torch_tensor(value):
        return TensorRef(
            name=name,
            shape=tuple(int(d) for d in value.shape),
            dtype=torch_dtype_name(value.dtype),
            origin=origin,
            loader=partial(tensor_to_numpy, value),
            module_type=module_type,
        )
    if isinstance(value, np.ndarray):
        return TensorRef(
            name=name,
            shape=tuple(int(d) for d in value.shape),
            dtype=value.dtype.name,
            origin=origin,
            loader=partial(_identity, value),
            module_type=module_type,
        )
    if is_array(value):
        shape = tuple(int(d) for d in value.shape)
        jax = _is_jax_array(value)
        return TensorRef(
            name=name,
            shape=shape,
            dtype=np.dtype(value.dtype).name,
            origin=origin,
            loader=partial(_as_numpy, value),
            module_type=module_type,
            layout=Layout.CHANNELS_LAST if jax and len(shape) >= 3 else Layout.AUTO,
        )
    type_name = type(value).__name__
    return TensorRef(
        name=name,
        shape=(),
        dtype=type_name,
        origin=origin,
        loader=partial(_not_an_array, name, type_name),
        module_type=module_type,
        unreadable=f"not an array ({type_name})",
    )


def flatten_mapping(
    mapping: Mapping[Any, Any], *, sep: str = SEPARATOR
) -> Iterator[tuple[str, Any]]:
    """``(name, leaf)`` for every leaf of nested mappings/lists, depth first, in order.

    Examples
    --------
    >>> import numpy as np
    >>> tree = {"params": {"Dense_0": {"kernel": np.ones((2, 3)), "bias": np.ones(3)}}, "step": 1}
    >>> [name for name, _ in flatten_mapping(tree)]
    ['params/Dense_0/kernel', 'params/Dense_0/bias', 'step']
    """
    stack: list[tuple[str, Any]] = [("", mapping)]
    out: list[tuple[str, Any]] = []
    # An explicit stack (no recursion limit on deep trees); children pushed in reverse order.
    while stack:
        prefix, node = stack.pop()
        if isinstance(node, Mapping):
            children = [(str(k), v) for k, v in node.items()]
        elif isinstance(node, (list, tuple)) and prefix:
            children = [(str(i), v) for i, v in enumerate(node)]
        else:
            out.append((prefix, node))
            continue
        for key, value in reversed(children):
            stack.append((f"{prefix}{sep}{key}" if prefix else key, value))
    yield from out


def is_tensor_mapping(obj: object) -> bool:
    """Whether ``obj`` is a non-empty mapping whose values are all arrays or tensors."""
    if not isinstance(obj, Mapping) or not obj:
        return False
    return all(isinstance(v, np.ndarray) or _is_torch_tensor(v) for v in obj.values())


def has_array_leaf(obj: object) -> bool:
    """Whether ``obj`` is a mapping holding, at any depth, at least one array or tensor."""
    return isinstance(obj, Mapping) and any(is_array(v) for _, v in flatten_mapping(obj))


def mapping_refs(mapping: Mapping[Any, Any], *, origin: str = "<dict>") -> list[TensorRef]:
    """Refs to every leaf of a (possibly nested) state dict / dict of arrays, in order.

    Nested names are ``/``-joined; a leaf that is not an array gets a ref whose row is
    ``skipped: not an array (<type>)``.
    """
    return [ref_from_value(name, value, origin) for name, value in flatten_mapping(mapping)]


__all__ = [
    "SEPARATOR",
    "flatten_mapping",
    "has_array_leaf",
    "is_array",
    "is_tensor_mapping",
    "mapping_refs",
    "ref_from_value",
    "tensor_to_numpy",
]
