"""ONNX models: initializers, ``Constant`` nodes and tensors of subgraphs, read with ``onnx``.

The model is parsed with ``onnx.load(..., load_external_data=False)``; nothing in it is run
(no onnxruntime). Every tensor is found by one walk of the graph, depth first: the graph's
initializers, then each node's ``Constant`` value and the subgraphs of its attributes (the
``then``/``else`` branches of ``If``, the body of ``Loop`` and ``Scan``). Names are the graph's
tensor names (a ``Constant`` node's output name).

Data stored in the model file (protobuf, at most 2 GB) is taken from the parsed model, which
the loader keeps cached for the file it last read; data saved with
``onnx.save_model(..., save_as_external_data=True)`` is read from its external file, at its
offset, one tensor at a time, and only from inside the model's directory.

Orientation: ``Gemm`` multiplies by ``B`` (``(in, out)``) or, with ``transB=1``, by ``B^T``
(``B`` stored ``(out, in)`` as in PyTorch); ``MatMul`` weights are ``(in, out)``. The stored
shape is kept: the ESD of W and of W^T are the same. The consuming operator is recorded as
the tensor's module type (``Gemm``, ``MatMul``, ``Conv``, ``Gather``), which sets its kind;
``Conv`` kernels are channels first, ``(out, in, *kernel)``, by the ONNX specification.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

import numpy as np

from htsr._optional import import_optional
from htsr.errors import SourceError
from htsr.sources.base import Layout, TensorRef

_CALLER = "reading an ONNX model"
#: Input positions that hold the weight of an operator (the rest are activations).
_WEIGHT_INPUTS = {
    "Gemm": (0, 1),
    "MatMul": (0, 1),
    "Conv": (1,),
    "ConvTranspose": (1,),
    "Gather": (0,),
    "LSTM": (1, 2),
    "GRU": (1, 2),
    "RNN": (1, 2),
}
#: ONNX data types htsr loads (others, e.g. STRING, complex, 4-bit, get a ``skipped:`` row).
_LOADABLE = frozenset(
    {
        "FLOAT", "FLOAT16", "DOUBLE", "BFLOAT16", "FLOAT8E4M3FN", "FLOAT8E4M3FNUZ",
        "FLOAT8E5M2", "FLOAT8E5M2FNUZ", "INT8", "UINT8", "INT16", "UINT16", "INT32",
        "UINT32", "INT64", "UINT64", "BOOL",
    }
)  # fmt: skip


def _onnx() -> Any:
    return import_optional("onnx", extra="formats", caller=_CALLER)


def _walk(graph: Any) -> Iterator[Any]:
    """Every dense tensor of a graph and its subgraphs, in a fixed order."""
    onnx = _onnx()
    yield from graph.initializer
    for node in graph.node:
        for attr in node.attribute:
            if node.op_type == "Constant" and attr.name == "value":
                tensor = onnx.TensorProto()
                tensor.CopyFrom(attr.t)
                tensor.name = node.output[0] if node.output else attr.t.name
                yield tensor
            if attr.type == onnx.AttributeProto.GRAPH:
                yield from _walk(attr.g)
            elif attr.type == onnx.AttributeProto.GRAPHS:
                for sub in attr.graphs:
                    yield from _walk(sub)


def _consumers(graph: Any, out: dict[str, str]) -> dict[str, str]:
    """Tensor name -> the operator that uses it as a weight, over the graph and subgraphs."""
    onnx = _onnx()
    for node in graph.node:
        for i, name in enumerate(node.input):
            if i in _WEIGHT_INPUTS.get(node.op_type, ()):
                out.setdefault(name, node.op_type)
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                _consumers(attr.g, out)
            elif attr.type == onnx.AttributeProto.GRAPHS:
                for sub in attr.graphs:
                    _consumers(sub, out)
    return out


def _parse(path: Path) -> Any:
    onnx = _onnx()
    if not path.is_file():
        raise SourceError(path, "no such file")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as e:  # protobuf's DecodeError and friends: not a valid model
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise SourceError(path, f"corrupt or truncated ONNX model ({first})") from e
    if not model.HasField("graph"):
        raise SourceError(path, "corrupt or truncated ONNX model (no graph)")
    return model


@lru_cache(maxsize=1)
def _cached_tensors(path: str, mtime_ns: int, size: int) -> list[Any]:
    """The tensors of the model file last read (one parse per file and process)."""
    del mtime_ns, size  # part of the cache key only
    return list(_walk(_parse(Path(path)).graph))


def _external(tensor: Any) -> dict[str, str]:
    return {entry.key: entry.value for entry in tensor.external_data}


def _is_external(tensor: Any) -> bool:
    return bool(tensor.data_location == _onnx().TensorProto.EXTERNAL)


def _external_file(model_path: Path, location: str) -> Path | None:
    """The external data file, or None when the location leaves the model's directory."""
    base = model_path.parent.resolve()
    target = (base / location).resolve()
    if os.path.isabs(location) or not target.is_relative_to(base):
        return None
    return target


