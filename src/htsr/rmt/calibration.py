"""Calibration of the power-law exponent ``alpha`` of the ESD against the element tail ``mu``.

For Pareto matrices (:func:`htsr.rmt.ensembles.pareto_matrix`) the papers relate the tail
exponent of the ESD to the element tail exponent: ``alpha = 1 + mu/2`` for ``mu < 2`` (very heavy
tailed) and ``alpha = a mu + b`` for ``2 < mu < 4`` (moderately heavy tailed), with ``a, b``
depending on the shape at finite size. This module measures ``alpha(mu)`` with the project's own
power-law fit and inverts it at a layer's shape from a shipped table.
"""

from __future__ import annotations

import csv
import functools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources

import numpy as np
import scipy.linalg as sl
from numpy.typing import ArrayLike, NDArray

from htsr._validation import is_int
from htsr.rmt.ensembles import RNG, pareto_matrix

#: ``mu`` range of the very-heavy-tailed relation (JMLR 2021 Table 1: ``alpha = 1 + mu/2``).
VERY_HEAVY = (0.0, 2.0)
#: ``mu`` range of the moderately-heavy-tailed linear relation.
MODERATE = (2.0, 4.0)
#: Above this ``mu`` the ESD is weakly heavy tailed and ``alpha`` no longer identifies ``mu``
#: (JMLR 2021 Table 1): :func:`mu_from_alpha` gives NaN beyond ``alpha(MU_MAX)``.
MU_MAX = 4.0
#: The shipped table (``python bench/make_calibration.py`` regenerates it).
TABLE = "alpha_mu_calibration.csv"
_COLUMNS = ("N", "M", "Q", "mu", "reps", "n_ok", "alpha_mean", "alpha_std", "alpha_median")


@dataclass(frozen=True, slots=True)
class AlphaMuRelation:
    """Least-squares line ``alpha = slope * mu + intercept`` over ``mu_lo < mu < mu_hi``.

    Attributes
    ----------
    slope, intercept : float
        The line (NaN with fewer than 2 points).
    mu_lo, mu_hi : float
        The open ``mu`` range fitted.
    n_points : int
        Calibration points (mean alpha per ``mu``) in the range.
    rmse : float
        Root-mean-square residual of the line.
    """

    slope: float
    intercept: float
    mu_lo: float
    mu_hi: float
    n_points: int
    rmse: float

    def __call__(self, mu: ArrayLike) -> NDArray[np.float64]:
        """``slope * mu + intercept``."""
        return self.slope * np.asarray(mu, dtype=np.float64) + self.intercept

    def formula(self) -> str:
        """The line as text, e.g. ``"alpha = 0.500 mu + 1.000"``."""
        sign = "-" if self.intercept < 0 else "+"
        return f"alpha = {self.slope:.3f} mu {sign} {abs(self.intercept):.3f}"


@dataclass(frozen=True, slots=True)
class Calibration:
    """``alpha`` fitted on Pareto matrices of one shape, over a grid of ``mu``.

    Attributes
    ----------
    N, M : int
        Matrix shape.
    mu : ndarray, shape (k,)
        Element tail exponents.
    alpha : ndarray, shape (reps, k)
        Fitted ``alpha`` per draw (NaN where the fit failed).
    very_heavy : AlphaMuRelation
        Line fitted to the mean alpha over ``mu < 2`` (papers: slope 1/2, intercept 1).
    moderate : AlphaMuRelation
        Line fitted over ``2 < mu < 4``.
    seconds : float
        Wall time of the calibration.
    """

    N: int
    M: int
    mu: NDArray[np.float64]
    alpha: NDArray[np.float64]
    very_heavy: AlphaMuRelation
    moderate: AlphaMuRelation
    seconds: float

    def rows(self) -> list[dict[str, float]]:
        """One dict per ``mu`` with the columns of the shipped table."""
        out = []
        for j, mu in enumerate(self.mu):
            a = self.alpha[:, j]
            ok = a[np.isfinite(a)]
            out.append(
                {
                    "N": self.N,
                    "M": self.M,
                    "Q": self.N / self.M,
                    "mu": float(mu),
                    "reps": a.size,
                    "n_ok": ok.size,
                    "alpha_mean": float(ok.mean()) if ok.size else math.nan,
                    "alpha_std": float(ok.std(ddof=1)) if ok.size > 1 else math.nan,
                    "alpha_median": float(np.median(ok)) if ok.size else math.nan,
                }
            )
        return out


