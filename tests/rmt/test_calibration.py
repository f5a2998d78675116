"""Tests of htsr.rmt.calibration: alpha(mu) on Pareto matrices and its inversion."""

from __future__ import annotations

import math

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import htsr.rmt.calibration as calmod
from htsr.rmt import calibrate_alpha, fit_relation, mu_from_alpha
from htsr.rmt.calibration import MU_MAX, alpha_of_mu, load_table, pareto_alpha

#: The issue's requirement: alpha within 0.15 of 1 + mu/2 for mu < 2 at M >= 500.
ALPHA_ATOL = 0.15
#: Inverting alpha(mu) where its slope is ~1 turns alpha's draw-to-draw spread (~0.05 for 3 draws)
#: plus the table's own spread into about the same error in mu.
MU_ATOL = 0.2


def fake_alpha(N, M, mu, *, rng=None):
    """alpha = 1 + mu/2 below mu = 2, then 0.8 mu + 0.4, plus N(0, 0.01) noise."""
    noise = np.random.default_rng(rng).normal(0, 0.01)
    return (1 + mu / 2 if mu < 2 else 0.8 * mu + 0.4) + noise


def synthetic_table():
    """A 2 x 2 shape grid whose alpha(mu) curves differ by a known shift per shape."""
    mus = np.arange(0.5, 6.01, 0.5)
    cols = {c: [] for c in ("N", "M", "Q", "mu", "reps", "n_ok", "alpha_median")}
    for M in (128, 2048):
        for Q in (1, 8):
            shift = 0.1 * (M == 2048) + 0.2 * (Q == 8)
            for mu in mus:
                alpha = 1 + mu / 2 + shift if mu <= 4 else 3.0 + shift - 0.1 * (mu - 4)
                for c, v in zip(cols, (Q * M, M, Q, mu, 1, 1, alpha), strict=True):
                    cols[c].append(v)
    return {c: np.array(v, dtype=float) for c, v in cols.items()}


def test_fit_relation_exact():
    mu = np.array([0.5, 1.0, 1.5, 2.5, 3.0, 3.5])
    alpha = np.where(mu < 2, 1 + mu / 2, 0.9 * mu + 0.2)
    vh, md = fit_relation(mu, alpha, (0, 2)), fit_relation(mu, alpha, (2, 4))
    assert (vh.slope, vh.intercept, vh.n_points) == (pytest.approx(0.5), pytest.approx(1.0), 3)
    assert (md.slope, md.intercept) == (pytest.approx(0.9), pytest.approx(0.2))
    assert md.rmse == pytest.approx(0.0, abs=1e-12)
    assert md(3.0) == pytest.approx(2.9)
    assert math.isnan(fit_relation([1.0], [1.5], (0, 2)).slope)


def test_calibrate_alpha_relations(monkeypatch):
    monkeypatch.setattr(calmod, "pareto_alpha", fake_alpha)
    cal = calibrate_alpha(200, 100, np.arange(0.5, 4.01, 0.25), reps=3, rng=0)
    assert cal.alpha.shape == (3, 15)
    assert cal.very_heavy.slope == pytest.approx(0.5, abs=0.03)
    assert cal.very_heavy.intercept == pytest.approx(1.0, abs=0.03)
    assert cal.moderate.slope == pytest.approx(0.8, abs=0.03)
    rows = cal.rows()
    assert [r["mu"] for r in rows][:2] == [0.5, 0.75]
    assert rows[0]["n_ok"] == 3
    assert rows[0]["Q"] == 2.0
    # same seed, same table
    np.testing.assert_array_equal(cal.alpha, calibrate_alpha(200, 100, cal.mu, reps=3, rng=0).alpha)


def test_calibrate_alpha_iv():
    with pytest.raises(ValueError, match=r"`reps` must be an int >= 1; got 0"):
        calibrate_alpha(20, 10, [1.0], reps=0)
    with pytest.raises(ValueError, match=r"`mus` must be finite numbers > 0"):
        calibrate_alpha(20, 10, [0.0, 1.0])


