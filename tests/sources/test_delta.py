"""Fine-tune updates W - W_base, paired by name, one pair in memory at a time."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

import htsr
from htsr.sources import open_model
from htsr.sources.delta import UnpairedRef, delta_refs


def _models(rng: np.random.Generator) -> tuple[dict, dict]:
    base = {
        "a.weight": rng.standard_normal((80, 40)).astype(np.float32),
        "b.weight": rng.standard_normal((60, 30)).astype(np.float32),
        "c.weight": rng.standard_normal((50, 20)).astype(np.float32),
        "a.bias": rng.standard_normal(80).astype(np.float32),
        "frozen.weight": rng.standard_normal((40, 30)).astype(np.float32),
    }
    tuned = {
        "frozen.weight": base["frozen.weight"].copy(),  # left frozen by the fine-tune
        "a.weight": base["a.weight"] + 0.1 * rng.standard_normal((80, 40)).astype(np.float32),
        "b.weight": rng.standard_normal((60, 31)).astype(np.float32),  # shape differs
        "new.weight": rng.standard_normal((50, 20)).astype(np.float32),  # not in base
        "a.bias": base["a.bias"] + 1,
    }
    return tuned, base


def test_analyze_with_base_analyses_the_update(global_random_seed: int) -> None:
    tuned, base = _models(np.random.default_rng(global_random_seed))
    before = {k: v.copy() for k, v in tuned.items()} | {
        "base." + k: v.copy() for k, v in base.items()
    }
    report = htsr.analyze(tuned, base=base)
    rows = report.layers.set_index("name")
    assert rows.loc["b.weight", "status"] == "skipped: shape differs (model 60x31, base 60x30)"
    assert rows.loc["new.weight", "status"] == "skipped: not in base"
    assert rows.loc["a.weight", "status"] == "ok"
    # a frozen layer is not a failure: no error row, no warning about failed layers
    assert rows.loc["frozen.weight", "status"] == "skipped: unchanged from base (W = W_base)"
    assert not rows["status"].str.startswith("error").any()
    assert "c.weight" not in rows.index  # only in the base: no row
    delta = tuned["a.weight"].astype(np.float64) - base["a.weight"].astype(np.float64)
    expected = np.sort(np.linalg.svd(delta, compute_uv=False) ** 2 / 80)
    np.testing.assert_allclose(report.esd("a.weight"), expected, rtol=1e-10)
    assert rows.loc["a.weight", "log_norm"] == pytest.approx(np.log10(np.sum(delta**2)), rel=1e-12)
    # nothing the user gave is modified
    for k, v in tuned.items():
        np.testing.assert_array_equal(v, before[k])
    for k, v in base.items():
        np.testing.assert_array_equal(v, before["base." + k])


def test_difference_is_exact_in_float64() -> None:
    # two float32 numbers differ by an exactly representable float64 number
    a = {"w": np.array([[1.0000001, 3.0], [2.0, 5.0]], dtype=np.float32)}
    b = {"w": np.array([[1.0, 3.0], [2.0, 4.0]], dtype=np.float32)}
    (ref,) = delta_refs(open_model(a).refs, open_model(b).refs)
    got = ref.load()
    assert got.dtype == np.float64
    assert got[0, 0] == np.float64(np.float32(1.0000001)) - 1.0
    assert got[1, 1] == 1.0


def test_delta_refs_pickle_and_run_in_processes(tmp_path: Path) -> None:
    tuned, base = _models(np.random.default_rng(3))
    save_file(tuned, tmp_path / "tuned.safetensors")
    save_file(base, tmp_path / "base.safetensors")
    refs = delta_refs(
        open_model(tmp_path / "tuned.safetensors").refs,
        open_model(tmp_path / "base.safetensors").refs,
    )
    clone = pickle.loads(pickle.dumps(refs))
    by_name = {r.name: r for r in clone}
    assert isinstance(by_name["new.weight"], UnpairedRef)
    np.testing.assert_array_equal(
        by_name["a.weight"].load(),
        tuned["a.weight"].astype(np.float64) - base["a.weight"].astype(np.float64),
    )
    here = htsr.analyze(tmp_path / "tuned.safetensors", base=tmp_path / "base.safetensors")
    pooled = htsr.analyze(
        tmp_path / "tuned.safetensors", base=tmp_path / "base.safetensors", executor=1
    )
    np.testing.assert_array_equal(here.esd("a.weight"), pooled.esd("a.weight"))
    assert list(here.layers["status"]) == list(pooled.layers["status"])
