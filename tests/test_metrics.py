"""Norm, rank and entropy metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from htsr.metrics import element_tail_index, norm_metrics, stored_eps
from htsr.spectrum import esd


@pytest.mark.parametrize("r", [16, 96, 128])
@pytest.mark.parametrize("shape", [(3072, 768), (768, 3072), (1536, 384), (500, 400)])
def test_exact_low_rank_float32(r: int, shape: tuple[int, int]) -> None:
    """A float32 product A @ B of inner dimension r has hard_rank r (issue 2)."""
    rng = np.random.default_rng(r)
    a = rng.standard_normal((shape[0], r)).astype(np.float32)
    b = rng.standard_normal((r, shape[1])).astype(np.float32)
    m = norm_metrics(esd(a @ b))
    assert m.hard_rank == r
    assert m.rank_loss == min(shape) - r


def test_full_rank_gaussian_float64(rng: np.random.Generator) -> None:
    m = norm_metrics(esd(rng.standard_normal((300, 200))))
    assert m.hard_rank == 200 and m.rank_loss == 0
    assert m.rank_collapse_fraction == 0.0


def test_norms_of_a_diagonal_matrix() -> None:
    m = norm_metrics(esd(np.diag([4.0, 2.0, 1.0, 0.0])))
    # ||W||_F^2 = 16 + 4 + 1 = 21, s_max^2 = 16
    assert m.lambda_max == pytest.approx(16.0)
    assert m.log_norm == pytest.approx(math.log10(21))
    assert m.log_spectral_norm == pytest.approx(math.log10(16))
    assert m.stable_rank == pytest.approx(21 / 16)
    assert m.hard_rank == 3
    assert m.rank_collapse_fraction == 0.25
    p = np.array([16, 4, 1]) / 21
    assert m.entropy == pytest.approx(-(p * np.log(p)).sum() / math.log(3))


def test_entropy_bounds(rng: np.random.Generator) -> None:
    flat = norm_metrics(esd(np.eye(50)))
    assert flat.entropy == pytest.approx(1.0)  # all s_i equal: maximal entropy
    spiked = norm_metrics(esd(np.outer(rng.standard_normal(40), rng.standard_normal(30))))
    assert spiked.hard_rank == 1 and spiked.entropy == 0.0


def test_float32_solver_gives_nan_ranks(rng: np.random.Generator) -> None:
    m = norm_metrics(esd(rng.standard_normal((60, 40)), solver_dtype="float32"))
    assert math.isnan(m.hard_rank) and math.isnan(m.entropy)
    assert math.isfinite(m.stable_rank)


def test_stored_eps_of_bf16() -> None:
    assert stored_eps("bfloat16") == 2.0**-7  # bfloat16 has 8 significand bits
    assert stored_eps("float16") == 2.0**-10


def test_element_tail_index_recovers_pareto_mu_and_flags_gaussians() -> None:
    # Hill estimate on the top 1% of |W_ij| (JMLR 2021 Table 1 classes are about this mu)
    rng = np.random.default_rng(11)
    for mu in (0.8, 2.5, 3.5):
        W = rng.choice([-1.0, 1.0], (300, 200)) * (rng.pareto(mu, (300, 200)) + 1.0)
        assert element_tail_index(W) == pytest.approx(mu, rel=0.1)
    # light tails: the Hill estimate at this k is far above the moderately heavy bound 4
    assert element_tail_index(rng.standard_normal((300, 200))) > 7.0
    assert math.isnan(element_tail_index(np.zeros((5, 5))))


def _hill_by_definition(matrix: np.ndarray) -> float:
    """The Hill estimate written out: every non-zero, non-NaN ``|w|`` in float32, the top
    ``k + 1`` by a full sort, the log-ratios summed smallest first."""
    a = np.abs(np.asarray(matrix, dtype=np.float32)).ravel()
    a = a[a > 0]
    k = max(50, int(0.01 * a.size))
    if a.size <= k:
        return math.nan
    top = np.sort(a)[a.size - k - 1 :].astype(np.float64)
    total = float(np.sum(np.log(top / top[0])))
    return k / total if total > 0 else math.nan


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16", "bfloat16"])
def test_element_tail_index_equals_the_definition_exactly(dtype: str) -> None:
    # the selection above a sampled threshold must give the same number to the last bit,
    # with zeros, NaN, Inf, transposed and strided views
    import ml_dtypes

    rng = np.random.default_rng(5)
    np_dtype = ml_dtypes.bfloat16 if dtype == "bfloat16" else np.dtype(dtype)
    for case in range(8):
        w = rng.standard_t(3, (int(rng.integers(20, 300)), int(rng.integers(20, 300))))
        if case % 2:
            w[rng.random(w.shape) < 0.1] = 0.0
        if case % 4 == 3:
            w[rng.random(w.shape) < 0.01] = np.nan
        if case == 5:
            w[0, 0] = np.inf
        m = w.astype(np_dtype)
        for view in (m, m.T, m[:, ::2]):
            expected = _hill_by_definition(view)
            got = element_tail_index(view)
            assert got == expected or (math.isnan(got) and math.isnan(expected))


def test_element_tail_index_is_exact_when_the_sample_misleads_the_threshold() -> None:
    # the strided sample sees only the large entries: too few pass its threshold, and the
    # selection falls back to every non-zero entry; also 3-D and 1-row inputs
    rng = np.random.default_rng(8)
    w = rng.standard_normal((1000, 900)).astype(np.float32)
    w[::7, ::7] = 100.0 + rng.random(w[::7, ::7].shape).astype(np.float32)
    assert element_tail_index(w) == _hill_by_definition(w)
    for shape in ((6, 50, 40), (1, 6000)):
        x = rng.standard_t(2.5, shape)
        assert element_tail_index(x) == _hill_by_definition(x)


def test_rank_collapse_fraction_agrees_with_rank_loss() -> None:
    # exactly rank 30 of 200, stored in float32: the cluster at zero is the rank loss
    rng = np.random.default_rng(12)
    W = (rng.standard_normal((400, 30)) @ rng.standard_normal((30, 200))).astype(np.float32)
    m = norm_metrics(esd(W))
    assert m.hard_rank == 30
    assert m.rank_collapse_fraction == pytest.approx(m.rank_loss / m.num_evals)
