"""Tests of htsr.rmt.ensembles: shapes, seeding, and the property each ensemble is for."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sl
from threadpoolctl import threadpool_limits

from htsr.fit.mp import fit_mp, mp_edges
from htsr.rmt import (
    bbp_threshold,
    gaussian_matrix,
    low_rank_matrix,
    pareto_matrix,
    spike_location,
    spike_strength,
    spiked_matrix,
)

#: Hill estimator of mu on the top 1% of 250k |entries|: standard error mu / sqrt(2500) = 2%.
HILL_RTOL = 0.08
#: A supercritical spike at M = 1000 fluctuates by O(M^-1/2) ~ 3% around its limit.
SPIKE_RTOL = 0.06


def esd(W):
    with threadpool_limits(1):  # threaded BLAS on a shared machine oversubscribes (docs/engine.md)
        return sl.eigvalsh(W.T @ W / W.shape[0])


GENERATORS = {
    "gaussian": lambda rng: gaussian_matrix(30, 20, rng=rng),
    "spiked": lambda rng: spiked_matrix(30, 20, [2.0, 5.0], rng=rng),
    "pareto": lambda rng: pareto_matrix(30, 20, 1.5, rng=rng),
    "low_rank": lambda rng: low_rank_matrix(30, 20, 4, rng=rng),
}


@pytest.mark.parametrize("name", GENERATORS)
def test_seeded_and_shaped(name):
    make = GENERATORS[name]
    a, b = make(7), make(np.random.default_rng(7))
    assert a.shape == (30, 20)
    assert a.dtype == np.float64
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, make(8))


def test_gaussian_is_mp(global_random_seed):
    W = gaussian_matrix(800, 200, sigma=0.5, rng=global_random_seed)
    assert W.std() == pytest.approx(0.5, rel=0.01)  # 160k entries: sd error 0.2%
    ev = esd(W)
    lo, hi = mp_edges(4.0, 0.5)
    assert ev.min() > 0.9 * lo
    assert ev.max() < 1.1 * hi


def test_spiked_locations(global_random_seed):
    # Baik & Silverstein (2006): a population spike 1 + theta lands at (1 + theta)(1 + 1/(Q theta))
    Q, thetas = 2.0, [1.5, 2.0, 4.0]  # 2.1x to 5.7x the BBP threshold 1/sqrt(2)
    W = spiked_matrix(2000, 1000, thetas, sigma=1.5, rng=global_random_seed)
    top = esd(W)[-3:]
    expected = sorted(spike_location(t, Q, 1.5) for t in thetas)
    np.testing.assert_allclose(top, expected, rtol=SPIKE_RTOL)
    assert fit_mp(esd(W), 2000, 1000).num_spikes == 3


def test_bbp_and_spike_location():
    assert bbp_threshold(1.0) == 1.0
    # at the threshold the spike sits on the edge lambda_+ = (1 + 1/sqrt(Q))^2
    assert spike_location(bbp_threshold(3.0), 3.0) == pytest.approx(mp_edges(3.0)[1])
    assert spike_location(0.1, 3.0) == pytest.approx(mp_edges(3.0)[1])  # subcritical: no spike
    assert spike_location(2.0, 4.0, sigma=2.0) == pytest.approx(4 * 3 * (1 + 1 / 8))


@pytest.mark.parametrize("mu", [0.8, 1.5, 3.0])
def test_pareto_tail_exponent(global_random_seed, mu):
    W = pareto_matrix(500, 500, mu, rng=global_random_seed)
    x = np.sort(np.abs(W).ravel())[::-1]
    k = x.size // 100
    hill = k / np.sum(np.log(x[:k] / x[k]))  # Hill (1975) estimator of the tail exponent
    assert hill == pytest.approx(mu, rel=HILL_RTOL)
    assert np.abs(W).min() >= 1.0
    assert 0.45 < np.mean(W > 0) < 0.55  # fair signs


def test_low_rank_exact():
    W = low_rank_matrix(300, 100, 7, sigma=2.0, rng=0)
    assert np.linalg.matrix_rank(W) == 7
    assert W.std() == pytest.approx(2.0, rel=0.1)
    assert not low_rank_matrix(5, 4, 0).any()


ENSEMBLES_IV = {
    "N": (lambda: gaussian_matrix(0, 3), r"`N` must be an int >= 1; got 0"),
    "M": (lambda: pareto_matrix(3, 2.5, 1.0), r"`M` must be an int >= 1; got 2.5"),
    "mu": (lambda: pareto_matrix(3, 3, -1.0), r"`mu` must be a finite number > 0"),
    "strengths": (lambda: spiked_matrix(3, 2, [1, 1, 1]), r"`strengths` must be at most M=2"),
    "negative": (lambda: spiked_matrix(3, 2, [-1.0]), r"finite numbers >= 0"),
    "rank": (lambda: low_rank_matrix(3, 2, 3), r"`rank` must be an int in \[0, min"),
}


@pytest.mark.parametrize("case", ENSEMBLES_IV)
def test_ensembles_iv(case):
    call, match = ENSEMBLES_IV[case]
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("Q", [1.0, 2.0, 6.5])
def test_spike_strength_inverts_spike_location(Q: float) -> None:
    theta = np.array([1.01, 1.5, 3.0, 40.0]) * bbp_threshold(Q)
    loc = np.array([spike_location(float(t), Q, sigma=0.3) for t in theta])
    np.testing.assert_allclose(spike_strength(loc, Q, sigma=0.3), theta, rtol=1e-10)
    # at or below the edge: theta_c (no spike)
    lp = (1 + 1 / np.sqrt(Q)) ** 2
    np.testing.assert_allclose(spike_strength(np.array([lp, 0.5 * lp]), Q), bbp_threshold(Q))


@pytest.mark.parametrize("theta", [2.0, 6.0])
def test_one_large_entry_is_a_spike_of_strength_x2_over_N(theta: float) -> None:
    # the additive rank-one map (Benaych-Georges & Nadakuditi 2011) that expected_outliers and
    # the phases' outlier tail rest on: W_ij = x on N(0, 1) noise lands at spike_location(x^2/N)
    N, M = 1200, 400
    W = gaussian_matrix(N, M, rng=3)
    W[7, 11] = np.sqrt(theta * N)
    top = np.linalg.eigvalsh(W.T @ W / N)[-1]
    assert top == pytest.approx(spike_location(theta, N / M), rel=0.03)
    assert float(spike_strength(top, N / M)) == pytest.approx(theta, rel=0.08)
