"""Tests of htsr.fit.mp: the Marchenko-Pastur law and its robust fit.

Cost: the 200-draw false-spike test is ~15 s on one core; its draws are mostly small (M = 128,
256) and only a few large (M = 1024, 2048). HTSR_TEST_SEEDS=all reruns the seeded
statistical tests over seeds 0-99.
"""

from __future__ import annotations

import math
import re
import time

import numpy as np
import pytest
import scipy.linalg as sl
from scipy.integrate import quad
from threadpoolctl import threadpool_limits

from htsr.fit.mp import (
    MIN_EVALS,
    TW_MARGIN,
    MPFit,
    fit_mp,
    mp_cdf,
    mp_edges,
    mp_pdf,
    mp_ppf,
    spike_margin,
    tw_scale,
)
from htsr.fit.status import FitStatus
from htsr.rmt import bbp_threshold, gaussian_matrix, pareto_matrix, spiked_matrix

#: The issue's requirement: sigma within 2% on 1000 x 500 Gaussian matrices.
SIGMA_RTOL = 0.02
#: The issue's requirement: an MP fit of 4096 eigenvalues in under 20 ms (measured ~1 ms).
MAX_FIT_SECONDS = 0.020
#: The issue's requirement: no spike in at least 99% of pure Gaussian draws.
MIN_CLEAN_FRACTION = 0.99


def esd(W: np.ndarray) -> np.ndarray:
    """Eigenvalues of X = W^T W / N (float64 Gram of the smaller side + eigvalsh)."""
    N = W.shape[0]
    with threadpool_limits(1):  # a shared machine: threaded BLAS oversubscribes (docs/engine.md)
        return sl.eigvalsh(W.T @ W / N)


# --- the law -------------------------------------------------------------------------------


@pytest.mark.parametrize("Q", [1.0, 2.0, 8.0])
@pytest.mark.parametrize("sigma", [1.0, 0.3])
def test_mp_cdf_against_quad(Q, sigma):
    lo, hi = mp_edges(Q, sigma)
    for x in np.linspace(lo, hi, 7)[1:-1]:
        # numerical quadrature of the density (scipy.integrate.quad)
        ref = quad(mp_pdf, lo, x, args=(Q, sigma), limit=200)[0]
        assert mp_cdf(x, Q, sigma) == pytest.approx(ref, abs=1e-9)
    assert mp_cdf([lo - 1.0, hi + 1.0], Q, sigma).tolist() == [0.0, 1.0]


@pytest.mark.parametrize("Q", [1.0, 3.0])
def test_mp_moments(Q):
    # MP moments for X = W^T W / N (Bai & Silverstein 2010, eq. 3.1.6): E = sigma^2, Var = sigma^4/Q
    sigma = 1.7
    lo, hi = mp_edges(Q, sigma)
    m1 = quad(lambda x: x * mp_pdf(x, Q, sigma), lo, hi, limit=200)[0]
    m2 = quad(lambda x: x * x * mp_pdf(x, Q, sigma), lo, hi, limit=200)[0]
    assert m1 == pytest.approx(sigma**2, rel=1e-8)
    assert m2 - m1**2 == pytest.approx(sigma**4 / Q, rel=1e-7)


def test_mp_closed_forms():
    # MP edge for Q=2, sigma=1: (1 +- 1/sqrt(2))**2
    assert mp_edges(2.0) == pytest.approx(((1 - 2**-0.5) ** 2, (1 + 2**-0.5) ** 2))
    # Q = 1: F(2) = 1/2 + 1/pi (closed form at the centre of [0, 4])
    assert float(mp_cdf(2.0, 1.0)) == pytest.approx(0.5 + 1 / math.pi, abs=1e-14)
    # density at lambda = 1, Q = 1: sqrt(3 * 1) / (2 pi)
    assert float(mp_pdf(1.0, 1.0)) == pytest.approx(math.sqrt(3) / (2 * math.pi))


def test_mp_ppf_inverts_cdf():
    p = np.array([0.0, 1e-6, 0.01, 0.3, 0.5, 0.9, 0.999999, 1.0])
    for Q in (1.0, 1.5, 10.0):
        x = mp_ppf(p, Q, 2.0)
        assert mp_cdf(x, Q, 2.0) == pytest.approx(p, abs=1e-12)
        assert x[0] == pytest.approx(mp_edges(Q, 2.0)[0])
        assert x[-1] == mp_edges(Q, 2.0)[1]
    assert np.isnan(mp_ppf(np.nan, 2.0))


