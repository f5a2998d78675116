"""Vectorised engine of the power-law xmin scan (private; see :mod:`htsr.fit.powerlaw`).

Notation (docs/powerlaw.md): ``x`` sorted positive data (``n`` values), ``u`` its ``m`` distinct
values, ``first[j]`` the number of data points strictly below ``u[j]`` (so ``first[j] / n`` is
the empirical CDF just below ``u[j]``), ``lu = log(u)``. A candidate is an index ``k`` into ``u``;
its tail is ``x[first[k]:]`` with ``n_k = n - first[k]`` points. Its KS distance, computed as
``powerlaw`` 1.x computes it (left limits of the empirical CDF at the distinct tail values), is

    D_k = max_{j >= k} | T_k(u_j) - (first[j] - first[k]) / n_k |

with ``T_k`` the fitted CDF of the tail.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from htsr.fit import _truncated

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

#: Absolute error allowed for a KS distance computed by the vectorised arithmetic (exp/log, suffix
#: sums) against the same quantity in exact arithmetic. Observed differences to powerlaw 1.5's
#: arithmetic are below 1e-13 on every test set; 1e-9 leaves four decades of room. It only makes
#: the pruning keep a few more candidates: it never changes which candidate wins.
KS_TOL = 1e-9
#: Elements per chunk of the candidate x point matrices (8 MiB of float64 per temporary).
_CHUNK_ELEMS = 1 << 20
#: Number of grid points of the first (bounding) step of :func:`select`.
_GRID_POINTS = 64
#: Half-width (in distinct values) of the witness windows around known maximising points.
_WINDOW = 8


@dataclass(frozen=True, slots=True)
class Sorted:
    """The data prepared once for every candidate (see the module docstring)."""

    x: FloatArray
    u: FloatArray
    lu: FloatArray
    first: IntArray
    rcount: IntArray  # rcount[j] = n - first[j], the number of values >= u[j]
    upper: float | None  # truncation point of a doubly bounded power law, else None

    @property
    def n(self) -> int:
        return int(self.x.size)

    @property
    def m(self) -> int:
        return int(self.u.size)


def sorted_unique(x: FloatArray) -> tuple[FloatArray, IntArray]:
    """``np.unique(x, return_index=True)`` for ``x`` sorted ascending (no sort): the distinct
    values and the index of the first occurrence of each."""
    starts = np.empty(x.size, dtype=bool)
    starts[:1] = True
    np.not_equal(x[1:], x[:-1], out=starts[1:])
    first = np.flatnonzero(starts).astype(np.intp, copy=False)
    return x[first], first


def prepare(x: FloatArray, upper: float | None) -> Sorted:
    """Sort-derived arrays of positive data ``x`` (already sorted ascending)."""
    u, first = sorted_unique(x)
    return Sorted(x=x, u=u, lu=np.log(u), first=first, rcount=x.size - first, upper=upper)


def alphas(s: Sorted, cand: IntArray) -> FloatArray:
    """Maximum-likelihood alpha of every candidate at once, in O(n + len(cand)).

    Untruncated: ``alpha_k = 1 + n_k / sum_{i >= first[k]} ln(x_i / u_k)``, the sum obtained
    from suffix sums of ``y_i = ln(x_i / x_max)`` (small near the top, so short tails keep their
    precision): ``sum = Y[first[k]] - n_k * y[first[k]]``. Truncated at ``upper``: the bounded
    power-law MLE, ``f((alpha - 1) L_k) = mean ln(x / u_k) / L_k`` with ``L_k = ln(upper / u_k)``
    (:func:`htsr.fit._truncated.mle_alpha`).
    """
    y = np.log(s.x) - np.log(s.x[-1])
    suffix = np.cumsum(y[::-1])[::-1]
    i = s.first[cand]
    nk = (s.n - i).astype(np.float64)
    sum_log = suffix[i] - nk * y[i]
    big_l = None if s.upper is None else np.log(s.upper) - s.lu[cand]
    return _truncated.mle_alpha(sum_log, nk, big_l)


def _big_l(s: Sorted, cand: IntArray) -> FloatArray | None:
    """``L = ln(upper / u_k)`` of each candidate as a column (None when untruncated)."""
    return None if s.upper is None else (np.log(s.upper) - s.lu[cand])[:, None]


def _absdiff(s: Sorted, cand: IntArray, b: FloatArray, cols: IntArray) -> FloatArray:
    """``|T - A|`` of candidates (rows) at the distinct values ``u[cols]`` (a new matrix).

    Written with survival functions: ``T - A = R_j / n_k - S_k(u_j)``, ``R_j = n - first[j]``
    the number of values ``>= u_j`` and ``S_k`` the fitted survival function. Entries with
    ``cols < cand`` (below the tail) are 0: ``dl`` is clamped to 0 (``S = 1``) and ``R_j / n_k``
    to 1, which is what the tail's first point gives, so they never change a maximum.
    """
    nk = (s.n - s.first[cand]).astype(np.float64)
    dl = s.lu[cols][None, :] - s.lu[cand][:, None]
    np.maximum(dl, 0.0, out=dl)
    surv = _truncated.survival(b[:, None], dl, _big_l(s, cand), overwrite=True)
    r = s.rcount[cols][None, :] * (1.0 / nk)[:, None]
    np.minimum(r, 1.0, out=r)
    surv -= r
    np.abs(surv, out=surv)
    return surv


def exact_ks(s: Sorted, cand: IntArray, b: FloatArray) -> tuple[FloatArray, IntArray]:
    """KS distance of each candidate and the index of its maximising point; O(len(cand) * m)."""
    out = np.empty(cand.size)
    arg = np.empty(cand.size, dtype=np.intp)
    if cand.size == 0:
        return out, arg
    order = np.argsort(cand, kind="stable")
    step = max(1, _CHUNK_ELEMS // max(s.m, 1))
    for r0 in range(0, cand.size, step):
        rows = order[r0 : r0 + step]
        j0 = int(cand[rows].min())
        diff = _absdiff(s, cand[rows], b[rows], np.arange(j0, s.m))
        pos = diff.argmax(axis=1)
        arg[rows] = pos + j0
        out[rows] = diff[np.arange(rows.size), pos]
    return out, arg


def bounds(
    s: Sorted, cand: IntArray, b: FloatArray, grid: IntArray
) -> tuple[FloatArray, FloatArray]:
    """Lower and upper bounds on each candidate's KS distance from the grid ``u[grid]``.

    ``grid`` must contain ``m - 1``. Lower bound: the largest ``|T - A|`` on the grid (a subset of
    the points of the maximum). Upper bound: for consecutive grid points ``p < q`` of the tail and
    any ``j`` between them, ``S`` and ``R / n_k`` are non-increasing, so
    ``R_j / n_k - S_j <= R_p / n_k - S_q`` and ``S_j - R_j / n_k <= S_p - R_q / n_k``; the tail's
    first point (``S = R / n_k = 1``) opens the first bracket.
    """
    lb = np.empty(cand.size)
    ub = np.empty(cand.size)
    step = max(1, _CHUNK_ELEMS // max(grid.size, 1))
    for r0 in range(0, cand.size, step):
        rows = slice(r0, r0 + step)
        c, bb = cand[rows], b[rows]
        nk = (s.n - s.first[c]).astype(np.float64)
        dl = np.maximum(s.lu[grid][None, :] - s.lu[c][:, None], 0.0)
        surv = _truncated.survival(bb[:, None], dl, _big_l(s, c))
        r = np.minimum(s.rcount[grid][None, :] / nk[:, None], 1.0)
        lb[rows] = np.abs(r - surv).max(axis=1)
        ones = np.ones((c.size, 1))
        s0 = np.concatenate([ones, surv[:, :-1]], axis=1)
        r0_ = np.concatenate([ones, r[:, :-1]], axis=1)
        ub[rows] = np.maximum((r0_ - surv).max(axis=1), (s0 - r).max(axis=1))
    return lb, ub


def _windows(points: IntArray, m: int) -> IntArray:
    w = np.arange(-_WINDOW, _WINDOW + 1)
    cols = np.unique((points[:, None] + w[None, :]).ravel())
    return cols[(cols >= 0) & (cols < m)].astype(np.intp)


def select(s: Sorted, cand: IntArray, b: FloatArray) -> tuple[IntArray, FloatArray]:
    """Candidates that can still have the smallest KS distance, with their exact distances.

    Returns every candidate whose exact (vectorised-arithmetic) distance is within
    ``2 * KS_TOL`` of the smallest one; each other candidate is proved worse by a witness point
    where ``|T - A|`` exceeds an exact distance by more than ``2 * KS_TOL`` (docs/powerlaw.md).

    1. Grid bounds (``_GRID_POINTS`` values) for every candidate; ``U`` = smallest upper bound.
    2. Exact distances for the few candidates with the smallest bounds; ``D*`` = the smallest.
    3. Prune every candidate whose lower bound exceeds ``D* + 2 KS_TOL``.
    4. Raise the survivors' lower bounds with witness windows around the maximising points of
       the exactly evaluated candidates (neighbouring xmins peak at nearly the same point);
       prune again; evaluate the next few survivors exactly; repeat until none is left.
    """
    stride = max(1, s.m // _GRID_POINTS)
    grid = np.arange(0, s.m, stride, dtype=np.intp)
    if grid.size == 0 or grid[-1] != s.m - 1:
        grid = np.append(grid, np.intp(s.m - 1))
    lb, ub = bounds(s, cand, b, grid)
    first = np.unique(np.concatenate([np.argsort(ub)[:2], np.argsort(lb)[:2]]))
    d_done, arg = exact_ks(s, cand[first], b[first])
    done_c, done_d = [cand[first]], [d_done]
    best = float(d_done.min())
    rest = np.ones(cand.size, dtype=bool)
    rest[first] = False
    cand, b, lb = cand[rest], b[rest], lb[rest]
    seen = np.zeros(s.m, dtype=bool)
    new_pts = arg
    batch = 4
    while cand.size:
        keep = lb <= best + 2 * KS_TOL
        cand, b, lb = cand[keep], b[keep], lb[keep]
        cols = _windows(new_pts, s.m)
        cols = cols[~seen[cols]]
        if cols.size and cand.size:
            seen[cols] = True
            lb = np.maximum(lb, _absdiff(s, cand, b, cols).max(axis=1))
            keep = lb <= best + 2 * KS_TOL
            cand, b, lb = cand[keep], b[keep], lb[keep]
        if not cand.size:
            break
        pick = np.argsort(lb, kind="stable")[:batch]
        d_new, new_pts = exact_ks(s, cand[pick], b[pick])
        done_c.append(cand[pick])
        done_d.append(d_new)
        best = min(best, float(d_new.min()))
        rest = np.ones(cand.size, dtype=bool)
        rest[pick] = False
        cand, b, lb = cand[rest], b[rest], lb[rest]
        batch = min(2 * batch, 256)
    all_c, all_d = np.concatenate(done_c), np.concatenate(done_d)
    near = all_d <= float(all_d.min()) + 2 * KS_TOL
    order = np.argsort(all_c[near], kind="stable")
    return all_c[near][order], all_d[near][order]


def scan_all(s: Sorted, cand: IntArray, b: FloatArray) -> FloatArray:
    """Exact KS distance of every candidate, O(len(cand) * m), chunked."""
    return exact_ks(s, cand, b)[0]


def reference_ks(s: Sorted, k: int) -> tuple[float, float]:
    """Alpha and D of candidate ``k`` with the very operations of ``powerlaw`` 1.x (untruncated).

    ``alpha = 1 + n / sum(log(tail / xmin))``; the empirical CDF of the whole data just below each
    distinct value, ``first / n``, renormalised to the tail as ``(F - F0) / (1 - F0)``; the model
    CDF ``1 - (u / xmin) ** (-alpha + 1)``; ``D = max(max(diff), -min(diff))``.
    """
    xmin = s.u[k]
    tail = s.x[s.first[k] :]
    with np.errstate(divide="ignore"):
        alpha = 1.0 + tail.size / np.sum(np.log(tail / xmin))
    f = s.first[k:] / float(s.n)
    actual = (f - f[0]) / (1.0 - f[0])
    theo = _truncated.reference_cdf(s.u[k:] / xmin, alpha)
    diff = theo - actual
    return float(alpha), float(max(diff.max(), -diff.min()))
