"""Tests of htsr.fit._truncated: the (truncated) power-law formulas against direct forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, optimize

from htsr.fit import _truncated


@pytest.mark.parametrize(
    ("alpha", "big_l"), [(2.5, None), (1.3, 3.0), (4.0, 0.7), (0.6, 2.0), (1.0, 2.0)]
)
def test_survival_cdf_density_agree(alpha: float, big_l: float | None) -> None:
    b = alpha - 1.0
    xmin = 0.7
    top = math.inf if big_l is None else xmin * math.exp(big_l)
    dl = np.linspace(0.0, 3.0 if big_l is None else big_l, 9)
    x = xmin * np.exp(dl)
    surv = _truncated.survival(b, dl.copy(), big_l)
    if alpha == 1.0:  # flat: uniform in ln x
        assert np.allclose(surv, 1.0 - dl / big_l, rtol=1e-13)  # type: ignore[operator]
        ll = _truncated.log_pdf(dl, xmin, alpha, big_l)
        assert np.allclose(ll, -np.log(x) - math.log(big_l), rtol=1e-14)  # type: ignore[arg-type]
        return
    dens = lambda v: math.exp(float(_truncated.log_pdf(  # noqa: E731
        np.array([math.log(v / xmin)]), xmin, alpha, big_l)[0]))  # fmt: skip
    for xi, si in zip(x, surv, strict=True):
        assert integrate.quad(dens, xi, top)[0] == pytest.approx(si, rel=1e-7, abs=1e-12)
    if big_l is not None:
        assert np.allclose(_truncated.cdf(b, dl, big_l), 1.0 - surv, rtol=1e-12, atol=1e-15)
    ratio = np.exp(dl)
    if big_l is None:
        assert np.allclose(_truncated.reference_cdf(ratio, alpha), 1.0 - surv, rtol=1e-12)


def test_survival_overwrite_is_the_same_number() -> None:
    dl = np.linspace(0.0, 5.0, 11)[None, :].repeat(3, axis=0)
    b = np.array([0.5, 1.5, 3.0])[:, None]
    expected = _truncated.survival(b, dl.copy(), None)
    out = _truncated.survival(b, dl, None, overwrite=True)
    assert out is dl and np.array_equal(out, expected)


@pytest.mark.parametrize("q", [1e-6, 0.01, 0.3, 0.5, 0.7, 0.99, 1 - 1e-6])
def test_solve_trunc_exp_inverts_the_mean(q: float) -> None:
    t = float(_truncated.solve_trunc_exp(np.array([q]))[0])  # one equation: the scalar path
    vector = float(_truncated.solve_trunc_exp(np.array([q, 0.25]))[0])
    assert t == pytest.approx(vector, rel=1e-15, abs=1e-15)

    def mean(s: float) -> float:  # 1/s - 1/expm1(s), written for large |s|
        if abs(s) < 1e-4:  # Taylor series: the two terms cancel near 0
            return 0.5 - s / 12.0 + s**3 / 720.0
        return 1.0 / s - (1.0 / math.expm1(s) if s < 700 else 0.0)

    assert mean(t) == pytest.approx(q, rel=1e-12)
    ref = optimize.brentq(lambda s: mean(s) - q, -1.0 / (1.0 - q), 1.0 / q, xtol=1e-300,
                          rtol=1e-15)  # fmt: skip
    assert t == pytest.approx(ref, rel=1e-12, abs=1e-13)


def test_mle_alpha_solves_the_score_equation() -> None:
    rng = np.random.default_rng(3)
    xmin, xmax = 1.0, 50.0
    x = np.exp(rng.uniform(0.0, math.log(xmax), 400)) ** 0.8
    lny = np.log(x / xmin)
    big_l = math.log(xmax / xmin)
    alpha = float(_truncated.mle_alpha(lny.sum(), lny.size, big_l))

    def nll(a: float) -> float:
        return -float(_truncated.log_pdf(lny, xmin, a, big_l).sum())

    best = optimize.minimize_scalar(nll, bounds=(1.0001, 10.0), method="bounded",
                                    options={"xatol": 1e-12})  # fmt: skip
    assert alpha == pytest.approx(best.x, rel=1e-6)
    assert float(_truncated.mle_alpha(lny.sum(), lny.size, None)) == pytest.approx(
        1.0 + lny.size / lny.sum(), rel=1e-15
    )
    assert _truncated.normaliser(alpha, None) == 1.0
    with pytest.raises(ValueError, match="alpha > 1"):
        _truncated.log_pdf(lny, xmin, 0.9, None)
