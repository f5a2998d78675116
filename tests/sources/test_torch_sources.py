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