def test_tw_scale_against_johnstone():
    # Johnstone (2001) with (n, p) = (N, M): (sqrt N + sqrt M)(1/sqrt N + 1/sqrt M)^(1/3) / N
    for N, M in [(1000, 1000), (4000, 500), (300, 100)]:
        ref = (math.sqrt(N) + math.sqrt(M)) * (N**-0.5 + M**-0.5) ** (1 / 3) / N
        assert tw_scale(N / M, M) == pytest.approx(ref, rel=1e-12)
    assert tw_scale(2.0, 100, sigma=3.0) == pytest.approx(9 * tw_scale(2.0, 100))


def test_law_iv():
    for f in (lambda: mp_edges(0.5), lambda: mp_cdf(1.0, 0.9), lambda: tw_scale(np.nan, 10)):
        with pytest.raises(ValueError, match=r"`Q` must be a finite number >= 1"):
            f()


def test_spike_margin_pooled():
    assert spike_margin(1) == pytest.approx(TW_MARGIN)
    # (c^1.5 + 1.5 ln n)^(2/3) with c = TW_MARGIN, n = 9
    assert spike_margin(9) == pytest.approx((TW_MARGIN**1.5 + 1.5 * math.log(9)) ** (2 / 3))
    assert spike_margin(9) < spike_margin(49)


# --- the fit -------------------------------------------------------------------------------


@pytest.mark.parametrize("sigma", [1.0, 0.05, 7.0])
def test_sigma_recovered_gaussian(global_random_seed, sigma):
    for r in range(5):
        W = gaussian_matrix(1000, 500, sigma=sigma, rng=[global_random_seed, r])
        fit = fit_mp(esd(W), 1000, 500)
        assert fit.status == FitStatus.OK
        assert fit.message == ""
        assert fit.sigma == pytest.approx(sigma, rel=SIGMA_RTOL)
        assert fit.num_spikes == 0


def test_sigma_recovered_with_spikes(global_random_seed):
    theta = 3 * bbp_threshold(2.0)  # 5 spikes of strength 3x the BBP threshold
    for r in range(5):
        W = spiked_matrix(1000, 500, [theta] * 5, sigma=2.0, rng=[global_random_seed, r])
        fit = fit_mp(esd(W), 1000, 500)
        assert fit.sigma == pytest.approx(2.0, rel=SIGMA_RTOL)
        assert fit.num_spikes == 5
        assert fit.spike_fraction == pytest.approx(5 / 500)
        assert fit.n_bulk == 495


# (M, Q, draws): 200 draws, many small and a few large (a 16384 x 2048 draw costs ~4 s)
NULL_DESIGN = [(128, q, 30) for q in (1, 2, 4, 8)] + [(256, q, 12) for q in (1, 2, 4, 8)]
NULL_DESIGN += [(512, q, 5) for q in (1, 2, 4, 8)] + [(1024, q, 2) for q in (1, 2, 4, 8)]
NULL_DESIGN += [(2048, 1, 1), (2048, 4, 1), (1536, 3, 1), (2048, 2, 1)]


@pytest.mark.slow
def test_no_spikes_on_gaussian(global_random_seed):
    counts = []
    for M, Q, draws in NULL_DESIGN:
        for r in range(draws):
            N = Q * M
            W = gaussian_matrix(N, M, rng=[global_random_seed, M, Q, r])
            counts.append(fit_mp(esd(W), N, M).num_spikes)
    assert len(counts) == 200
    assert np.mean(np.array(counts) == 0) >= MIN_CLEAN_FRACTION


@pytest.mark.parametrize(
    ("M", "Q", "mults"),
    [
        (512, 4, [2.0, 2.0, 3.0, 3.0, 4.0]),
        (512, 1, [3.0, 3.0, 3.0, 5.0, 10.0]),
        # 1.5x needs M ~ 2048: at M = 1024 the spike fluctuates by ~3 TW units about a point
        # only ~10 TW units above the edge and 5-10% of draws lose one (docs/rmt.md)
        pytest.param(2048, 4, [1.5, 1.5, 1.5, 2.0, 3.0], marks=pytest.mark.slow),
    ],
)
def test_planted_spikes_counted(global_random_seed, M, Q, mults):
    N = Q * M
    W = spiked_matrix(N, M, [m * bbp_threshold(Q) for m in mults], rng=global_random_seed)
    fit = fit_mp(esd(W), N, M)
    assert fit.num_spikes == len(mults)
    assert fit.sigma == pytest.approx(1.0, rel=SIGMA_RTOL)


