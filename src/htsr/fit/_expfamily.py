r"""Maximum likelihood in two-parameter exponential families on ``[0, T]`` (private engine).

The truncated power law and the lognormal of :mod:`htsr.fit.alternatives` are exponential
families in ``t = ln(x / xmin)`` on ``[0, T]`` (``T = ln(xmax / xmin)``, or ``inf``): the density
of ``t`` is proportional to :math:`e^{-\theta_1 t - \theta_2 h(t)}` with ``h = expm1`` (truncated
power law: ``th1 = alpha - 1``, ``th2 = Lambda xmin``) or ``h = t^2`` (lognormal:
``th2 = 1 / (2 sigma^2)``, ``th1 = -(mu - ln xmin) / sigma^2``). The negative mean
log-likelihood :math:`\theta \cdot (\bar t, \bar h) + A(\theta)` is convex in ``theta``, ``A``
the log-partition; ``A`` and its gradient and Hessian (the mean and covariance of ``(t, h)``)
come from one composite Gauss-Legendre rule (:func:`log_partition`), and projected Newton on
the box ``theta >= lower`` (:func:`newton`) finds the optimum in a few steps. On the box's edge
``th2 = lower`` (``Lambda -> 0``, ``sigma -> inf``) the law tends to the power law.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

_GL_X, _GL_W = np.polynomial.legendre.leggauss(12)
#: The rule covers where the integrand is within e^-CUT of its maximum (relative error ~1e-17).
CUT = 40.0
#: Largest drop of the exponent, and (for expm1) largest width in t, within one panel.
PANEL_DROP, PANEL_WIDTH = 4.0, 1.5
MAX_PANELS = 400


@dataclass(frozen=True, slots=True)
class Family:
    """A family ``exp(-th1 t - th2 h(t))``: its statistic ``h`` and the quadrature span.

    ``span(th1, th2, top)`` returns ``(lo, hi, panels)``, the interval holding the integrand down
    to ``e^-CUT`` of its peak and the number of equal panels, or None when it cannot be covered.
    """

    h: Callable[[FloatArray], FloatArray]
    span: Callable[[float, float, float], tuple[float, float, int] | None]


@dataclass(frozen=True, slots=True)
class Partition:
    """``A(theta)`` and, when asked, the mean and covariance of ``(t, h(t))`` under ``theta``."""

    a: float
    mean: FloatArray
    cov: FloatArray


@functools.lru_cache(maxsize=64)
def _unit_rule(panels: int) -> tuple[FloatArray, FloatArray]:
    """Composite Gauss-Legendre nodes and weights on [0, 1] with ``panels`` equal panels."""
    x = (np.arange(panels)[:, None] + 0.5 * (_GL_X + 1.0)) / panels
    w = np.broadcast_to(_GL_W / (2.0 * panels), x.shape)
    return x.ravel(), w.ravel().copy()


def _span_expm1(b: float, c: float, top: float) -> tuple[float, float, int] | None:
    """Interval and panel count for ``exp(-b t - c expm1(t))`` on ``[0, top]`` (decreasing)."""
    hi = min(top, CUT / b if b > 0 else math.inf, math.log1p(CUT / c) if c > 0 else math.inf)
    if not math.isfinite(hi) or hi <= 0:
        return None
    drop = b * hi + c * math.expm1(hi)
    panels = max(1, math.ceil(drop / PANEL_DROP), math.ceil(hi / PANEL_WIDTH))
    return (0.0, hi, panels) if panels <= MAX_PANELS else None


def _span_square(th1: float, th2: float, top: float) -> tuple[float, float, int] | None:
    """Interval and panel count for ``exp(-th1 t - th2 t^2)`` (th2 > 0) on ``[0, top]``."""

    def phi(t: float) -> float:
        return -th1 * t - th2 * t * t

    vertex = -th1 / (2.0 * th2)
    if vertex <= 0.0:  # decreasing: root of th1 t + th2 t^2 = CUT
        lo, hi = 0.0, min(top, 2.0 * CUT / (th1 + math.sqrt(th1 * th1 + 4.0 * th2 * CUT)))
    elif vertex >= top:  # increasing up to top (finite)
        slope = 2.0 * th2 * (vertex - top)
        lo, hi = max(0.0, top - 2.0 * CUT / (slope + math.sqrt(slope**2 + 4 * th2 * CUT))), top
    else:
        half = math.sqrt(CUT / th2)
        lo, hi = max(0.0, vertex - half), min(top, vertex + half)
    if not (math.isfinite(hi) and hi > lo):
        return None
    peak = phi(min(max(vertex, lo), hi))
    drop = (peak - phi(lo)) + (peak - phi(hi))
    panels = max(1, math.ceil(drop / PANEL_DROP))
    return (lo, hi, panels) if panels <= MAX_PANELS else None


def _expm1(t: FloatArray) -> FloatArray:
    return np.asarray(np.expm1(t), dtype=np.float64)


def _square(t: FloatArray) -> FloatArray:
    return t * t


#: ``h = expm1``: the truncated power law ``x^-alpha e^(-Lambda x)`` in ``t = ln(x / xmin)``.
TRUNCATED_POWER_LAW = Family(_expm1, _span_expm1)
#: ``h = t^2``: the lognormal in ``t = ln(x / xmin)``.
LOGNORMAL = Family(_square, _span_square)

_NO_MOMENTS = np.empty(2), np.empty((2, 2))


def log_partition(th: FloatArray, top: float, family: Family, moments: bool = False) -> Partition:
    """``A = ln int_0^top exp(-th1 t - th2 h(t)) dt`` (inf where the rule cannot cover it) and,
    with ``moments``, the mean and covariance of ``(t, h(t))``."""
    span = family.span(float(th[0]), float(th[1]), top)
    if span is None:
        return Partition(math.inf, np.full(2, math.nan), np.full((2, 2), math.nan))
    lo, hi, panels = span
    x, w = _unit_rule(panels)
    t = lo + (hi - lo) * x
    h = family.h(t)
    phi = -float(th[0]) * t - float(th[1]) * h
    peak = float(phi.max())
    phi -= peak
    wt = w * np.exp(phi, out=phi)
    z = float(wt.sum())
    a = peak + math.log((hi - lo) * z)
    if not moments:
        return Partition(a, *_NO_MOMENTS)
    p = wt / z
    e0, e1 = float(p @ t), float(p @ h)
    d1, d2 = t - e0, h - e1
    pd1 = p * d1
    c12 = float(pd1 @ d2)
    cov = np.array([[float(pd1 @ d1), c12], [c12, float((p * d2) @ d2)]])
    return Partition(a, np.array([e0, e1]), cov)


def _solve2(cov: FloatArray, g: FloatArray) -> FloatArray:
    """``cov^-1 g`` for a 2 x 2 ``cov``: Gaussian elimination with partial pivoting (what
    LAPACK's ``gesv`` does, without its call overhead). LinAlgError when exactly singular."""
    a, b, c, d = float(cov[0, 0]), float(cov[0, 1]), float(cov[1, 0]), float(cov[1, 1])
    g0, g1 = float(g[0]), float(g[1])
    if abs(c) > abs(a):  # pivot on the second row
        a, b, c, d, g0, g1 = c, d, a, b, g1, g0
    if a == 0.0:
        raise np.linalg.LinAlgError("singular matrix")
    lf = c * (1.0 / a)
    u = d - lf * b
    if u == 0.0:
        raise np.linalg.LinAlgError("singular matrix")
    x1 = (g1 - lf * g0) / u
    return np.array([(g0 - b * x1) / a, x1])


def newton(
    m: FloatArray, top: float, family: Family, start: FloatArray, lower: FloatArray
) -> tuple[FloatArray, float]:
    """Minimise the convex ``th . m + A(th)`` over ``th >= lower`` by projected Newton with
    backtracking (Bertsekas 1982: coordinates at their bound with an outward gradient are
    fixed). ``m`` is the sample mean of ``(t, h(t))``. Returns ``th`` and ``A(th)``.

    Each trial point of the line search gets its moments with its ``A`` (one quadrature per
    trial): the accepted one, nearly always the first, needs no second evaluation.
    """
    th = np.maximum(np.asarray(start, dtype=np.float64), lower)
    cur = log_partition(th, top, family, moments=True)
    if not math.isfinite(cur.a):
        raise ArithmeticError("no finite starting point")
    for _ in range(100):
        f = float(th @ m) + cur.a
        g = m - cur.mean
        free = ~((th <= lower) & (g > 0.0))
        step: FloatArray = np.zeros(2)
        if free.all():
            try:
                step = -_solve2(cur.cov, g)
            except np.linalg.LinAlgError:
                step = -g / np.maximum(np.diag(cur.cov), 1e-300)
        elif free.any():
            i = int(np.flatnonzero(free)[0])
            step[i] = -g[i] / cur.cov[i, i]
        decrement = -float(g @ step)
        if not decrement > 1e-14 * max(1.0, abs(f)):
            break
        s = 1.0
        while s > 1e-10:
            new = np.maximum(th + s * step, lower)
            trial = log_partition(new, top, family, moments=True)
            if float(new @ m) + trial.a <= f + 1e-4 * float(g @ (new - th)):
                break
            s *= 0.5
        else:
            break
        th, cur = new, trial
    return th, cur.a


__all__ = ["LOGNORMAL", "TRUNCATED_POWER_LAW", "Family", "Partition", "log_partition", "newton"]
