"""GGUF: real files written by ``gguf.GGUFWriter``, checked against ``gguf.GGUFReader``."""

from __future__ import annotations

import sys
from pathlib import Path

import gguf
import numpy as np
import pytest
from gguf import GGMLQuantizationType as T
from gguf import quants

import htsr
from fixtures.spectra import assert_same_esd
from htsr.errors import MissingExtraError, SourceError
from htsr.sources import gguf as gguf_source
from htsr.sources import open_model

#: (rows = out, cols = in): non-square, cols a multiple of the K-quant block (256).
SHAPE = (48, 256)
#: Types ``gguf.quants.quantize`` writes from float32.
QUANTIZED = (T.F32, T.F16, T.BF16, T.Q8_0, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.MXFP4, T.TQ2_0)
#: Types only dequantised by the package (K-quants, IQ): written as raw blocks, with their
#: float16 scale fields (byte offsets in a block, from ggml-common.h) set to sane values.
RAW = {T.Q2_K: (80, 82), T.Q4_K: (0, 2), T.Q6_K: (208,), T.IQ4_NL: (0,)}


def _raw_blocks(qtype: T, rng: np.random.Generator) -> np.ndarray:
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    data = rng.integers(0, 256, size=(SHAPE[0], SHAPE[1] // block, size), dtype=np.uint8)
    for offset in RAW[qtype]:
        data[:, :, offset : offset + 2] = np.frombuffer(np.float16(0.01).tobytes(), np.uint8)
    return data.reshape(SHAPE[0], -1)


def _write(path: Path, tensors: dict[str, tuple[np.ndarray, T | None]]) -> None:
    writer = gguf.GGUFWriter(path, "llama")
    writer.add_block_count(1)
    for name, (data, raw_dtype) in tensors.items():
        writer.add_tensor(name, data, raw_dtype=raw_dtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    rng = np.random.default_rng(0)
    weight = rng.standard_normal(SHAPE).astype(np.float32)
    tensors: dict[str, tuple[np.ndarray, T | None]] = {}
    for i, qtype in enumerate(QUANTIZED):
        data = quants.quantize(weight, qtype)
        tensors[f"blk.{i}.ffn_up.weight"] = (data, None if qtype in (T.F32, T.F16) else qtype)
    for qtype in RAW:
        tensors[f"blk.0.attn_{qtype.name.lower()}.weight"] = (_raw_blocks(qtype, rng), qtype)
    tensors["token_embd.weight"] = (weight, None)
    tensors["blk.0.attn_q.weight"] = (weight[:, :64].copy(), None)
    experts = rng.standard_normal((4, 32, 64)).astype(np.float32)
    tensors["blk.0.ffn_up_exps.weight"] = (experts, None)
    tensors["blk.0.attn_norm.weight"] = (np.ones(256, np.float32), None)
    path = tmp_path_factory.mktemp("gguf") / "model.gguf"
    _write(path, tensors)
    return path, weight


def _library_tensors(path: Path) -> dict[str, tuple[np.ndarray, str]]:
    """What the gguf package itself reads back: dequantised, with its type name."""
    reader = gguf.GGUFReader(path)
    return {
        t.name: (quants.dequantize(t.data, t.tensor_type), t.tensor_type.name)
        for t in reader.tensors
    }


def test_every_type_matches_the_library(model_file: tuple[Path, np.ndarray]) -> None:
    path, _ = model_file
    expected = _library_tensors(path)
    report = htsr.analyze(path)
    rows = report.layers.set_index("name")
    assert list(rows.index) == list(expected)  # file order, llama.cpp names kept
    for name, (array, type_name) in expected.items():
        assert rows.loc[name, "quant_type"] == type_name
        if array.ndim == 1:
            assert rows.loc[name, "status"].startswith("skipped: 1-D")
            continue
        assert rows.loc[name, "status"] == "ok", (name, rows.loc[name, "status"])
        assert np.isfinite(array).all()
        assert_same_esd(report, name, array, channels_last=True)
    # the K-quant and IQ blocks were decoded, not read as zeros
    assert report.layers.set_index("name").loc["blk.0.attn_q4_k.weight", "lambda_max"] > 0


def test_dims_are_reversed_into_numpy_order(model_file: tuple[Path, np.ndarray]) -> None:
    path, weight = model_file
    refs = {r.name: r for r in open_model(path).refs}
    token = refs["token_embd.weight"]  # stored ne = [256, 48]
    assert token.shape == SHAPE
    np.testing.assert_array_equal(token.load(), weight)
    assert refs["blk.1.ffn_up.weight"].dtype == "float16"
    assert refs["blk.2.ffn_up.weight"].dtype == "bfloat16"  # BF16, widened exactly on load
    assert refs["blk.3.ffn_up.weight"].dtype == "float32"  # Q8_0, dequantised
    assert refs["blk.0.ffn_up_exps.weight"].shape == (4, 32, 64)


def test_kinds_from_llama_cpp_names(model_file: tuple[Path, np.ndarray]) -> None:
    rows = htsr.describe(model_file[0]).set_index("name")
    assert rows.loc["token_embd.weight", "kind"] == "embedding"
    assert rows.loc["blk.0.attn_q.weight", "kind"] == "attention"
    assert rows.loc["blk.0.ffn_up.weight", "kind"] == "dense"
    experts = rows.loc["blk.0.ffn_up_exps.weight"]  # (n_expert, out, in): one matrix each
    assert (experts["kind"], experts["num_slices"], experts["N"], experts["M"]) == (
        "dense",
        4,
        64,
        32,
    )


def test_describe_reads_only_the_header(
    model_file: tuple[Path, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_data(*args: object) -> np.ndarray:
        raise AssertionError("tensor data read")

    monkeypatch.setattr(gguf_source, "_load", no_data)
    rows = htsr.describe(model_file[0])
    assert (rows["status"] == "ok").sum() == len(QUANTIZED) + len(RAW) + 3


def _patch_type(data: bytearray, name: str, type_id: int) -> None:
    """Rewrite a tensor's ggml type in its header record (name, n_dims, dims, type)."""
    at = data.index(name.encode()) + len(name)
    n_dims = int.from_bytes(data[at : at + 4], "little")
    at += 4 + 8 * n_dims
    data[at : at + 4] = type_id.to_bytes(4, "little")


def test_types_the_package_cannot_dequantize_get_their_row(
    model_file: tuple[Path, np.ndarray], tmp_path: Path
) -> None:
    data = bytearray(model_file[0].read_bytes())
    _patch_type(data, "blk.3.ffn_up.weight", 99)  # no such ggml type
    _patch_type(data, "blk.4.ffn_up.weight", int(T.Q8_K))  # known, no dequantiser
    path = tmp_path / "odd.gguf"
    path.write_bytes(bytes(data))
    rows = htsr.analyze(path).layers.set_index("name")
    assert rows.loc["blk.3.ffn_up.weight", "status"] == (
        "skipped: ggml type 99 (unknown to the gguf package)"
    )
    assert rows.loc["blk.4.ffn_up.weight", "status"] == "skipped: Q8_K (no dequantiser in gguf)"
    assert rows.loc["blk.5.ffn_up.weight", "status"] == "ok"  # the others go on


@pytest.mark.parametrize(
    ("cut", "match"),
    [
        (lambda b: b[: len(b) - 1000], "truncated GGUF file: tensor"),
        (lambda b: b[:100], "truncated or corrupt GGUF header"),
        (lambda b: b"GGML" + b[4:], "not a GGUF file"),
        (lambda b: b[:4] + (7).to_bytes(4, "little") + b[8:], "unsupported GGUF version 7"),
    ],
)
def test_truncated_or_corrupt_file_iv(
    model_file: tuple[Path, np.ndarray], tmp_path: Path, cut: object, match: str
) -> None:
    path = tmp_path / "bad.gguf"
    path.write_bytes(cut(model_file[0].read_bytes()))  # type: ignore[operator]
    with pytest.raises(SourceError, match=match) as info:
        open_model(path)
    assert info.value.path == str(path)


def test_directory_with_a_gguf_file(model_file: tuple[Path, np.ndarray]) -> None:
    source = open_model(model_file[0].parent)
    assert source.refs[0].name == "blk.0.ffn_up.weight"
    assert source.format == "directory"


def test_missing_extra_iv(
    model_file: tuple[Path, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "gguf", None)  # as if not installed
    with pytest.raises(MissingExtraError, match=r"reading a GGUF file .*htsr\[formats\]"):
        open_model(model_file[0])
