"""Exact ESD of a low-rank product from its factors."""

from __future__ import annotations

import numpy as np
import pytest

from htsr.errors import LayerError, LayerSkippedError
from htsr.lowrank import low_rank_esd

#: QR + SVD of the r x r core against a full SVD, both float64.
RTOL = 1e-10


@pytest.mark.parametrize(("a", "r", "b"), [(120, 8, 70), (30, 5, 90), (40, 50, 20)])
def test_against_full_svd(global_random_seed: int, a: int, r: int, b: int) -> None:
    rng = np.random.default_rng(global_random_seed)
    left, right = rng.standard_normal((a, r)), rng.standard_normal((r, b))
    s = low_rank_esd(left, right)
    full = np.linalg.svd(left @ right, compute_uv=False) ** 2 / max(a, b)
    k = min(r, a, b)
    np.testing.assert_allclose(s.evals, np.sort(full)[-k:], rtol=RTOL)
    assert (s.N, s.M, s.evals.size) == (max(a, b), min(a, b), k)
    assert s.frobenius_squared == pytest.approx(np.sum((left @ right) ** 2), rel=RTOL)


def test_low_rank_esd_iv() -> None:
    with pytest.raises(LayerError, match="do not multiply"):
        low_rank_esd(np.ones((4, 2)), np.ones((3, 5)))
    with pytest.raises(LayerError, match="NaN or Inf"):
        low_rank_esd(np.full((4, 2), np.nan), np.ones((2, 5)))
    with pytest.raises(LayerSkippedError, match="zero update"):
        low_rank_esd(np.zeros((4, 2)), np.ones((2, 5)))