def test_mu_from_alpha_interpolates_shape(monkeypatch):
    monkeypatch.setattr(calmod, "load_table", synthetic_table)
    # on a grid shape the curve is the table's: M=128, Q=1 has alpha = 1 + mu/2
    assert mu_from_alpha(1.5, N=128, M=128) == pytest.approx(1.0)
    # halfway in log2 M (512) and log2 Q (sqrt 8): shift (0.1 + 0.2) / 2 = 0.15
    mus, curve = alpha_of_mu(N=round(512 * 8**0.5), M=512)
    assert curve[mus == 1.0] == pytest.approx(1.5 + 0.15, abs=2e-3)
    assert mu_from_alpha(1.65, N=round(512 * 8**0.5), M=512) == pytest.approx(1.0, abs=5e-3)
    # outside the grid the shape is clamped: M = 64 reads M = 128, Q = 16 reads Q = 8
    assert mu_from_alpha(1.7, N=1024, M=64) == pytest.approx(1.0)
    # the orientation of (N, M) does not matter
    assert mu_from_alpha(1.7, N=64, M=1024) == pytest.approx(1.0)


def test_mu_from_alpha_nan_outside(monkeypatch):
    monkeypatch.setattr(calmod, "load_table", synthetic_table)
    out = mu_from_alpha([1.1, np.nan, 3.05, 2.9], N=128, M=128)
    # below alpha(mu_min = 0.5) = 1.25, NaN in, above alpha(MU_MAX = 4) = 3: NaN
    assert np.isnan(out[:3]).all()
    assert out[3] == pytest.approx(3.8)
    assert out.shape == (4,)


def test_shipped_table():
    t = load_table()
    assert set(np.unique(t["M"])) >= {128, 2048}
    assert set(np.unique(t["Q"])) == {1, 2, 4, 8}
    assert t["mu"].min() <= 0.5
    assert t["mu"].max() >= MU_MAX
    ok = np.isfinite(t["alpha_mean"])
    assert ok.mean() > 0.95


@pytest.mark.parametrize("Mshape", [(2000, 1000), (256, 128), (4096, 512)])
def test_mu_from_alpha_against_papers(Mshape):
    # JMLR 2021 Table 1: alpha = 1 + mu/2 for mu < 2, approximately, at these sizes
    N, M = Mshape
    for mu in (0.75, 1.0, 1.5):
        assert mu_from_alpha(1 + mu / 2, N=N, M=M) == pytest.approx(mu, abs=2 * ALPHA_ATOL)
    assert np.isnan(mu_from_alpha(0.5, N=N, M=M))  # alpha < 1 is not a Pareto ESD


@pytest.mark.parametrize("mu", [0.5, 1.0, 1.25, 1.5])
def test_pareto_alpha_very_heavy(global_random_seed, mu):
    # issue 4: the default fit gives 1 + mu/2 within 0.15 for mu < 2 at M >= 500. Measured
    # (4 draws, seed 42): deviation -0.01..-0.04 up to mu = 1.25, +0.09..+0.13 at mu = 1.5, but
    # +0.31 at mu = 1.75 for M = 500 and M = 1000 alike (a slow finite-size crossover near mu = 2;
    # docs/rmt.md), which is why mu_from_alpha uses the calibrated table instead.
    with threadpool_limits(1):  # eigvalsh of a heavy-tailed Gram is slow with contended threads
        alphas = [pareto_alpha(1000, 500, mu, rng=[global_random_seed, r]) for r in range(3)]
    assert np.mean(alphas) == pytest.approx(1 + mu / 2, abs=ALPHA_ATOL)


def test_calibration_inverts_near_mu_2(global_random_seed):
    # where 1 + mu/2 is off by ~0.3 (mu = 1.75), the shipped calibration still recovers mu
    with threadpool_limits(1):
        alphas = [pareto_alpha(1000, 500, 1.75, rng=[global_random_seed, r]) for r in range(3)]
    assert abs(1 + 1.75 / 2 - np.mean(alphas)) > ALPHA_ATOL
    assert mu_from_alpha(float(np.mean(alphas)), N=1000, M=500) == pytest.approx(1.75, abs=MU_ATOL)