def test_pooled_conv_slices():
    # 9 slices (3x3 kernel) of 256 x 128: the TW scale is the slice's, the margin grows with 9
    rng = np.random.default_rng(0)
    slices = [esd(gaussian_matrix(256, 128, sigma=0.1, rng=rng)) for _ in range(9)]
    fit = fit_mp(np.concatenate(slices), 256, 128)
    assert (fit.n_evals, fit.n_slices, fit.M) == (9 * 128, 9, 128)
    assert fit.tw == pytest.approx(tw_scale(2.0, 128, fit.sigma))
    assert fit.tw_margin == pytest.approx(spike_margin(9))
    assert fit.sigma == pytest.approx(0.1, rel=SIGMA_RTOL)
    assert fit.num_spikes == 0
    slices[4] = esd(spiked_matrix(256, 128, [5.0], sigma=0.1, rng=1))
    assert fit_mp(np.concatenate(slices), 256, 128).num_spikes == 1


def test_fit_fields_consistent():
    W = spiked_matrix(600, 300, [4.0, 8.0], rng=3)
    ev = esd(W)
    fit = fit_mp(ev, 600, 300)
    lo, hi = mp_edges(2.0, fit.sigma)
    assert fit.edges == pytest.approx((lo, hi))
    assert fit.softrank == pytest.approx(hi / ev.max())
    assert fit.threshold == pytest.approx(hi + TW_MARGIN * fit.tw)
    assert fit.num_spikes == np.sum(ev > fit.threshold) == 2
    bulk = np.sort(ev)[:-2]
    # KS of the bulk, against scipy.stats.kstest with the fitted CDF
    from scipy.stats import kstest

    assert fit.ks == pytest.approx(kstest(bulk, lambda x: fit.cdf(x)).statistic, rel=1e-12)
    assert fit.pdf(1.0) == pytest.approx(mp_pdf(1.0, 2.0, fit.sigma))


def test_heavy_tailed_has_no_bulk():
    W = pareto_matrix(1000, 500, 1.0, rng=0)
    fit = fit_mp(esd(W), 1000, 500)
    assert fit.status == FitStatus.OK
    assert fit.softrank < 0.01
    assert fit.spike_fraction > 0.4
    assert "no MP bulk" in fit.message


def test_input_not_modified():
    ev = esd(gaussian_matrix(200, 100, rng=0))[::-1].copy()
    before = ev.copy()
    fit_mp(ev, 200, 100)
    np.testing.assert_array_equal(ev, before)


FIT_MP_IV = {
    "Q < 1": (np.ones(100), 50, 100, FitStatus.INVALID_INPUT, r"Q = N/M must be >= 1"),
    "too few": (np.ones(MIN_EVALS - 1), 200, 100, FitStatus.TOO_FEW_POINTS, r"needs at least"),
    "empty": ([], 200, 100, FitStatus.TOO_FEW_POINTS, r"0 eigenvalues"),
    "all zero": (np.zeros(100), 200, 100, FitStatus.DEGENERATE, r"all eigenvalues are zero"),
    "mostly zero": (np.r_[np.zeros(95), np.ones(5)], 200, 100, FitStatus.DEGENERATE, r"vanish"),
    "NaN": (np.r_[np.ones(99), np.nan], 200, 100, FitStatus.INVALID_INPUT, r"NaN or Inf"),
    "negative": (np.r_[np.ones(99), -1.0], 200, 100, FitStatus.INVALID_INPUT, r"negative"),
    "text": (["a"] * 20, 200, 100, FitStatus.INVALID_INPUT, r"not numeric"),
    "M = 0": (np.ones(100), 200, 0, FitStatus.INVALID_INPUT, r"must be positive"),
}


@pytest.mark.parametrize("case", FIT_MP_IV)
def test_fit_mp_iv(case):
    evals, N, M, status, match = FIT_MP_IV[case]
    fit = fit_mp(evals, N, M)
    assert isinstance(fit, MPFit)
    assert fit.status == status
    assert re.search(match, fit.message)
    assert math.isnan(fit.sigma)
    assert math.isnan(fit.num_spikes)
    assert math.isnan(fit.softrank)
    assert np.isnan(fit.cdf([1.0])).all()


def test_roundoff_negatives_accepted():
    ev = esd(gaussian_matrix(100, 100, rng=0))
    ev[0] = -1e-14 * ev.max()  # float64 Gram round-off (docs/engine.md)
    assert fit_mp(ev, 100, 100).status == FitStatus.OK


def test_fit_speed_4096():
    # 4096 eigenvalues drawn from the MP law itself (an 8192 x 4096 Gram would cost seconds)
    ev = mp_ppf(np.random.default_rng(0).random(4096), 2.0)
    fit_mp(ev, 8192, 4096)
    times = []
    for _ in range(7):
        t0 = time.perf_counter()
        fit = fit_mp(ev, 8192, 4096)
        times.append(time.perf_counter() - t0)
    assert fit.sigma == pytest.approx(1.0, rel=SIGMA_RTOL)
    assert min(times) < MAX_FIT_SECONDS
