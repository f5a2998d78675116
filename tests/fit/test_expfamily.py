"""Tests of htsr.fit._expfamily: the log-partition rule and the projected Newton fit."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate

from htsr.fit import _expfamily as ef


@pytest.mark.parametrize(
    ("family", "th", "top"),
    [
        (ef.TRUNCATED_POWER_LAW, (1.5, 0.01), math.inf),
        (ef.TRUNCATED_POWER_LAW, (0.2, 2.0), 3.0),
        (ef.LOGNORMAL, (-4.0, 0.5), math.inf),
        (ef.LOGNORMAL, (1.0, 0.05), 6.0),
    ],
)
def test_log_partition_and_moments(family: ef.Family, th: tuple[float, float], top: float) -> None:
    h = np.expm1 if family is ef.TRUNCATED_POWER_LAW else np.square
    f = lambda t, k=0: float(t**k if k < 2 else h(t)) * math.exp(-th[0] * t - th[1] * h(t))  # noqa: E731
    hi = min(top, 200.0)
    z = integrate.quad(f, 0.0, hi, limit=400, epsabs=0.0, epsrel=1e-12)[0]
    part = ef.log_partition(np.array(th), top, family, moments=True)
    assert part.a == pytest.approx(math.log(z), rel=1e-10, abs=1e-12)
    mean_t = integrate.quad(lambda t: f(t, 1), 0.0, hi, limit=400, epsrel=1e-12)[0] / z
    mean_h = integrate.quad(lambda t: f(t, 2), 0.0, hi, limit=400, epsrel=1e-12)[0] / z
    assert part.mean == pytest.approx([mean_t, mean_h], rel=1e-8)
    assert np.all(np.linalg.eigvalsh(part.cov) > 0)


def test_newton_matches_moments() -> None:
    """At an interior optimum the model's mean of (t, h) equals the sample's (the score)."""
    rng = np.random.default_rng(5)
    t = np.abs(rng.normal(1.0, 0.7, 2000))
    m = np.array([t.mean(), (t * t).mean()])
    th, a = ef.newton(m, math.inf, ef.LOGNORMAL, np.array([0.0, 1.0]),
                      np.array([-math.inf, 1e-10]))  # fmt: skip
    part = ef.log_partition(th, math.inf, ef.LOGNORMAL, moments=True)
    assert part.a == a
    assert part.mean == pytest.approx(m, rel=1e-7)