def fit_relation(mu: ArrayLike, alpha: ArrayLike, mu_range: tuple[float, float]) -> AlphaMuRelation:
    """Least-squares line through the finite ``(mu, alpha)`` with ``mu`` strictly inside
    ``mu_range``.

    Examples
    --------
    >>> r = fit_relation([0.5, 1.0, 1.5, 3.0], [1.25, 1.5, 1.75, 9.0], (0.0, 2.0))
    >>> round(r.slope, 6), round(r.intercept, 6), r.n_points
    (0.5, 1.0, 3)
    """
    m = np.asarray(mu, dtype=np.float64)
    a = np.asarray(alpha, dtype=np.float64)
    sel = (m > mu_range[0]) & (m < mu_range[1]) & np.isfinite(a)
    n = int(sel.sum())
    if n < 2:
        return AlphaMuRelation(math.nan, math.nan, *mu_range, n, math.nan)
    slope, intercept = np.polyfit(m[sel], a[sel], 1)
    rmse = float(np.sqrt(np.mean((slope * m[sel] + intercept - a[sel]) ** 2)))
    return AlphaMuRelation(float(slope), float(intercept), *mu_range, n, rmse)


def pareto_alpha(N: int, M: int, mu: float, *, rng: RNG = None) -> float:
    """``alpha`` of the pipeline's power-law fit (:data:`htsr.fit.powerlaw.PIPELINE_FIT`) on the
    ESD of one ``N x M`` Pareto matrix with element exponent ``mu``; NaN when the fit failed.
    """
    from htsr.fit.powerlaw import PIPELINE_FIT

    W = pareto_matrix(N, M, mu, rng=rng)
    G = W.T @ W if N >= M else W @ W.T
    evals = np.maximum(sl.eigvalsh(G / max(N, M)), 0.0)
    fit = PIPELINE_FIT.fit(evals)
    return float(fit.alpha) if str(fit.status) == "ok" else math.nan


def calibrate_alpha(
    N: int, M: int, mus: Sequence[float], *, reps: int = 5, rng: RNG = None
) -> Calibration:
    r"""Fit ``alpha`` on ``reps`` Pareto matrices of shape ``N x M`` for each ``mu`` in ``mus``.

    Each draw ``(j, r)`` uses its own generator spawned from ``rng``, so a table does not depend on
    the order it is computed in. Then two lines are fitted to the mean alpha per ``mu``: over
    ``mu < 2`` (papers: ``alpha = 1 + mu/2``) and over ``2 < mu < 4`` (``alpha = a mu + b``).

    References
    ----------
    .. [1] C. H. Martin and M. W. Mahoney, JMLR 22(165), 2021, Section 3.2, Table 1 and Figure 4.

    Examples
    --------
    >>> cal = calibrate_alpha(200, 100, [1.0, 1.5], reps=1, rng=0)  # doctest: +SKIP
    """
    import time

    if not (is_int(reps) and reps >= 1):
        raise ValueError(f"`reps` must be an int >= 1; got {reps!r}.")
    mu = np.asarray(mus, dtype=np.float64).ravel()
    if mu.size == 0 or np.any(~np.isfinite(mu)) or np.any(mu <= 0):
        raise ValueError(f"`mus` must be finite numbers > 0; got {mus!r}.")
    t0 = time.perf_counter()
    seeds = np.random.SeedSequence(np.random.default_rng(rng).integers(2**63)).spawn(mu.size * reps)
    alpha = np.array(
        [
            [
                pareto_alpha(N, M, float(m), rng=np.random.default_rng(seeds[j * reps + r]))
                for j, m in enumerate(mu)
            ]
            for r in range(reps)
        ]
    )
    with np.errstate(all="ignore"):
        mean = np.array([np.nanmean(c) if np.isfinite(c).any() else math.nan for c in alpha.T])
    return Calibration(
        N=N,
        M=M,
        mu=mu,
        alpha=alpha,
        very_heavy=fit_relation(mu, mean, VERY_HEAVY),
        moderate=fit_relation(mu, mean, MODERATE),
        seconds=time.perf_counter() - t0,
    )


def write_table(rows: Iterable[dict[str, float]], path: str) -> None:
    """Write calibration rows (:meth:`Calibration.rows`) as CSV with the shipped table's columns."""
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=_COLUMNS)
        w.writeheader()
        for row in rows:
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})


@functools.lru_cache(maxsize=1)
def load_table() -> dict[str, NDArray[np.float64]]:
    """The shipped calibration table, as columns (``M``, ``Q``, ``mu``, ``alpha_mean``, ...)."""
    text = resources.files("htsr").joinpath("data", TABLE).read_text()
    rows = list(csv.DictReader(text.splitlines()))
    return {c: np.array([float(r[c]) for r in rows]) for c in _COLUMNS}


