"""Resumable runs: every finished layer is kept in the cache directory as it completes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from safetensors.numpy import save_file

import htsr
import htsr.compute
from htsr.cache import CachedPart, LayerCache, cache_key
from htsr.spectrum import esd

NUM_LAYERS = 8


def _write(path: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    tensors = {
        f"layers.{i}.weight": rng.standard_normal((90, 30 + 4 * i)).astype(np.float32)
        for i in range(NUM_LAYERS)
    }
    tensors["layers.2.bias"] = np.zeros(30, np.float32)
    save_file(tensors, path)
    return path


@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    return _write(tmp_path / "m.safetensors", seed=3)


class StopRunError(Exception):
    pass


def _stop_after(n: int):  # type: ignore[no-untyped-def]
    def progress(done: int, total: int, name: str) -> None:
        if name and done + 1 >= n:
            raise StopRunError(name)

    return progress


@pytest.fixture
def esd_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the layers whose ESD is computed (the serial run calls it in this process)."""
    calls: list[str] = []

    def counting_esd(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(kwargs["name"])
        return esd(*args, **kwargs)

    monkeypatch.setattr(htsr.compute, "esd", counting_esd)
    return calls


def test_interrupted_run_resumes_with_identical_rows(
    checkpoint: Path, tmp_path: Path, esd_calls: list[str]
) -> None:
    cache = tmp_path / "cache"
    reference = htsr.analyze(checkpoint, randomize=True, rng=1).layers
    esd_calls.clear()
    with pytest.raises(StopRunError):
        htsr.analyze(checkpoint, randomize=True, rng=1, cache=cache, progress=_stop_after(4))
    # the bias row is decided from metadata first; then 3 layers finish before the stop
    assert len(list(cache.glob("*.npz"))) == 3
    assert not list(cache.glob(".tmp-*"))
    esd_calls.clear()
    resumed = htsr.analyze(checkpoint, randomize=True, rng=1, cache=cache).layers
    # only the 5 layers not in the cache are computed again (each: real and randomized ESD)
    assert len(esd_calls) == 2 * (NUM_LAYERS - 3)
    pd.testing.assert_frame_equal(resumed, reference, check_exact=True)
    esd_calls.clear()
    again = htsr.analyze(checkpoint, randomize=True, rng=1, cache=cache)
    assert esd_calls == []
    pd.testing.assert_frame_equal(again.layers, reference, check_exact=True)
    assert again.result("layers.0.weight").power_law is not None  # full results, not rows only


def test_changed_options_and_files_invalidate(
    checkpoint: Path, tmp_path: Path, esd_calls: list[str]
) -> None:
    cache = tmp_path / "cache"
    htsr.analyze(checkpoint, cache=cache)
    esd_calls.clear()
    htsr.analyze(checkpoint, cache=cache, solver_dtype="float32")  # another option: all new
    assert len(esd_calls) == NUM_LAYERS
    esd_calls.clear()
    htsr.analyze(checkpoint, cache=cache, layers=r"layers\.[0-3]\.")  # filters only: all cached
    assert esd_calls == []
    _write(checkpoint, seed=4)  # same names and shapes, new data
    os.utime(checkpoint, ns=(1, 1))  # and a different mtime even on a coarse clock
    fresh = htsr.analyze(checkpoint).layers
    esd_calls.clear()
    rerun = htsr.analyze(checkpoint, cache=cache).layers
    assert len(esd_calls) == NUM_LAYERS
    pd.testing.assert_frame_equal(rerun, fresh, check_exact=True)


def test_in_memory_models_are_keyed_by_content(tmp_path: Path, esd_calls: list[str]) -> None:
    rng = np.random.default_rng(0)
    model = {"a": rng.standard_normal((40, 20)), "b": rng.standard_normal((40, 20))}
    first = htsr.analyze(model, cache=tmp_path).layers
    esd_calls.clear()
    model["b"] = model["b"] * 2  # new content under the same name
    second = htsr.analyze(model, cache=tmp_path).layers
    assert esd_calls == ["b"]
    assert second.loc[0, "lambda_max"] == first.loc[0, "lambda_max"]
    np.testing.assert_allclose(second.loc[1, "lambda_max"], 4 * first.loc[1, "lambda_max"])


def test_corrupt_or_foreign_entries_are_misses(tmp_path: Path) -> None:
    cache = LayerCache.open(tmp_path)
    spectrum = esd(np.eye(12) * 2.0)
    key = cache_key(["f", 1, 2], "w", {"pool": True})
    cache.put(key, [CachedPart("w", spectrum, None)])
    (got,) = cache.get(key) or []
    np.testing.assert_array_equal(got.spectrum.evals, spectrum.evals)
    assert cache.get(cache_key(["f", 1, 3], "w", {"pool": True})) is None
    (entry,) = tmp_path.glob("*.npz")
    entry.write_bytes(entry.read_bytes()[:50])  # truncated by a crash of another tool
    assert cache.get(key) is None


def test_localization_round_trips_and_an_entry_without_it_is_a_miss(tmp_path: Path) -> None:
    cache = LayerCache.open(tmp_path)
    spectrum = esd(np.eye(12) * 2.0)
    key = cache_key(["f", 1, 2], "w", {"pool": True})
    cache.put(key, [CachedPart("w", spectrum, None, 3.1, 17.5), CachedPart("v", spectrum, None)])
    got = cache.get(key) or []
    assert [(p.element_mu, p.localization) for p in got[:1]] == [(3.1, 17.5)]
    assert np.isnan(got[1].localization)
    # an entry of the previous layout (no localization field) is never read as one with it
    (entry,) = tmp_path.glob("*.npz")
    with np.load(entry, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays["meta"][()]))
    for part in meta["parts"]:
        del part["localization"]
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(entry, **arrays)
    assert cache.get(key) is None
    # and the format version is part of every key
    assert json.loads(key)["format"] == 4


def test_cache_iv(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match=r"`cache` .* cannot be used as a directory"):
        htsr.analyze({"w": np.eye(20)}, cache=tmp_path / "file")
