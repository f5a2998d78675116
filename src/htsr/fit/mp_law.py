"""The Marchenko-Pastur law: density, CDF, quantiles, bulk edges and Tracy-Widom scale.

The law lives in :mod:`htsr.fit` rather than :mod:`htsr.rmt` so that the fits never import the
random-matrix ensembles (which use the fits for calibration); :mod:`htsr.fit.mp` (the fit) and
:mod:`htsr.rmt` re-export it.

Units: the eigenvalues of ``X = W^T W / N`` for an ``N x M``
matrix ``W`` with ``N >= M`` and ``Q = N / M >= 1``.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

#: Grid size of the tabulated MP quantile function used inside :func:`fit_mp` (relative error
#: of linear interpolation in the angle variable ~ (pi / n)^2 / 8 ~ 1e-7).
_PPF_GRID = 4097


def _check_q(Q: float) -> float:
    Q = float(Q)
    if not (math.isfinite(Q) and Q >= 1.0):
        raise ValueError(f"`Q` must be a finite number >= 1 (Q = N / M with N >= M); got {Q}.")
    return Q


def mp_edges(Q: float, sigma: float = 1.0) -> tuple[float, float]:
    r"""Edges ``(lambda_minus, lambda_plus)`` of the Marchenko-Pastur bulk.

    .. math:: \lambda_\pm = \sigma^2 (1 \pm 1/\sqrt{Q})^2

    Examples
    --------
    >>> mp_edges(4.0)
    (0.25, 2.25)
    """
    Q = _check_q(Q)
    s = 1.0 / math.sqrt(Q)
    return sigma**2 * (1.0 - s) ** 2, sigma**2 * (1.0 + s) ** 2


def tw_scale(Q: float, M: int, sigma: float = 1.0) -> float:
    r"""Tracy-Widom scale of the top eigenvalue of ``X = W^T W / N`` (``W`` is ``N x M``).

    .. math:: t_W = \sigma^2 (1 + 1/\sqrt{Q})^{4/3} \, Q^{-1/2} M^{-2/3}

    This is Johnstone's scale ``(sqrt(N) + sqrt(M)) (1/sqrt(N) + 1/sqrt(M))^(1/3)`` with ``(N, M)``
    in place of ``(N - 1, M)``, divided by ``N``; the centring is ``lambda_plus`` (constant 1). Then
    ``(lambda_max - lambda_plus) / tw`` tends to the TW1 law (mean -1.21, 99% quantile 2.02).

    References
    ----------
    .. [1] I. M. Johnstone, "On the distribution of the largest eigenvalue in principal components
       analysis", Ann. Statist. 29(2), 2001, Theorem 1.

    Examples
    --------
    >>> round(tw_scale(1.0, 1000), 6)  # 2**(4/3) * 1000**(-2/3)
    0.025198
    """
    Q = _check_q(Q)
    return float(
        sigma**2 * (1.0 + 1.0 / math.sqrt(Q)) ** (4.0 / 3.0) / math.sqrt(Q) * M ** (-2.0 / 3.0)
    )


def mp_pdf(x: ArrayLike, Q: float, sigma: float = 1.0) -> NDArray[np.float64]:
    r"""Marchenko-Pastur density of the eigenvalues of ``X = W^T W / N``.

    .. math:: \rho(\lambda) = \frac{Q}{2\pi\sigma^2\lambda}
              \sqrt{(\lambda_+ - \lambda)(\lambda - \lambda_-)}, \quad \lambda_- \le \lambda \le
              \lambda_+

    and 0 elsewhere (no atom at zero since ``Q >= 1``).

    References
    ----------
    .. [1] C. H. Martin and M. W. Mahoney, "Implicit self-regularization in deep neural networks",
       JMLR 22(165), 2021, Section 3.1, eq. (8).

    Examples
    --------
    >>> round(float(mp_pdf(1.0, 1.0)), 12)  # sqrt(3) / (2 pi)
    0.275664447711
    """
    lo, hi = mp_edges(Q, sigma)
    x = np.asarray(x, dtype=np.float64)
    inside = (x > lo) & (x < hi)
    xs = np.where(inside, x, 0.5 * (lo + hi))
    val = Q / (2.0 * np.pi * sigma**2 * xs) * np.sqrt((hi - xs) * (xs - lo))
    return np.where(inside, val, 0.0)


def mp_cdf(x: ArrayLike, Q: float, sigma: float = 1.0) -> NDArray[np.float64]:
    r"""Marchenko-Pastur CDF, in closed form.

    With ``y = 1/Q``, ``a, b = lambda_-, lambda_+`` for ``sigma = 1`` and
    ``R(t) = sqrt((b - t)(t - a))``, for ``a <= t = x / sigma^2 <= b``:

    .. math:: F(t) = \frac{1}{2\pi y}\Big[R(t) + \frac{a+b}{2}\big(\arcsin u + \frac{\pi}{2}\big)
              - \sqrt{ab}\,\big(\arcsin v + \frac{\pi}{2}\big)\Big],\;
              u = \frac{2t - a - b}{b - a},\; v = \frac{(a+b)t - 2ab}{t(b - a)}

    (the antiderivative of the density; checked against numerical quadrature in the tests),
    evaluated as ``arcsin u + pi/2 = 2 arcsin sqrt((t - a)/(b - a))`` and
    ``arcsin v + pi/2 = 2 arcsin sqrt(b (t - a) / (t (b - a)))``, free of cancellation at the
    lower edge.

    Examples
    --------
    >>> round(float(mp_cdf(2.0, 1.0)), 12)  # 1/2 + 1/pi: 82% of MP(Q=1) lies below the centre 2
    0.818309886184
    """
    Q = _check_q(Q)
    y = 1.0 / Q
    a, b = mp_edges(Q)
    t = np.asarray(x, dtype=np.float64) / sigma**2
    tc = np.clip(t, a, b)
    tc = np.where(tc > 0.0, tc, np.finfo(np.float64).tiny)
    r = np.sqrt(np.maximum((b - tc) * (tc - a), 0.0))
    # arcsin(u) + pi/2 = 2 arcsin(sqrt((1 + u) / 2)), with 1 + u and 1 + v written without
    # cancellation (exact near the lower edge, where F is tiny)
    au = 2.0 * np.arcsin(np.sqrt(np.clip((tc - a) / (b - a), 0.0, 1.0)))
    av = 2.0 * np.arcsin(np.sqrt(np.clip(b * (tc - a) / (tc * (b - a)), 0.0, 1.0)))
    f = r + 0.5 * (a + b) * au - math.sqrt(a * b) * av
    f = f / (2.0 * np.pi * y)
    return np.where(t <= a, 0.0, np.where(t >= b, 1.0, np.clip(f, 0.0, 1.0)))


def mp_ppf(p: ArrayLike, Q: float, sigma: float = 1.0) -> NDArray[np.float64]:
    r"""Marchenko-Pastur quantile function: the ``x`` with ``mp_cdf(x) = p``.

    Solved by bisection (60 steps, to machine precision) in the angle ``theta`` of
    ``x = a + (b - a) sin^2(theta / 2)``, in which the CDF is smooth at both edges.

    Examples
    --------
    >>> round(float(mp_ppf(0.5 + 1 / math.pi, 1.0)), 12)
    2.0
    """
    Q = _check_q(Q)
    p = np.asarray(p, dtype=np.float64)
    a, b = mp_edges(Q)
    lo = np.zeros_like(p)
    hi = np.full_like(p, np.pi)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        below = mp_cdf(a + (b - a) * np.sin(0.5 * mid) ** 2, Q) < p
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    x = a + (b - a) * np.sin(0.25 * (lo + hi)) ** 2
    x = np.where(p <= 0.0, a, np.where(p >= 1.0, b, x))
    return np.where(np.isnan(p), np.nan, x * sigma**2)


@functools.lru_cache(maxsize=32)
def _ppf_table(Q: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Tabulated standard MP quantile function ``(p_grid, x_grid)`` for ``np.interp``.

    Cached by ``Q`` (a model has few distinct shapes); the arrays are read-only.
    """
    a, b = mp_edges(Q)
    x = a + (b - a) * np.sin(np.linspace(0.0, 0.5 * np.pi, _PPF_GRID)) ** 2
    p = mp_cdf(x, Q)
    p.setflags(write=False)
    x.setflags(write=False)
    return p, x


__all__ = ["mp_cdf", "mp_edges", "mp_pdf", "mp_ppf", "tw_scale"]
