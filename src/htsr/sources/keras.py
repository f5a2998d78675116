"""Keras files, read with ``h5py`` (neither Keras nor TensorFlow is needed to read them).

- ``.keras`` (Keras 3): a zip archive of ``config.json``, ``metadata.json`` and
  ``model.weights.h5``. The HDF5 member is read in place (Keras stores it uncompressed) through
  a file window on the archive, so nothing is extracted.
- ``.weights.h5`` (Keras 3 ``save_weights``): groups ``layers/<layer>/vars/<i>``; a tensor is
  named ``<layer>/vars/<i>`` (nested models: ``<outer>/<inner>/vars/<i>``), the variable index
  being the layer's build order (Dense, Conv: 0 kernel, 1 bias; Embedding: 0 embeddings).
- legacy ``.h5`` (Keras 2 / ``tf.keras`` ``save``, also written by Keras 3): the group
  ``model_weights`` (or the file root for a weights-only file) lists ``layer_names``, and each
  layer group its ``weight_names`` (``sequential/dense/kernel``), which name the tensors.

The layer class (``Dense``, ``Conv2D``, ``Embedding``, ...) is taken from the model's
configuration when the file has one (``config.json``, the ``model_config`` attribute) and sets
the tensor's kind. Keras stores Dense kernels ``(in, out)`` and convolution kernels channels
last, ``(*kernel, in, out)``; tensors of 3 or more axes are marked so.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from htsr._optional import import_optional
from htsr.errors import SourceError
from htsr.sources.base import Layout, TensorRef, naturally_sorted

_CALLER = "reading a Keras file"
_WEIGHTS_MEMBER = "model.weights.h5"


class _Window(io.RawIOBase):
    """A read-only, seekable view of ``length`` bytes of a file starting at ``start``."""

    def __init__(self, path: str, start: int, length: int) -> None:
        self._f = open(path, "rb")  # noqa: SIM115  (closed with the window)
        self._start, self._length, self._pos = start, length, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._length}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        n = max(0, min(len(buffer), self._length - self._pos))
        self._f.seek(self._start + self._pos)
        data = self._f.read(n)
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)

    def close(self) -> None:
        self._f.close()
        super().close()


def _member_window(path: Path, member: str) -> io.RawIOBase | io.BufferedIOBase:
    """A seekable file object on a zip member: a window for stored members, else zipfile's."""
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(member)
        if info.compress_type != zipfile.ZIP_STORED:
            return io.BytesIO(zf.read(member))  # a compressed member: read it whole
        with open(path, "rb") as f:  # the local header's name and extra fields vary in size
            f.seek(info.header_offset + 26)
            name_len, extra_len = np.frombuffer(f.read(4), dtype="<u2")
        start = info.header_offset + 30 + int(name_len) + int(extra_len)
    return _Window(str(path), start, info.file_size)


def _open_h5(path: Path, member: str | None) -> Any:
    h5py = import_optional("h5py", extra="formats", caller=_CALLER)
    if member is None:
        return h5py.File(path, "r")
    return h5py.File(_member_window(path, member), "r")


def _load(path: str, member: str | None, dataset: str) -> np.ndarray:
    with _open_h5(Path(path), member) as f:
        return np.asarray(f[dataset][()])


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _layer_classes(config: Any, classes: dict[str, str] | None = None) -> dict[str, str]:
    """Layer name -> class name over a Keras model configuration (nested models included),
    in the configuration's order."""
    classes = {} if classes is None else classes
    if isinstance(config, dict):
        inner = config.get("config")
        if "class_name" in config and isinstance(inner, dict) and "name" in inner:
            classes.setdefault(str(inner["name"]), str(config["class_name"]))
        for value in config.values():
            _layer_classes(value, classes)
    elif isinstance(config, list):
        for value in config:
            _layer_classes(value, classes)
    return classes


def _keras3_datasets(f: Any) -> Iterator[tuple[str, str]]:
    """``(name, dataset path)`` of a Keras 3 weights file.

    Keras 3 keys its groups by class (``layers/dense_1/vars/0``) and keeps the layer's own
    name in the ``name`` attribute of the ``vars`` group; the tensor is named with the
    layers' own names: ``head/vars/0`` (nested: ``encoder/head/vars/0``).
    """
    found: list[tuple[str, str]] = []

    def visit(path: str, obj: Any) -> None:
        if not hasattr(obj, "shape"):
            return
        parts = path.split("/")
        names, prefix = [], ""
        for i, part in enumerate(parts[:-2]):  # the last two are "vars/<index>"
            prefix = f"{prefix}/{part}" if prefix else part
            if part == "layers" and i % 2 == 0:
                continue
            own = f[prefix]["vars"].attrs.get("name") if "vars" in f[prefix] else None
            names.append(_text(own) if own is not None else part)
        found.append(("/".join([*names, *parts[-2:]]), path))

    f.visititems(visit)
    yield from found


def _legacy_datasets(root: Any) -> Iterator[tuple[str, str]]:
    """``(weight name, dataset path)`` of a legacy Keras ``.h5`` file, in layer order."""
    for layer in root.attrs.get("layer_names", []):
        group = root[_text(layer)]
        for weight in group.attrs.get("weight_names", []):
            weight = _text(weight)
            yield weight.removesuffix(":0"), f"{group.name}/{weight}".lstrip("/")


def _owner_class(name: str, classes: dict[str, str]) -> str | None:
    """The class of the innermost layer named in a tensor name."""
    for part in reversed(name.split("/")):
        if part in classes:
            return classes[part]
    return None


def keras_refs(path: Path) -> list[TensorRef]:
    """Lazy refs to every weight of a ``.keras``, ``.weights.h5`` or legacy ``.h5`` file.

    Raises
    ------
    SourceError
        If the file is missing, not a zip/HDF5 file of Keras weights, or truncated.
    """
    if not path.is_file():
        raise SourceError(path, "no such file")
    member: str | None = None
    config: Any = None
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                names = set(zf.namelist())
                if _WEIGHTS_MEMBER not in names:
                    raise SourceError(path, f"not a .keras archive (no {_WEIGHTS_MEMBER})")
                if "config.json" in names:
                    config = json.loads(zf.read("config.json"))
            member = _WEIGHTS_MEMBER
        with _open_h5(path, member) as f:
            if config is None and "model_config" in f.attrs:
                config = json.loads(_text(f.attrs["model_config"]))
            legacy_root = f.get("model_weights", f)
            if "layer_names" in legacy_root.attrs:
                entries = list(_legacy_datasets(legacy_root))
                ordered = True
            else:
                entries = list(_keras3_datasets(f))
                ordered = False
            headers = [(name, ds, f[ds].shape, f[ds].dtype) for name, ds in entries]
    except SourceError:
        raise
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, json.JSONDecodeError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise SourceError(path, f"corrupt or truncated Keras file ({first})") from e
    classes = _layer_classes(config) if config is not None else {}
    refs = [
        TensorRef(
            name=name,
            shape=tuple(int(d) for d in shape),
            dtype=np.dtype(dtype).name,
            origin=str(path),
            loader=partial(_load, str(path), member, ds),
            module_type=_owner_class(name, classes),
            layout=Layout.CHANNELS_LAST if len(shape) >= 3 else Layout.AUTO,
        )
        for name, ds, shape, dtype in headers
    ]
    if ordered:
        return refs
    rank = {layer: i for i, layer in enumerate(classes)}  # the configuration's layer order
    return sorted(naturally_sorted(refs), key=lambda r: rank.get(r.name.split("/")[0], len(rank)))


__all__ = ["keras_refs"]
