"""Per-layer distances of a fine-tune from its base, on matrices of known relation."""

from __future__ import annotations

import numpy as np
import pytest

import htsr
from htsr.distances import subspace_overlap

#: float64 eigen-solvers on small matrices.
TOL = 1e-9


def test_scaled_model_known_distances(rng: np.random.Generator) -> None:
    w = rng.standard_normal((90, 45))
    conv = rng.standard_normal((8, 4, 3, 3))
    d = htsr.distances({"fc": 1.5 * w, "conv": 2 * conv}, {"fc": w, "conv": conv}).set_index("name")
    # W = c W0: ||dW|| = (c - 1)||W0||, the ESD moves by log10(c^2) decades, same subspaces
    assert d.loc["fc", "relative_distance"] == pytest.approx(0.5, rel=TOL)
    assert d.loc["fc", "frobenius_distance"] == pytest.approx(0.5 * np.linalg.norm(w), rel=TOL)
    assert d.loc["fc", "spectral_norm_ratio"] == pytest.approx(1.5, rel=TOL)
    assert d.loc["fc", "relative_spectral_distance"] == pytest.approx(0.5, rel=TOL)
    assert d.loc["fc", "esd_distance"] == pytest.approx(np.log10(1.5**2), rel=TOL)
    assert d.loc["fc", "subspace_overlap"] == pytest.approx(1.0, abs=TOL)
    assert d.loc["fc", "k"] == 10
    assert d.loc["conv", "esd_distance"] == pytest.approx(np.log10(4), rel=TOL)
    assert d.loc["conv", "spectral_norm_ratio"] == pytest.approx(2, rel=TOL)


def test_subspace_overlap_known_cases(rng: np.random.Generator) -> None:
    q, _ = np.linalg.qr(rng.standard_normal((40, 40)))
    s = np.diag(np.linspace(10, 1, 20))
    a = q[:, :20] @ s  # right singular vectors: the identity's first columns
    rotated = a[:, ::-1]  # columns reversed: top 5 directions become the bottom 5
    assert subspace_overlap(a, a, k=5) == pytest.approx(1.0, abs=TOL)
    assert subspace_overlap(a, rotated, k=5) == pytest.approx(0.0, abs=TOL)
    half = a.copy()
    half[:, [3, 4, 15, 16]] = half[:, [16, 15, 4, 3]]  # 3 of the top 5 directions kept
    assert subspace_overlap(a, half, k=5) == pytest.approx(3 / 5, abs=TOL)


def test_rows_for_unpaired_and_bad_layers(rng: np.random.Generator) -> None:
    a = {
        "x": rng.standard_normal((20, 10)),
        "y": rng.standard_normal((20, 11)),
        "z": np.full((20, 10), np.nan),
        "b": rng.standard_normal(20),
    }
    b = {"y": rng.standard_normal((20, 10)), "z": rng.standard_normal((20, 10))}
    d = htsr.distances(a, b).set_index("name")
    assert list(d.index) == ["x", "y", "z"]  # 1-D tensors have no row
    assert d.loc["x", "status"] == "skipped: not in base"
    assert d.loc["y", "status"].startswith("skipped: shape differs")
    assert d.loc["z", "status"] == "error: weights contain NaN or Inf"
    assert np.isnan(d.loc["z", "relative_distance"])
    with pytest.raises(ValueError, match="`k` must be an int >= 1"):
        htsr.distances(a, b, k=0)
