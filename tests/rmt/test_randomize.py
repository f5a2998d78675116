"""Tests of htsr.rmt.randomize: element shuffling and the randomized-ESD comparison."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg as sl
from scipy.stats import wasserstein_distance
from threadpoolctl import threadpool_limits

from htsr.fit.status import FitStatus
from htsr.rmt import (
    compare_randomized,
    gaussian_matrix,
    log_wasserstein,
    shuffle_elements,
    spiked_matrix,
)

#: Two independent 400 x 200 Gaussian ESDs differ by ~0.01 decade in log-W1 (measured 0.004-0.01).
SAME_LAW_MAX_DISTANCE = 0.03


def esd(W):
    with threadpool_limits(1):  # threaded BLAS on a shared machine oversubscribes (docs/engine.md)
        return sl.eigvalsh(W.T @ W / W.shape[0])


def randomized(W, seed=0):
    return compare_randomized(
        esd(W), esd(shuffle_elements(W, rng=seed)), N=W.shape[0], M=W.shape[1]
    )


def test_shuffle_is_a_seeded_copy():
    W = np.arange(24.0).reshape(2, 3, 4)  # any shape (conv kernels too)
    before = W.copy()
    S = shuffle_elements(W, rng=3)
    np.testing.assert_array_equal(W, before)  # input untouched
    assert S.shape == W.shape
    assert not np.shares_memory(S, W)
    np.testing.assert_array_equal(np.sort(S.ravel()), W.ravel())
    np.testing.assert_array_equal(S, shuffle_elements(W, rng=np.random.default_rng(3)))
    assert not np.array_equal(S, shuffle_elements(W, rng=4))


def test_log_wasserstein_is_a_distance():
    rng = np.random.default_rng(0)
    a, b, c = (rng.lognormal(size=50) for _ in range(3))
    assert log_wasserstein(a, a) == 0.0
    assert log_wasserstein(a, b) == pytest.approx(log_wasserstein(b, a))
    assert log_wasserstein(a, c) <= log_wasserstein(a, b) + log_wasserstein(b, c) + 1e-12
    assert log_wasserstein(a, 100 * a) == pytest.approx(2.0)  # two decades up
    # unequal sizes: scipy.stats.wasserstein_distance on log10 values
    ref = wasserstein_distance(np.log10(a), np.log10(b[:30]))
    assert log_wasserstein(a, b[:30]) == pytest.approx(ref)
    # zeros are floored at 1e-12 lambda_max: 12 decades below the top
    assert log_wasserstein([0.0, 1.0], [1.0, 1.0]) == pytest.approx(6.0)


def test_gaussian_has_no_traps():
    W = gaussian_matrix(400, 200, rng=0)
    r = randomized(W)
    assert r.status == FitStatus.OK
    assert r.message == ""
    assert r.num_traps == 0
    assert r.rand_distance < SAME_LAW_MAX_DISTANCE
    assert r.rand_sigma_mp == pytest.approx(1.0, rel=0.02)
    assert r.rand_lambda_max == pytest.approx(esd(shuffle_elements(W, rng=0)).max())


def test_same_seed_same_numbers():
    W = spiked_matrix(300, 150, [5.0], rng=1)
    assert randomized(W, seed=9) == randomized(W, seed=9)


def test_spikes_are_destroyed_by_shuffling():
    # rank-3 structure (spikes) is correlation: shuffling removes it, so no traps and a distance
    W = spiked_matrix(400, 200, [20.0, 30.0, 40.0], rng=2)
    r = randomized(W)
    assert r.num_traps == 0
    assert r.rand_lambda_max < esd(W).max() / 5
    assert r.rand_distance > randomized(gaussian_matrix(400, 200, rng=2)).rand_distance


def test_large_elements_make_traps():
    # a few huge entries survive shuffling and stick out of the randomized ESD (correlation traps)
    W = gaussian_matrix(400, 200, rng=3)
    W[[5, 50, 100], [7, 70, 150]] = 40.0
    r = randomized(W)
    assert r.num_traps == 3
    assert r.rand_fit.num_spikes == 3


def test_compare_randomized_iv():
    ev = esd(gaussian_matrix(100, 50, rng=0))
    bad = compare_randomized(ev, ev, N=50, M=100)  # N < M: caller mix-up
    assert bad.status == FitStatus.INVALID_INPUT
    assert "Q = N/M must be >= 1" in bad.message
    assert math.isnan(bad.num_traps)
    zero = compare_randomized(np.zeros(50), np.zeros(50), N=100, M=50)
    assert zero.status == FitStatus.DEGENERATE
    assert math.isnan(zero.rand_distance)
    nan = compare_randomized(np.r_[ev[:-1], np.nan], ev, N=100, M=50)
    assert nan.status == FitStatus.INVALID_INPUT
    assert "NaN" in nan.message
    empty = compare_randomized([], [], N=100, M=50)
    assert empty.status == FitStatus.TOO_FEW_POINTS
