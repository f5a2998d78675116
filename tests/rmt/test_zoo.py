"""Tests of htsr.rmt.zoo: the generator's specs and the visibility of a Pareto tail."""

from __future__ import annotations

import numpy as np
import pytest

from htsr.rmt import mp_edges, pareto_matrix, spike_strength
from htsr.rmt.zoo import MU_RANGE_WEAK, expected_outliers, zoo_specs


def test_expected_outliers_counts_entries_beyond_the_visible_size() -> None:
    # E[n] is N M P(|W_ij| > sqrt(N sigma^2 theta_t)): the number of drawn entries that large
    # (Poisson) agrees with it over a few draws
    N, M, mu = 1000, 500, 3.0
    thr = 1.1 * mp_edges(N / M)[1]
    en = expected_outliers(N, M, mu, sigma=1.0, threshold=thr)
    size = np.sqrt(N * float(spike_strength(thr, N / M)))
    counts = [int(np.sum(np.abs(pareto_matrix(N, M, mu, rng=s)) > size)) for s in range(8)]
    assert abs(sum(counts) - 8 * en) < 4 * np.sqrt(8 * en), (counts, en)


def test_expected_outliers_falls_with_mu_and_the_edge() -> None:
    N, M = 768, 384
    lp = mp_edges(2.0)[1]
    e = [expected_outliers(N, M, mu, sigma=1.0, threshold=1.05 * lp) for mu in (2.5, 3.5, 5.0)]
    assert e[0] > e[1] > e[2]
    assert expected_outliers(N, M, 3.0, sigma=1.0, threshold=1.3 * lp) < expected_outliers(
        N, M, 3.0, sigma=1.0, threshold=1.05 * lp
    )
    # a weakly heavy-tailed (mu = 5) matrix of this size shows < 1 entry beyond the edge
    assert e[2] < 1.0
    # a larger scale of the entries at the same bulk scale makes more of them visible
    assert expected_outliers(N, M, 3.0, sigma=1.0, threshold=1.05 * lp, scale=2.0) > e[0] / 2


def test_weak_mu_range_draws_mu_above_4() -> None:
    specs = zoo_specs(6, kinds=("heavy_tailed",), mu_range=MU_RANGE_WEAK, rng=0)
    assert len(specs) == 6 and all(4.0 <= s.param < 6.0 for s in specs)
    with pytest.raises(ValueError, match="kinds"):
        zoo_specs(2, kinds=("pareto",), rng=0)
