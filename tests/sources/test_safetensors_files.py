"""Safetensors: single files, shards, bf16, corrupt and truncated files (real library)."""

from __future__ import annotations

import json
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest
import torch
from safetensors.numpy import save_file
from safetensors.torch import save_file as save_torch_file

from htsr.errors import SourceError
from htsr.sources import open_model
from htsr.sources.safetensors_header import read_header


def _write_sharded(directory: Path, tensors: dict[str, np.ndarray], per_shard: int) -> None:
    """A Hugging Face style sharded checkpoint, as ``save_pretrained`` writes it."""
    names = list(tensors)
    shards = [names[i : i + per_shard] for i in range(0, len(names), per_shard)]
    weight_map = {}
    for k, shard_names in enumerate(shards, start=1):
        fname = f"model-{k:05d}-of-{len(shards):05d}.safetensors"
        save_file({n: tensors[n] for n in shard_names}, directory / fname)
        weight_map |= dict.fromkeys(shard_names, fname)
    index = {"metadata": {"total_size": 0}, "weight_map": weight_map}
    (directory / "model.safetensors.index.json").write_text(json.dumps(index))


def test_single_file_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    tensors = {
        "b.weight": rng.standard_normal((20, 10)).astype(np.float32),
        "a.bias": np.zeros(10, np.float32),
    }
    save_file(tensors, tmp_path / "m.safetensors")
    source = open_model(tmp_path / "m.safetensors")
    assert [r.name for r in source.refs] == ["a.bias", "b.weight"]
    ref = source.refs[1]
    assert (ref.shape, ref.dtype) == ((20, 10), "float32")
    np.testing.assert_array_equal(ref.load(), tensors["b.weight"])


def test_natural_order_not_alphabetical(tmp_path: Path) -> None:
    tensors = {f"layers.{i}.weight": np.ones((3, 3), np.float32) for i in (0, 1, 2, 10, 11)}
    save_file(tensors, tmp_path / "m.safetensors")
    names = [r.name for r in open_model(tmp_path / "m.safetensors").refs]
    assert names == [f"layers.{i}.weight" for i in (0, 1, 2, 10, 11)]


def test_bf16_is_read_without_torch_conversion(tmp_path: Path) -> None:
    t = torch.randn(16, 8).to(torch.bfloat16)
    save_torch_file({"w": t}, tmp_path / "m.safetensors")
    (ref,) = open_model(tmp_path / "m.safetensors").refs
    assert ref.dtype == "bfloat16"
    array = ref.load()
    assert array.dtype == np.dtype(ml_dtypes.bfloat16)
    np.testing.assert_array_equal(array.astype(np.float32), t.float().numpy())


def test_sharded_directory_order_and_content(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    tensors = {
        f"model.layers.{i}.mlp.weight": rng.standard_normal((12, 6)).astype(np.float32)
        for i in range(12)
    }
    _write_sharded(tmp_path, tensors, per_shard=5)
    source = open_model(tmp_path)
    assert source.format == "safetensors-sharded"
    assert [r.name for r in source.refs] == list(tensors)
    for ref in source.refs:
        np.testing.assert_array_equal(ref.load(), tensors[ref.name])


def test_hf_save_pretrained_directory(tmp_path: Path) -> None:
    import transformers

    config = transformers.BertConfig(
        vocab_size=99,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
    )
    torch.manual_seed(0)
    model = transformers.BertModel(config)
    model.save_pretrained(tmp_path, max_shard_size="100KB")
    assert (tmp_path / "model.safetensors.index.json").exists()
    names = [r.name for r in open_model(tmp_path).refs]
    state = model.state_dict()
    assert set(names) == {n for n in state if n in names}
    assert names.index("encoder.layer.1.attention.self.query.weight") > names.index(
        "encoder.layer.0.output.dense.weight"
    )


def test_describe_reads_no_data(tmp_path: Path) -> None:
    """The header alone gives shapes: a file whose data section is garbage still describes."""
    save_file({"w": np.ones((30, 20), np.float32)}, tmp_path / "m.safetensors")
    path = tmp_path / "m.safetensors"
    data = path.read_bytes()
    path.write_bytes(data[:-100] + b"\xff" * 100)  # garbage data, same length
    header = read_header(path)
    assert header["w"].shape == (30, 20)
    assert header["w"].offset > 8


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda b: b[:4], "shorter than its 8-byte header"),
        (lambda b: b[: len(b) - 100], "truncated"),
        (lambda b: b[:8] + b"{not json" + b[17:], "not JSON"),
        (lambda b: (10**12).to_bytes(8, "little") + b[8:], "header length"),
    ],
)
def test_corrupt_files_name_the_file(tmp_path: Path, mutate, match: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "bad.safetensors"
    save_file({"w": np.ones((30, 20), np.float32)}, path)
    path.write_bytes(mutate(path.read_bytes()))
    with pytest.raises(SourceError, match=match) as info:
        open_model(path)
    assert info.value.path == str(path)
    assert str(path) in str(info.value)


def test_missing_shard_is_named(tmp_path: Path) -> None:
    tensors = {f"l.{i}.w": np.ones((4, 4), np.float32) for i in range(4)}
    _write_sharded(tmp_path, tensors, per_shard=2)
    (tmp_path / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(SourceError, match=r"model-00002-of-00002\.safetensors.*missing"):
        open_model(tmp_path)


def _index(directory: Path, weight_map: dict[str, object], name: str) -> Path:
    path = directory / name
    path.write_text(json.dumps({"weight_map": weight_map}))
    return path


@pytest.mark.parametrize(
    "index_name", ["model.safetensors.index.json", "pytorch_model.bin.index.json"]
)
@pytest.mark.parametrize(
    ("shard", "match"),
    [
        ("../outside/secret.safetensors", "outside the model directory"),
        ("ABSOLUTE", "outside the model directory"),
        ("link.safetensors", "outside the model directory"),
        (7, "not a file name"),
        (None, "not a file name"),
        ("", "not a file name"),
        ("missing.safetensors", "missing"),
        ("sub", "missing or unusable"),
    ],
)
def test_index_entries_stay_inside_the_model(
    tmp_path: Path, index_name: str, shard: object, match: str
) -> None:
    """A weight_map value must name an existing regular file inside the index's directory
    (after symlinks); otherwise SourceError naming the index and the tensor."""
    model, outside = tmp_path / "model", tmp_path / "outside"
    model.mkdir()
    outside.mkdir()
    (model / "sub").mkdir()
    save_file({"w": np.ones((4, 4), np.float32)}, outside / "secret.safetensors")
    (model / "link.safetensors").symlink_to(outside / "secret.safetensors")
    if shard == "ABSOLUTE":
        shard = str(outside / "secret.safetensors")
    index = _index(model, {"w": shard}, index_name)
    with pytest.raises(SourceError, match=match) as info:
        open_model(model)
    assert info.value.path == str(index)
    assert "'w'" in str(info.value)


def test_index_symlink_inside_the_model_is_followed(tmp_path: Path) -> None:
    save_file({"w": np.ones((4, 4), np.float32)}, tmp_path / "real.safetensors")
    (tmp_path / "alias.safetensors").symlink_to(tmp_path / "real.safetensors")
    _index(tmp_path, {"w": "alias.safetensors"}, "model.safetensors.index.json")
    assert [r.name for r in open_model(tmp_path).refs] == ["w"]