def _load_embedded(path: str, index: int) -> np.ndarray:
    stat = Path(path).stat()
    tensor = _cached_tensors(path, stat.st_mtime_ns, stat.st_size)[index]
    return np.asarray(_onnx().numpy_helper.to_array(tensor))


def _load_external(file: str, offset: int, length: int, template: bytes) -> np.ndarray:
    onnx = _onnx()
    with open(file, "rb") as f:
        f.seek(offset)
        data = f.read(length)
    if len(data) != length:
        raise SourceError(file, "truncated ONNX external data file")
    tensor = onnx.TensorProto()
    tensor.ParseFromString(template)
    tensor.raw_data = data
    return np.asarray(onnx.numpy_helper.to_array(tensor))


def _skipped(path: str, name: str, reason: str) -> np.ndarray:
    raise SourceError(path, f"tensor {name!r}: {reason}")


def onnx_refs(path: Path) -> list[TensorRef]:
    """Lazy refs to every tensor of an ONNX model, in graph order.

    Raises
    ------
    SourceError
        If the model cannot be parsed, or an external data file is missing or too short.
    """
    onnx = _onnx()
    model = _parse(path)
    consumers = _consumers(model.graph, {})
    refs: list[TensorRef] = []
    seen: dict[str, int] = {}
    for index, tensor in enumerate(_walk(model.graph)):
        name = tensor.name or f"<unnamed {index}>"
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:  # subgraphs may reuse a name: keep every tensor, distinguishably
            name = f"{name}#{seen[name]}"
        shape = tuple(int(d) for d in tensor.dims)
        type_name = onnx.TensorProto.DataType.Name(tensor.data_type)
        unreadable = None
        dtype = type_name.lower()
        if type_name in _LOADABLE:
            dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(tensor.data_type)).name
        else:
            unreadable = f"unsupported ONNX data type {type_name}"
        loader: Any
        if unreadable is not None:
            loader = partial(_skipped, str(path), name, unreadable)
        elif _is_external(tensor):
            loader, unreadable = _external_loader(path, tensor, name, shape)
        else:
            loader = partial(_load_embedded, str(path), index)
        refs.append(
            TensorRef(
                name=name,
                shape=shape,
                dtype=dtype,
                origin=str(path),
                loader=loader,
                module_type=consumers.get(tensor.name),
                layout=Layout.CHANNELS_FIRST if len(shape) >= 3 else Layout.AUTO,
                unreadable=unreadable,
            )
        )
    return refs


def _external_loader(
    path: Path, tensor: Any, name: str, shape: tuple[int, ...]
) -> tuple[Any, str | None]:
    """The loader of an externally stored tensor (or why it cannot be read), checked now."""
    onnx = _onnx()
    info = _external(tensor)
    location = info.get("location", "")
    file = _external_file(path, location)
    if file is None:
        reason = f"external data location {location!r} is outside the model's directory"
        return partial(_skipped, str(path), name, reason), reason
    if not file.is_file():
        raise SourceError(file, f"external data file of {path.name} (tensor {name!r}) is missing")
    offset = int(info.get("offset", 0))
    itemsize = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(tensor.data_type)).itemsize
    length = int(info.get("length", int(np.prod(shape)) * itemsize))
    if offset + length > file.stat().st_size:
        raise SourceError(file, f"truncated ONNX external data file (tensor {name!r})")
    template = onnx.TensorProto()
    template.dims.extend(tensor.dims)
    template.data_type = tensor.data_type
    template.name = tensor.name
    loader = partial(_load_external, str(file), offset, length, template.SerializeToString())
    return loader, None


__all__ = ["onnx_refs"]
