"""Flax/JAX: ``flax.linen`` parameters in memory and in ``.msgpack`` files written by
``flax.serialization.to_bytes``, checked against ``flax.serialization.msgpack_restore``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import msgpack
import numpy as np
import pytest
from flax import serialization, traverse_util

import htsr
from fixtures.spectra import assert_same_esd
from htsr.errors import MissingExtraError, SourceError
from htsr.sources import open_model


class _Net(nn.Module):
    """Conv (3x3, 4 -> 8 channels: too small for the shape to tell the layout) and Dense."""

    @nn.compact
    def __call__(self, x: Any) -> Any:
        x = nn.Conv(features=8, kernel_size=(3, 3), name="Conv_0")(x)
        x = x.reshape((x.shape[0], -1))
        return nn.Dense(30, name="Dense_1")(nn.Dense(50, name="Dense_0")(x))


@pytest.fixture(scope="module")
def variables() -> dict[str, Any]:
    params = _Net().init(jax.random.PRNGKey(0), jnp.ones((1, 6, 6, 4)))
    tree = {"params": params["params"], "step": 7}
    tree["params"]["Dense_1"]["kernel"] = tree["params"]["Dense_1"]["kernel"].astype(jnp.bfloat16)
    return tree


def _flat_library(path: Path) -> dict[str, Any]:
    """What Flax itself reads back from the file, flattened with Flax's own helper."""
    restored = serialization.msgpack_restore(path.read_bytes())
    return traverse_util.flatten_dict(restored, sep="/")


def _check(report: htsr.Report, expected: dict[str, Any]) -> None:
    rows = report.layers.set_index("name")
    assert list(rows.index) == list(expected)  # /-joined names, in the tree's order
    for name, value in expected.items():
        if np.ndim(value) >= 2:
            assert rows.loc[name, "status"] == "ok"
            array = np.asarray(value, dtype=np.float64)
            assert_same_esd(report, name, array, channels_last=True)
    conv = rows.loc["params/Conv_0/kernel"]  # (3, 3, 4, 8) channels last: 9 slices of 4 x 8
    assert (conv["kind"], conv["num_slices"], conv["N"], conv["M"]) == ("conv2d", 9, 8, 4)
    assert rows.loc["params/Dense_0/kernel", "shape"] == "288x50"  # (in, out) = (6*6*8, 50)
    assert rows.loc["params/Dense_1/kernel", "dtype"] == "bfloat16"
    assert rows.loc["step", "status"] == "skipped: not an array (int)"


def test_msgpack_file_matches_flax(variables: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "params.msgpack"
    path.write_bytes(serialization.to_bytes(variables))
    expected = _flat_library(path)
    _check(htsr.analyze(path), expected)
    refs = {r.name: r for r in open_model(path).refs}
    for name, value in expected.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(refs[name].load(), value)


def test_nested_dict_in_memory(variables: dict[str, Any]) -> None:
    expected = traverse_util.flatten_dict(variables, sep="/")
    _check(htsr.analyze(variables), expected)


def test_chunked_arrays(
    variables: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(serialization, "MAX_CHUNK_SIZE", 4096)  # Flax chunks arrays > 1 GiB
    path = tmp_path / "chunked.msgpack"
    path.write_bytes(serialization.to_bytes(variables))
    assert b"__msgpack_chunked_array__" in path.read_bytes()
    _check(htsr.analyze(path), _flat_library(path))


def test_object_dtype_is_refused_iv(tmp_path: Path) -> None:
    """A forged array of dtype ``object`` is never decoded (no code from the file runs)."""
    payload = msgpack.packb(((2,), "object", b"\x80\x04N."), use_bin_type=True)
    path = tmp_path / "forged.msgpack"
    path.write_bytes(msgpack.packb({"w": msgpack.ExtType(1, payload)}, use_bin_type=True))
    with pytest.raises(SourceError, match=r"corrupt array in \.msgpack file"):
        open_model(path)


@pytest.mark.parametrize(
    ("cut", "match"),
    [
        (lambda b: b[: len(b) // 2], "truncated or corrupt .msgpack file"),
        (lambda b: b"\x93\x01\x02\x03", "not a Flax .msgpack file"),
        (lambda b: b + b"\x00", "trailing bytes"),
    ],
)
def test_truncated_or_corrupt_file_iv(
    variables: dict[str, Any], tmp_path: Path, cut: Any, match: str
) -> None:
    path = tmp_path / "bad.msgpack"
    path.write_bytes(cut(serialization.to_bytes(variables)))
    with pytest.raises(SourceError, match=match) as e:
        open_model(path)
    assert e.value.path == str(path)


def test_missing_extra_iv(
    variables: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "params.msgpack"
    path.write_bytes(serialization.to_bytes(variables))
    monkeypatch.setitem(sys.modules, "msgpack", None)  # as if not installed
    with pytest.raises(MissingExtraError, match=r"reading a Flax \.msgpack file .*htsr\[formats\]"):
        open_model(path)
