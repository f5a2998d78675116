"""PyTorch modules, state dicts and checkpoint files (written with the real torch.save)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from fixtures import zoo
from htsr.errors import SourceError
from htsr.sources import natural_key, open_model


def test_module_order_kinds_and_tied_weights() -> None:
    source = open_model(zoo.tied_weights())
    names = [r.name for r in source.refs]
    # The tied matrix appears once, under its first name.
    assert names == ["0.weight", "1.weight", "1.bias", "2.bias"]
    assert source.refs[0].module_type == "Embedding"


def test_state_dict_in_memory_keeps_order() -> None:
    model = zoo.mlp()
    refs = open_model(model.state_dict()).refs
    assert [r.name for r in refs] == list(model.state_dict())


@pytest.mark.parametrize("nest", [None, "state_dict", "model"])
def test_checkpoint_file(tmp_path: Path, nest: str | None) -> None:
    model = zoo.mlp()
    state = model.state_dict()
    path = tmp_path / "ckpt.pt"
    torch.save(state if nest is None else {nest: state, "epoch": 3}, path)
    refs = open_model(path).refs
    assert [r.name for r in refs] == list(state)
    np.testing.assert_array_equal(refs[0].load(), state["0.weight"].numpy())


def test_legacy_checkpoint_without_mmap(tmp_path: Path) -> None:
    state = zoo.mlp().state_dict()
    path = tmp_path / "old.pth"
    torch.save(state, path, _use_new_zipfile_serialization=False)
    assert len(open_model(path).refs) == len(state)


def test_pytorch_bin_shards(tmp_path: Path) -> None:
    import json

    state = zoo.mlp().state_dict()
    names = list(state)
    torch.save({n: state[n] for n in names[:3]}, tmp_path / "pytorch_model-00001-of-00002.bin")
    torch.save({n: state[n] for n in names[3:]}, tmp_path / "pytorch_model-00002-of-00002.bin")
    weight_map = {
        n: f"pytorch_model-0000{1 if i < 3 else 2}-of-00002.bin" for i, n in enumerate(names)
    }
    (tmp_path / "pytorch_model.bin.index.json").write_text(json.dumps({"weight_map": weight_map}))
    # Shard indexes list names alphabetically; htsr orders them naturally (2 before 10).
    assert [r.name for r in open_model(tmp_path).refs] == sorted(names, key=natural_key)


class Arbitrary:
    """Any class: unpickling it would run arbitrary code, so weights_only refuses it."""


def test_unsafe_pickle_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.pt"
    torch.save({"w": torch.ones(3, 3), "obj": Arbitrary()}, path)
    with pytest.raises(SourceError, match=r"evil\.pt"):
        open_model(path)


def test_truncated_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "cut.pt"
    torch.save(zoo.mlp().state_dict(), path)
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(SourceError, match=r"cut\.pt: corrupt or truncated"):
        open_model(path)


def test_checkpoint_without_tensors(tmp_path: Path) -> None:
    path = tmp_path / "meta.pt"
    torch.save({"epoch": 3, "lr": 0.1}, path)
    with pytest.raises(SourceError, match="no state dict found"):
        open_model(path)


def test_zip_checkpoint_is_read_lazily_and_exactly(tmp_path: Path) -> None:
    """Views, transposes, expanded and low-precision tensors read without torch.load."""
    base = torch.randn(6, 8)
    state = {
        "bf16": torch.randn(3, 4).to(torch.bfloat16),
        "param": torch.nn.Parameter(torch.randn(2, 2)),
        "transposed": base.t(),
        "slice": base[2:5, 1:7],
        "expanded": torch.ones(3, 1).expand(3, 4),
        "fp8": torch.randn(4, 4).to(torch.float8_e4m3fn),
        "empty": torch.zeros(0, 5),
    }
    path = tmp_path / "m.pt"
    torch.save(state, path)
    refs = {r.name: r for r in open_model(path).refs}
    assert list(refs) == list(state)
    for name, tensor in state.items():
        ref = refs[name]
        assert ref.shape == tuple(tensor.shape)
        assert ref.dtype == str(tensor.dtype).removeprefix("torch.")
        expected = tensor.detach().float().numpy()
        np.testing.assert_array_equal(ref.load().astype(np.float32), expected)


def test_text_file_named_pt(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    path.write_text("101 this is not a model\n")
    with pytest.raises(SourceError, match=r"model\.pt: not a PyTorch checkpoint"):
        open_model(path)


def test_torch_advice_is_not_passed_on(tmp_path: Path) -> None:
    path = tmp_path / "evil.pt"
    torch.save({"w": torch.ones(3, 3), "obj": Arbitrary()}, path)
    with pytest.raises(SourceError) as info:
        open_model(path)
    assert "weights_only" not in str(info.value)


def _write_zip_pickle(path: Path, pickle_bytes: bytes, members: dict[str, bytes]) -> None:
    import zipfile

    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", pickle_bytes)
        for name, data in members.items():
            z.writestr(f"archive/data/{name}", data)


def test_payload_in_data_pkl_never_runs(tmp_path: Path) -> None:
    """A data.pkl calling os.system is refused (by us, then by torch's weights-only load)."""
    marker = tmp_path / "pwned"
    payload = b"cos\nsystem\n(V" + f"touch {marker}".encode() + b"\ntR."
    path = tmp_path / "evil.pt"
    _write_zip_pickle(path, payload, {})
    with pytest.raises(SourceError, match=r"evil\.pt"):
        open_model(path)
    assert not marker.exists()


def test_build_cannot_forge_a_record(tmp_path: Path) -> None:
    """BUILD after a tensor rebuild sets fields of our record: they are checked again, so a
    stride cannot point outside the storage."""
    import pickle

    good = tmp_path / "good.pt"
    torch.save({"w": torch.ones(2, 2)}, good)
    import zipfile

    with zipfile.ZipFile(good) as z:
        prefix = z.namelist()[0].split("/")[0]
        raw = z.read(f"{prefix}/data.pkl")
        storage = z.read(f"{prefix}/data/0")
    # Insert BUILD (state: (None, {"stride": (10**9, 1)})) right after the tensor's REDUCE.
    forged = pickle.dumps((None, {"stride": (10**9, 1)}), protocol=2)[2:-1]
    at = raw.index(b"R", raw.index(b"_rebuild_tensor_v2")) + 1
    at = raw.index(b"R", at) + 1  # the outer REDUCE (the inner one builds backward hooks)
    path = tmp_path / "forged.pt"
    _write_zip_pickle(path, raw[:at] + forged + b"b" + raw[at:], {"0": storage})
    with pytest.raises(SourceError, match=r"forged\.pt.*(strides|malformed|corrupt)"):
        open_model(path)


def test_corrupt_storage_sizes(tmp_path: Path) -> None:
    import zipfile

    good = tmp_path / "good.pt"
    torch.save({"w": torch.ones(4, 4)}, good)
    with zipfile.ZipFile(good) as z:
        prefix = z.namelist()[0].split("/")[0]
        raw = z.read(f"{prefix}/data.pkl")
    path = tmp_path / "short.pt"
    _write_zip_pickle(path, raw, {"0": b"\0" * 8})  # 16 floats announced, 2 stored
    with pytest.raises(SourceError, match=r"short\.pt.*holds 8 of 64 bytes"):
        open_model(path)
