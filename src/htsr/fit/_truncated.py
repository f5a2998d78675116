r"""The power law on ``[xmin, xmax]`` (or ``[xmin, inf)``) in one place (private).

Notation (docs/powerlaw.md): ``b = alpha - 1``, ``l = ln(x / xmin)`` and, for a law truncated
at ``xmax``, ``L = ln(xmax / xmin)`` (``None`` when it is not truncated). Then

- survival :math:`S(l) = e^{-b l}`, truncated :math:`S(l) = (e^{-b l} - e^{-b L}) / (1 - e^{-b L})`
  (:func:`survival`, :func:`cdf`);
- normaliser :math:`Z = 1 - e^{-b L}` (1 untruncated; :func:`normaliser`);
- log-density :math:`\ln p(x) = \ln b - \ln x_{min} - \alpha l - \ln Z` (:func:`log_pdf`);
- maximum-likelihood alpha: untruncated :math:`1 + n / \sum l_i` (Clauset, Shalizi & Newman 2009,
  eq. 3.1); truncated, the root of :math:`f(bL) = \bar l / L` with
  :math:`f(t) = 1/t - 1/(e^t - 1)` the mean of an exponential of rate ``t`` cut to ``[0, 1]``
  (:func:`mle_alpha`, :func:`solve_trunc_exp`). The same ``f`` gives the MLE of a truncated
  exponential (:mod:`htsr.fit.alternatives`).

Every formula uses ``expm1`` so that ``b L -> 0`` keeps its precision; at ``|b L| < FLAT`` the law
is uniform in ``l`` (``alpha = 1``).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]

#: ``|b L|`` below which a truncated law is taken as uniform in ``ln x`` (``alpha = 1``).
FLAT = 1e-12


def survival(
    b: ArrayLike, dl: FloatArray, big_l: FloatArray | float | None, *, overwrite: bool = False
) -> FloatArray:
    """``P(X >= x)`` on the tail at ``dl = ln(x / xmin) >= 0`` (broadcast over ``b``, ``big_l``).

    ``overwrite``: ``dl`` may be used as the output buffer (untruncated law only).
    """
    bb = np.asarray(b, dtype=np.float64)
    if big_l is None:
        if overwrite:
            dl *= -bb
            np.exp(dl, out=dl)
            return dl
        return np.asarray(np.exp(-bb * dl), dtype=np.float64)
    big = np.asarray(big_l, dtype=np.float64)
    bl = bb * big
    with np.errstate(divide="ignore", invalid="ignore"):
        top = np.expm1(-bl)
        surv = (np.expm1(-bb * dl) - top) / -top
    flat = np.abs(bl) < FLAT
    if flat.any():
        surv = np.where(flat, 1.0 - dl / big, surv)
    return np.asarray(surv, dtype=np.float64)


def cdf(b: float, dl: FloatArray, big_l: float) -> FloatArray:
    """``P(X < x)`` of the truncated law, ``expm1(-b l) / expm1(-b L)`` (``l / L`` when flat)."""
    if abs(b * big_l) < FLAT:
        return np.asarray(dl / big_l, dtype=np.float64)
    return np.asarray(np.expm1(-b * dl) / math.expm1(-b * big_l), dtype=np.float64)


def reference_cdf(ratio: FloatArray, alpha: float) -> FloatArray:
    """``1 - (x / xmin)^(1 - alpha)`` with the very operations of ``powerlaw`` 1.x (untruncated)."""
    return np.asarray(1.0 - ratio ** (-alpha + 1.0), dtype=np.float64)


def normaliser(alpha: float, big_l: float | None) -> float:
    """``Z = 1 - (xmax / xmin)^(1 - alpha)`` (1 when not truncated)."""
    if big_l is None:
        return 1.0
    return -math.expm1((1.0 - alpha) * big_l)


def log_pdf(lny: FloatArray, xmin: float, alpha: float, big_l: float | None) -> FloatArray:
    """Log-density of the (truncated) power law at ``x = xmin e^lny``, for every point.

    ``ln(alpha - 1) - ln xmin - alpha l - ln Z``. A truncated law may have ``alpha <= 1``
    (``alpha - 1`` and ``Z`` then share their sign; at ``alpha = 1`` the density is
    ``1 / (x L)``); an untruncated one needs ``alpha > 1`` (ValueError otherwise).
    """
    if alpha > 1.0:
        ll = math.log(alpha - 1.0) - math.log(xmin) - alpha * lny
        if big_l is not None:
            ll -= math.log(normaliser(alpha, big_l))
    elif big_l is None:
        raise ValueError(f"an untruncated power law needs alpha > 1; got {alpha}")
    elif alpha == 1.0 or abs((alpha - 1.0) * big_l) < FLAT:
        ll = -math.log(xmin) - lny - math.log(big_l)
    else:  # alpha < 1: ln((1 - alpha) / -Z), -Z = expm1((1 - alpha) L) > 0
        ll = math.log(1.0 - alpha) - math.log(xmin) - alpha * lny
        ll -= math.log(math.expm1((1.0 - alpha) * big_l))
    return np.asarray(ll, dtype=np.float64)


def mean_trunc_exp(t: FloatArray) -> FloatArray:
    """``f(t) = 1/t - 1/expm1(t)``: mean of an exponential of rate ``t`` truncated to [0, 1]."""
    out = np.empty_like(t)
    small = np.abs(t) < 1e-4
    ts = t[small]
    out[small] = 0.5 - ts / 12.0 + ts**3 / 720.0
    tl = t[~small]
    with np.errstate(over="ignore"):
        out[~small] = 1.0 / tl - 1.0 / np.expm1(tl)
    return out


def solve_trunc_exp(q: ArrayLike) -> FloatArray:
    """Solve ``f(t) = q`` for ``q`` in (0, 1) (``f`` decreasing from 1 to 0, ``f(0) = 1/2``).

    Bisection on the bracket ``[-1/(1-q), 1/q]`` (``f(t) < 1/t`` for ``t > 0`` and the symmetry
    ``f(-t) = 1 - f(t)``), vectorised over ``q``, to full float64 resolution. The one solver of
    the package for this equation (the bounded power-law MLE, the truncated exponential's rate).
    """
    q = np.asarray(q, dtype=np.float64)
    if q.size == 1:  # one equation: the same bisection in scalar arithmetic, ~30x faster
        return np.full(q.shape, _solve_one(float(q.reshape(-1)[0])))
    lo = -1.0 / (1.0 - q)
    hi = 1.0 / q
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        above = mean_trunc_exp(mid) > q  # f(mid) > q: the root is to the right
        lo = np.where(above, mid, lo)
        hi = np.where(above, hi, mid)
        if np.all((hi - lo) <= 4e-16 * np.maximum(np.abs(lo), np.abs(hi)) + 1e-300):
            break
    return np.asarray(0.5 * (lo + hi), dtype=np.float64)


def _mean_one(t: float) -> float:
    """:func:`mean_trunc_exp` of one number."""
    if abs(t) < 1e-4:
        return 0.5 - t / 12.0 + t**3 / 720.0
    return 1.0 / t - (1.0 / math.expm1(t) if t < 700.0 else 0.0)


def _solve_one(q: float) -> float:
    """:func:`solve_trunc_exp` of one number (the same bisection and stopping rule)."""
    lo, hi = -1.0 / (1.0 - q), 1.0 / q
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if _mean_one(mid) > q:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 4e-16 * max(abs(lo), abs(hi)) + 1e-300:
            break
    return 0.5 * (lo + hi)


def mle_alpha(sum_log: ArrayLike, n: ArrayLike, big_l: ArrayLike | None) -> FloatArray:
    """Maximum-likelihood alpha from ``sum_log = sum ln(x_i / xmin)`` over ``n`` tail points.

    Untruncated ``1 + n / sum_log``; truncated at ``L``: ``1 + t / L`` with ``f(t) = mean / L``
    (:func:`solve_trunc_exp`; the mean ratio clipped to ``[1e-300, 1 - 1e-16]``). Vectorised.
    """
    s, k = np.asarray(sum_log, dtype=np.float64), np.asarray(n, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        if big_l is None:
            return np.asarray(1.0 + k / s, dtype=np.float64)
        big = np.asarray(big_l, dtype=np.float64)
        q = np.clip(s / k / big, 1e-300, 1.0 - 1e-16)
        return np.asarray(1.0 + solve_trunc_exp(q) / big, dtype=np.float64)


__all__ = [
    "FLAT",
    "cdf",
    "log_pdf",
    "mean_trunc_exp",
    "mle_alpha",
    "normaliser",
    "reference_cdf",
    "solve_trunc_exp",
    "survival",
]