def alpha_of_mu(*, N: int, M: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Calibrated ``alpha(mu)`` at shape ``N x M`` from the shipped table: the median over draws
    (robust to the occasional huge alpha of a near-MP ESD at mu > 2).

    Bilinear interpolation in ``(log2 M, log2 Q)`` between the table's shapes; shapes outside the
    grid are clamped to its border (M in [128, 2048], Q in [1, 8] as shipped).
    """
    mus, alpha = _curve(max(N, M), min(N, M))
    return mus.copy(), alpha.copy()


def _frozen(a: NDArray[np.float64]) -> NDArray[np.float64]:
    a.setflags(write=False)
    return a


@functools.lru_cache(maxsize=256)
def _curve(big: int, small: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """:func:`alpha_of_mu` for one shape, computed once per shape (read-only arrays)."""
    t = load_table()
    Ms, Qs, mus = np.unique(t["M"]), np.unique(t["Q"]), np.unique(t["mu"])
    lm = float(np.clip(np.log2(small), np.log2(Ms[0]), np.log2(Ms[-1])))
    lq = float(np.clip(np.log2(big / small), np.log2(Qs[0]), np.log2(Qs[-1])))
    grid = np.full((Ms.size, Qs.size, mus.size), np.nan)
    im, iq, iu = (np.searchsorted(v, t[c]) for v, c in ((Ms, "M"), (Qs, "Q"), (mus, "mu")))
    grid[im, iq, iu] = t["alpha_median"]

    def axis(v: NDArray[np.float64], x: float) -> tuple[int, int, float]:
        lv = np.log2(v)
        i = int(np.clip(np.searchsorted(lv, x) - 1, 0, max(v.size - 2, 0)))
        j = min(i + 1, v.size - 1)
        w = 0.0 if j == i else (x - lv[i]) / (lv[j] - lv[i])
        return i, j, float(w)

    i0, i1, wm = axis(Ms, lm)
    j0, j1, wq = axis(Qs, lq)
    alpha = (
        (1 - wm) * (1 - wq) * grid[i0, j0]
        + wm * (1 - wq) * grid[i1, j0]
        + (1 - wm) * wq * grid[i0, j1]
        + wm * wq * grid[i1, j1]
    )
    return _frozen(mus), _frozen(alpha)


@functools.lru_cache(maxsize=256)
def _envelope(big: int, small: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The monotone part of :func:`alpha_of_mu` up to ``MU_MAX`` that :func:`mu_from_alpha`
    inverts, once per shape: the points where the running maximum strictly increases."""
    mus, curve = _curve(big, small)
    keep = np.isfinite(curve) & (mus <= MU_MAX + 1e-12)
    mus, curve = mus[keep], curve[keep]
    env = np.maximum.accumulate(curve)
    rises = np.r_[True, np.diff(env) > 0]
    return _frozen(mus[rises]), _frozen(env[rises])


def mu_from_alpha(alpha: ArrayLike, *, N: int, M: int) -> float | NDArray[np.float64]:
    r"""Element tail exponent ``mu`` whose Pareto matrices of shape ``N x M`` give this ``alpha``.

    Inverts the project's calibration ``alpha(mu)`` (:func:`alpha_of_mu`, the shipped table
    interpolated at the layer's shape) by linear interpolation over ``mu <= MU_MAX``. The curve is
    first made monotone (running maximum over ``mu``; the points where it does not increase are
    dropped), since draw-to-draw noise can make neighbouring ``mu`` swap order.

    Returns
    -------
    float or ndarray
        ``mu`` (a float for a scalar ``alpha``, else an array of its shape); NaN where ``alpha``
        is NaN or outside the calibrated range ``[alpha(mu_min), alpha(MU_MAX)]`` (beyond
        ``MU_MAX`` the ESD is weakly heavy tailed and ``alpha`` does not determine ``mu``).

    References
    ----------
    .. [1] C. H. Martin and M. W. Mahoney, JMLR 22(165), 2021, Table 1 (universality classes).

    Examples
    --------
    >>> mu = mu_from_alpha(1.5, N=2000, M=1000)
    >>> bool(0.7 < mu < 1.4)  # papers: 1 + mu/2 = 1.5 at mu = 1
    True
    """
    mus, curve = _envelope(max(N, M), min(N, M))
    a = np.asarray(alpha, dtype=np.float64)
    if curve.size < 2:
        out = np.full(a.shape, np.nan)
    else:
        inside = (a >= curve[0]) & (a <= curve[-1])
        out = np.where(inside, np.interp(a, curve, mus), np.nan)
    return float(out) if out.ndim == 0 else out


__all__ = [
    "MODERATE",
    "MU_MAX",
    "VERY_HEAVY",
    "AlphaMuRelation",
    "Calibration",
    "alpha_of_mu",
    "calibrate_alpha",
    "fit_relation",
    "load_table",
    "mu_from_alpha",
    "pareto_alpha",
    "write_table",
]
