"""Tests of htsr.fit._data: the eigenvalue sample validated once, and the fits that accept it."""

from __future__ import annotations

import numpy as np
import pytest

from htsr.fit import compare_tail, fit_mp, fit_power_law, power_law_scan
from htsr.fit._data import ZERO_TOL, EigenSample, as_sample
from htsr.fit.status import FitStatus

SEED = 20240611


def test_sample_sorts_and_counts_zeros() -> None:
    raw = np.array([3.0, 0.0, -0.5 * ZERO_TOL * 3.0, 1.0, 2.0])
    s = as_sample(raw)
    assert s.ok
    assert s.values.tolist() == [0.0, 0.0, 1.0, 2.0, 3.0]  # round-off negative set to 0
    assert s.n_zero == 2 and s.size == 5
    assert s.positive.tolist() == [1.0, 2.0, 3.0]
    assert raw[0] == 3.0  # the caller's array is not modified
    with pytest.raises(ValueError, match="read-only"):
        s.values[0] = 1.0
    assert as_sample(s) is s


@pytest.mark.parametrize(
    ("data", "status", "text"),
    [
        (["a"], FitStatus.INVALID_INPUT, "not numeric"),
        ([[1.0, 2.0]], FitStatus.INVALID_INPUT, "1-D"),
        ([], FitStatus.INVALID_INPUT, "empty"),
        ([1.0, np.inf], FitStatus.INVALID_INPUT, "NaN or Inf"),
        ([1.0, -1.0], FitStatus.INVALID_INPUT, "negative"),
        ([0.0, 0.0], FitStatus.DEGENERATE, "all eigenvalues are zero"),
    ],
)
def test_sample_rejects(data: object, status: FitStatus, text: str) -> None:
    s = as_sample(data)  # type: ignore[arg-type]
    assert s.status is status and text in s.message
    assert s.values.size == 0


def _esd(rng: np.random.Generator, n: int, m: int, mu: float | None) -> np.ndarray:
    w = rng.standard_normal((n, m)) if mu is None else rng.pareto(mu, (n, m)) + 1.0
    return np.linalg.eigvalsh(w.T @ w / n)


@pytest.mark.parametrize("mu", [None, 1.5, 3.0])
def test_fits_of_a_sample_equal_fits_of_the_array(mu: float | None) -> None:
    """Validating once changes no number: every fit of the sample equals the fit of the array
    (exactly, field by field), with zeros and shuffling thrown in."""
    rng = np.random.default_rng(SEED)
    ev = np.concatenate([np.zeros(3), _esd(rng, 300, 150, mu)])
    rng.shuffle(ev)
    s = as_sample(ev)
    for kwargs in ({}, {"drop_top": 2}, {"xmin": float(np.median(ev))}):
        a, b = fit_power_law(ev, **kwargs), fit_power_law(s, **kwargs)  # type: ignore[arg-type]
        assert _same(a, b)
        assert _same(compare_tail(ev, a), compare_tail(s, b))
    assert _same(fit_mp(ev, 300, 150), fit_mp(s, 300, 150))
    sa, sb = power_law_scan(ev), power_law_scan(s)
    assert np.array_equal(sa.Ds, sb.Ds, equal_nan=True) and sa.best == sb.best


def _same(a: object, b: object) -> bool:
    """Field by field, exactly: ``repr`` writes every float so that it reads back the same."""
    return repr(a) == repr(b)


def test_rejected_sample_fails_every_fit() -> None:
    s = as_sample([1.0, np.nan] * 10)
    assert fit_power_law(s).status is FitStatus.INVALID_INPUT
    assert fit_mp(s, 40, 20).status is FitStatus.INVALID_INPUT
    assert fit_mp(s, 40, 20).n_evals == 20
    pl = fit_power_law(np.arange(1.0, 30.0))
    assert compare_tail(s, pl).status is FitStatus.INVALID_INPUT
    assert isinstance(s, EigenSample) and not s.ok
