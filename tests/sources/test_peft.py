"""LoRA adapters written by the real ``peft`` library on tiny local torch models (no download)."""

from __future__ import annotations

import json
import math
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from peft import LoraConfig, get_peft_model

import htsr
from htsr.errors import SourceError
from htsr.sources import open_model
from htsr.sources.peft import LowRankRef

#: PEFT merges in float32: its merged weights carry ~1e-7 relative round-off.
F32_RTOL = 1e-5


class Tiny(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = torch.nn.Embedding(50, 24)
        self.fc1 = torch.nn.Linear(24, 60)
        self.conv = torch.nn.Conv2d(3, 16, 3)
        self.fc2 = torch.nn.Linear(60, 40)


def _adapter(
    tmp_path: Path, *, seed: int = 0, safe: bool = True, **config: object
) -> tuple[Path, dict, dict]:
    """Save a PEFT adapter of ``Tiny``; return its path, the base and PEFT's merged state."""
    torch.manual_seed(seed)
    model = Tiny()
    base = {k: v.detach().clone() for k, v in model.state_dict().items()}
    options = {"r": 6, "lora_alpha": 12, "target_modules": ["fc1", "fc2"]} | config
    peft_model = get_peft_model(model, LoraConfig(init_lora_weights=False, **options))
    path = tmp_path / "adapter"
    peft_model.save_pretrained(str(path), safe_serialization=safe)
    merged = {k: v.detach().clone() for k, v in peft_model.merge_and_unload().state_dict().items()}
    return path, base, merged


def _top_evals(delta: torch.Tensor, r: int) -> np.ndarray:
    w = delta.double().numpy().reshape(delta.shape[0], -1) if delta.ndim == 2 else None
    assert w is not None
    s = np.linalg.svd(w, compute_uv=False)
    return np.sort(s**2 / max(w.shape))[-r:]


def test_lora_spectrum_against_peft_merge(tmp_path: Path) -> None:
    path, base, merged = _adapter(tmp_path)
    report = htsr.analyze(path)
    rows = report.layers.set_index("name")
    assert list(rows.index) == ["fc1.weight", "fc2.weight"]  # named like the base module
    for name, (n, m) in {"fc1.weight": (60, 24), "fc2.weight": (60, 40)}.items():
        expected = _top_evals(merged[name] - base[name], 6)
        np.testing.assert_allclose(report.esd(name), expected, rtol=F32_RTOL)
        assert (rows.loc[name, "N"], rows.loc[name, "M"]) == (n, m)
        assert rows.loc[name, "num_evals"] == 6
        assert rows.loc[name, "hard_rank"] == 6  # hard_rank = r
        assert rows.loc[name, "status"] == "ok"


def test_rslora_and_alpha_pattern_scaling(tmp_path: Path) -> None:
    plain, base, _ = _adapter(tmp_path / "a")
    rs, _, merged = _adapter(
        tmp_path / "b", use_rslora=True, alpha_pattern={"fc2": 3}, rank_pattern={"fc2": 4}
    )
    cfg = json.loads((rs / "adapter_config.json").read_text())
    assert cfg["use_rslora"] and cfg["alpha_pattern"] == {"fc2": 3}
    report = htsr.analyze(rs)
    # rsLoRA: scaling alpha / sqrt(r); fc2 has its own alpha 3 and rank 4 (PEFT's patterns)
    for name, r in (("fc1.weight", 6), ("fc2.weight", 4)):
        np.testing.assert_allclose(
            report.esd(name), _top_evals(merged[name] - base[name], r), rtol=F32_RTOL
        )
    refs = {r.name: r for r in open_model(rs).refs}
    assert isinstance(refs["fc2.weight"], LowRankRef)
    assert refs["fc2.weight"].rank == 4
    clone = pickle.loads(pickle.dumps(refs["fc2.weight"]))  # process and Dask executors
    np.testing.assert_array_equal(clone.load(), refs["fc2.weight"].load())
    assert refs["fc2.weight"].scaling == pytest.approx(3 / math.sqrt(4))
    assert refs["fc1.weight"].scaling == pytest.approx(12 / math.sqrt(6))
    assert {r.name: r for r in open_model(plain).refs}["fc1.weight"].scaling == 12 / 6


def test_with_base_merged_rows_and_missing_base_layer(tmp_path: Path) -> None:
    path, base, merged = _adapter(tmp_path)
    partial_base = {k: v for k, v in base.items() if not k.startswith("fc2")}
    report = htsr.analyze(path, base=partial_base)
    rows = report.layers.set_index("name")
    assert list(rows.index) == [
        "fc1.weight",
        "fc1.weight:merged",
        "fc2.weight",
        "fc2.weight:merged",
    ]
    assert rows.loc["fc2.weight:merged", "status"] == "skipped: not in base"
    assert rows.loc["fc2.weight", "status"] == "ok"  # the update itself needs no base
    w = merged["fc1.weight"].double().numpy()
    expected = np.sort(np.linalg.svd(w, compute_uv=False) ** 2 / 60)
    np.testing.assert_allclose(report.esd("fc1.weight:merged"), expected, rtol=F32_RTOL)
    assert rows.loc["fc1.weight:merged", "num_evals"] == 24


def test_bin_adapter_and_conv_and_embedding(tmp_path: Path) -> None:
    path, base, merged = _adapter(tmp_path, target_modules=["emb", "conv", "fc1"], safe=False)
    assert (path / "adapter_model.bin").is_file()
    report = htsr.analyze(path)
    rows = report.layers.set_index("name")
    assert rows.loc["conv.weight", "kind"] == "conv2d"
    assert rows.loc["emb.weight", "kind"] == "embedding"
    # the convolution update is materialised and its 9 slices pooled like any conv layer
    delta = (merged["conv.weight"] - base["conv.weight"]).double().numpy()
    slices = np.moveaxis(delta.reshape(16, 3, -1), -1, 0)
    expected = np.sort(
        np.concatenate([np.linalg.svd(s, compute_uv=False) ** 2 / 16 for s in slices])
    )
    np.testing.assert_allclose(report.esd("conv.weight"), expected, rtol=1e-4, atol=1e-12)
    emb = _top_evals(merged["emb.weight"] - base["emb.weight"], 6)
    np.testing.assert_allclose(report.esd("emb.weight"), emb, rtol=F32_RTOL)


def test_fan_in_fan_out_transposes_the_update(tmp_path: Path) -> None:
    from transformers.pytorch_utils import Conv1D  # GPT-2's (in, out) dense layer

    class Gpt2Like(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c_attn = Conv1D(48, 20)  # weight stored (in=20, out=48)

    torch.manual_seed(1)
    model = Gpt2Like()
    base = {k: v.detach().clone() for k, v in model.state_dict().items()}
    cfg = LoraConfig(
        r=4, lora_alpha=8, target_modules=["c_attn"], fan_in_fan_out=True, init_lora_weights=False
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peft_model = get_peft_model(model, cfg)
    peft_model.save_pretrained(str(tmp_path / "gpt"))
    merged = peft_model.merge_and_unload().state_dict()
    ref = open_model(tmp_path / "gpt").refs[0]
    assert ref.shape == (20, 48)  # like the base weight
    np.testing.assert_allclose(
        ref.load(), (merged["c_attn.weight"] - base["c_attn.weight"]).double().numpy(), atol=1e-6
    )
    report = htsr.analyze(tmp_path / "gpt", base=base)
    assert report.layers.set_index("name").loc["c_attn.weight:merged", "status"] == "ok"


def test_adapter_iv(tmp_path: Path) -> None:
    path, _, _ = _adapter(tmp_path)
    cfg = json.loads((path / "adapter_config.json").read_text())
    (path / "adapter_config.json").write_text(json.dumps(cfg | {"use_dora": True}))
    with pytest.raises(SourceError, match="DoRA"):
        htsr.analyze(path)
    (path / "adapter_config.json").write_text("{not json")
    with pytest.raises(SourceError, match=r"adapter_config\.json.*not JSON"):
        htsr.analyze(path)
    (path / "adapter_config.json").write_text(json.dumps(cfg))
    from safetensors.numpy import load_file, save_file

    tensors = load_file(path / "adapter_model.safetensors")
    del tensors["base_model.model.fc2.lora_B.weight"]
    save_file(tensors, path / "adapter_model.safetensors")
    with pytest.raises(SourceError, match="'fc2' has no lora_B"):
        htsr.analyze(path)
    (path / "adapter_model.safetensors").unlink()
    with pytest.raises(SourceError, match="holds no adapter_model"):
        htsr.analyze(path)


def test_untrained_adapter_rows_are_skipped(tmp_path: Path) -> None:
    torch.manual_seed(0)
    peft_model = get_peft_model(Tiny(), LoraConfig(r=4, target_modules=["fc1", "fc2"]))
    path = tmp_path / "init"
    peft_model.save_pretrained(str(path))  # PEFT initialises B = 0: the update is zero
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not counted as failed layers
        report = htsr.analyze(path)
    statuses = report.layers.set_index("name")["status"]
    assert len(statuses) == 2
    assert statuses.str.startswith("skipped: zero update").all(), statuses


def test_distances_of_an_adapter_from_its_base(tmp_path: Path) -> None:
    path, base, merged = _adapter(tmp_path)
    d = htsr.distances(path, base).set_index("name")
    for name in ("fc1.weight", "fc2.weight"):
        delta = (merged[name] - base[name]).double()
        expected = float(delta.norm() / base[name].double().norm())
        assert d.loc[name, "relative_distance"] == pytest.approx(expected, rel=F32_RTOL)
