r"""Power-law fit of the tail of an empirical spectral density (Clauset, Shalizi & Newman 2009).

:func:`fit_power_law` reproduces ``powerlaw.Fit(data)`` of the ``powerlaw`` package 1.x (the fit
behind the JMLR 2021 and Nature Communications 2021 results and WeightWatcher): every distinct
data value but the largest is a candidate ``xmin``; for each, alpha is the continuous MLE on the
tail and ``D`` the Kolmogorov-Smirnov distance; the candidate with the smallest ``D`` wins.
It is O(n) for the alphas (suffix sums of logs) and prunes the O(n^2) KS evaluations with
provable lower and upper bounds (docs/powerlaw.md). :func:`power_law_scan` returns the exact
alpha and ``D`` of every candidate (for plots). The alternatives to the power law are in
:mod:`htsr.fit.alternatives`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from htsr._compat import StrEnum
from htsr._validation import is_int, is_positive
from htsr.fit import _plscan, _truncated
from htsr.fit._data import ZERO_TOL, EigenSample, as_sample
from htsr.fit.status import FitStatus

#: Smallest tail a fit accepts: two points (``powerlaw`` 1.x never tries the largest value).
MIN_TAIL = 2


class XminMethod(StrEnum):
    """How ``xmin`` was chosen: ``ks_scan`` (smallest KS distance) or ``fixed`` (given)."""

    KS_SCAN = "ks_scan"
    FIXED = "fixed"


class Fingers(StrEnum):
    """Remedies for "fingers" (a few outliers at the top of the ESD).

    - ``clip_xmax``: refit with the top ``k = 1 .. max_fingers`` values removed (power law
      truncated at the largest kept value); keep the first ``k`` whose alpha is lower than the
      unclipped alpha by more than ``finger_thresh`` (the rule of WeightWatcher's
      ``fix_fingers='clip_xmax'``); keep the unclipped fit if none is.
    """

    CLIP_XMAX = "clip_xmax"


@dataclass(frozen=True, slots=True)
class PowerLawFit:
    r"""Result of :func:`fit_power_law`.

    Attributes
    ----------
    alpha : float
        Exponent of the tail density :math:`p(x) \propto x^{-\alpha}` (MLE). NaN if not fitted.
    xmin : float
        Lower end of the tail (a data value when chosen by the KS scan).
    xmax : float
        Upper end of the tail: the largest eigenvalue when the law is not truncated, else the
        truncation point (the ``xmax`` given, or the largest value kept by ``drop_top`` or by
        the fingers remedy).
    D : float
        Kolmogorov-Smirnov distance between the tail and the fitted law, computed as
        ``powerlaw`` 1.x does (at the distinct tail values, empirical CDF just below each).
    sigma : float
        Standard error of alpha, :math:`(\alpha - 1) / \sqrt{n_\mathrm{tail}}`.
    n_tail : int
        Number of values in ``[xmin, xmax]`` (``num_pl_spikes``); 0 if not fitted.
    n_candidates : int
        Number of candidate xmin values scanned (1 for a fixed xmin).
    n_data : int
        Number of positive, finite values used (after dropping zeros and values above xmax).
    n_dropped : int
        Number of values dropped as zeros (``|v| <= ZERO_TOL * max``).
    n_above_xmax : int
        Number of values removed above ``xmax`` (by ``xmax``, ``drop_top`` or fingers).
    n_fingers : int
        Number of top values the fingers remedy removed (0 when it was off or kept none).
    truncated : bool
        Whether the law is normalised on ``[xmin, xmax]`` (doubly bounded) instead of
        ``[xmin, inf)``.
    method : XminMethod
        How xmin was chosen.
    status : FitStatus
        ``ok`` or why the fit could not be made.
    message : str
        Human-readable details (what was dropped, why it failed).
    """

    alpha: float
    xmin: float
    xmax: float
    D: float
    sigma: float
    n_tail: int
    n_candidates: int
    n_data: int
    n_dropped: int
    n_above_xmax: int
    n_fingers: int
    truncated: bool
    method: XminMethod
    status: FitStatus
    message: str

    @classmethod
    def failed(cls, status: FitStatus, message: str, **known: Any) -> PowerLawFit:
        """The result of a fit that could not be made: NaN numbers, zero counts.

        ``known`` sets the fields that are known anyway (``n_data``, ``n_dropped``,
        ``n_above_xmax``, ...).
        """
        nan = math.nan
        fields: dict[str, Any] = {
            "alpha": nan, "xmin": nan, "xmax": nan, "D": nan, "sigma": nan, "n_tail": 0,
            "n_candidates": 0, "n_data": 0, "n_dropped": 0, "n_above_xmax": 0, "n_fingers": 0,
            "truncated": False, "method": XminMethod.KS_SCAN,
        }  # fmt: skip
        return cls(**(fields | known), status=status, message=message)

    @property
    def ok(self) -> bool:
        """Whether the fit was made (``status == 'ok'``)."""
        return self.status is FitStatus.OK

    def _norm(self) -> float:
        big_l = math.log(self.xmax / self.xmin) if self.truncated else None
        return _truncated.normaliser(self.alpha, big_l)

    def ccdf(self, x: ArrayLike) -> NDArray[np.float64]:
        r"""Survival function :math:`P(X > x)` of the fitted tail law (1 below xmin, NaN if not ok).

        :math:`(x/x_{min})^{1-\alpha}`, or for a truncated law
        :math:`((x/x_{min})^{1-\alpha} - r^{1-\alpha}) / (1 - r^{1-\alpha})`, ``r = xmax/xmin``.
        """
        x = np.asarray(x, dtype=np.float64)
        if not self.ok:
            return np.full(x.shape, np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.clip(x, self.xmin, self.xmax if self.truncated else np.inf) / self.xmin
            if self.truncated:
                top = (self.xmax / self.xmin) ** (1.0 - self.alpha)
                out = (z ** (1.0 - self.alpha) - top) / (1.0 - top)
            else:
                out = z ** (1.0 - self.alpha)
        return np.asarray(out, dtype=np.float64)

    def cdf(self, x: ArrayLike) -> NDArray[np.float64]:
        """``1 - ccdf(x)``."""
        return 1.0 - self.ccdf(x)

    def pdf(self, x: ArrayLike) -> NDArray[np.float64]:
        r"""Density :math:`\frac{\alpha-1}{x_{min}} (x/x_{min})^{-\alpha}` on the tail, else 0.

        Divided by :math:`1 - r^{1-\alpha}`, ``r = xmax/xmin``, when the law is truncated.
        """
        x = np.asarray(x, dtype=np.float64)
        if not self.ok:
            return np.full(x.shape, np.nan)
        hi = self.xmax if self.truncated else np.inf
        inside = (x >= self.xmin) & (x <= hi)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            dens = (self.alpha - 1.0) / self.xmin * (x / self.xmin) ** (-self.alpha) / self._norm()
        return np.where(inside, dens, 0.0)


@dataclass(frozen=True, slots=True)
class PowerLawScan:
    """Exact alpha and KS distance of every candidate xmin (:func:`power_law_scan`).

    Attributes
    ----------
    xmins, alphas, Ds, sigmas : ndarray of float64
        Candidate xmin values (ascending), their MLE alpha, KS distance and standard error.
    n_tails : ndarray of int
        Tail size of each candidate.
    best : int
        Index of the smallest ``Ds`` (first one on ties), -1 if there is no candidate. This is
        an index, not a number standing for a failed value.
    xmax : float
        Upper end of the tails (see :attr:`PowerLawFit.xmax`).
    truncated : bool
        Whether the law is truncated at ``xmax``.
    status : FitStatus
        ``ok`` or why no scan could be made (then the arrays are empty).
    message : str
        Details.
    """

    xmins: NDArray[np.float64]
    alphas: NDArray[np.float64]
    Ds: NDArray[np.float64]
    sigmas: NDArray[np.float64]
    n_tails: NDArray[np.intp]
    best: int
    xmax: float
    truncated: bool
    status: FitStatus
    message: str

    @classmethod
    def failed(cls, status: FitStatus, message: str, **known: Any) -> PowerLawScan:
        """The result of a scan that could not be made: empty arrays, ``best = -1``."""
        empty = np.empty(0)
        fields: dict[str, Any] = {
            "xmins": empty, "alphas": empty, "Ds": empty, "sigmas": empty,
            "n_tails": np.empty(0, dtype=np.intp), "best": -1, "xmax": math.nan,
            "truncated": False,
        }  # fmt: skip
        return cls(**(fields | known), status=status, message=message)


# ---------------------------------------------------------------------------------------------
# input validation

_OPTION_RULES = {
    "xmin": "None or a finite number > 0",
    "xmin_range": "None or a pair (lo, hi) with 0 <= lo <= hi (hi may be inf)",
    "xmax": "None or a finite number > 0",
    "drop_top": "an int >= 0, not combined with xmax",
    "min_tail": f"an int >= {MIN_TAIL}",
    "fingers": "None or one of: " + ", ".join(f.value for f in Fingers),
    "max_fingers": "an int >= 1",
    "finger_thresh": "a finite number > 0",
}


def _bad(name: str, value: Any) -> ValueError:
    return ValueError(f"`{name}` must be {_OPTION_RULES[name]}; got {value!r}.")


@dataclass(frozen=True, slots=True)
class _Options:
    """The options of :func:`fit_power_law`, validated (:func:`_fit_power_law_iv`)."""

    xmin: float | None = None
    xmin_range: tuple[float, float] | None = None
    xmax: float | None = None
    drop_top: int = 0
    min_tail: int = MIN_TAIL
    fingers: Fingers | None = None
    max_fingers: int = 10
    finger_thresh: float = 1.0


def _fit_power_law_iv(
    xmin: Any,
    xmin_range: Any,
    xmax: Any,
    drop_top: Any,
    min_tail: Any,
    fingers: Any = None,
    max_fingers: Any = 10,
    finger_thresh: Any = 1.0,
) -> _Options:
    if xmin is not None and not is_positive(xmin):
        raise _bad("xmin", xmin)
    rng = None
    if xmin_range is not None:
        try:
            lo, hi = (float(v) for v in xmin_range)
        except (TypeError, ValueError):
            raise _bad("xmin_range", xmin_range) from None
        if not (0 <= lo <= hi) or math.isnan(hi) or math.isinf(lo):
            raise _bad("xmin_range", xmin_range)
        if xmin is not None:
            raise ValueError("`xmin` and `xmin_range` cannot both be given.")
        rng = (lo, hi)
    if xmax is not None and not is_positive(xmax):
        raise _bad("xmax", xmax)
    if not is_int(drop_top) or drop_top < 0 or (drop_top > 0 and xmax is not None):
        raise _bad("drop_top", drop_top)
    if not is_int(min_tail) or min_tail < MIN_TAIL:
        raise _bad("min_tail", min_tail)
    fg = None
    if fingers is not None:
        try:
            fg = Fingers(fingers)
        except ValueError:
            raise _bad("fingers", fingers) from None
        if drop_top > 0:
            raise ValueError(
                "`fingers` chooses how many top values to drop; do not give `drop_top`."
            )
    if not is_int(max_fingers) or max_fingers < 1:
        raise _bad("max_fingers", max_fingers)
    if not is_positive(finger_thresh):
        raise _bad("finger_thresh", finger_thresh)
    return _Options(
        xmin=None if xmin is None else float(xmin),
        xmin_range=rng,
        xmax=None if xmax is None else float(xmax),
        drop_top=int(drop_top),
        min_tail=int(min_tail),
        fingers=fg,
        max_fingers=int(max_fingers),
        finger_thresh=float(finger_thresh),
    )


def _restrict(
    x: NDArray[np.float64], xmax: float | None, drop_top: int
) -> tuple[NDArray[np.float64], float | None, int]:
    """Data at most the upper bound, the truncation point (None if untruncated), number removed."""
    if drop_top > 0:
        if drop_top >= x.size:
            return x[:0], None, x.size
        xmax = float(x[x.size - 1 - drop_top])
    if xmax is None:
        return x, None, 0
    kept = x[: int(np.searchsorted(x, xmax, side="right"))]  # x is sorted: the values <= xmax
    return kept, xmax, x.size - kept.size


def _candidates(
    s: _plscan.Sorted, xmin_range: tuple[float, float] | None, min_tail: int
) -> NDArray[np.intp]:
    cand = np.arange(s.m - 1, dtype=np.intp)  # the largest value is never a candidate
    cand = cand[(s.n - s.first[cand]) >= min_tail]
    if xmin_range is not None:
        lo, hi = xmin_range
        cand = cand[(s.u[cand] >= lo) & (s.u[cand] <= hi)]
    return cand


@dataclass(frozen=True, slots=True)
class _Candidate:
    """The chosen tail of one fit (:func:`_scan_fit`, :func:`_fixed_fit`), or why there is none.

    ``alpha`` and ``D`` are NaN and ``status`` is not ok when no tail could be fitted.
    """

    xmin: float
    alpha: float
    D: float
    n_tail: int
    n_candidates: int
    status: FitStatus = FitStatus.OK
    message: str = ""

    @classmethod
    def failed(cls, status: FitStatus, message: str, **known: Any) -> _Candidate:
        nan = math.nan
        fields: dict[str, Any] = {"xmin": nan, "alpha": nan, "D": nan, "n_tail": 0,
                                  "n_candidates": 0}  # fmt: skip
        return cls(**(fields | known), status=status, message=message)


def _scan_fit(
    x: NDArray[np.float64],
    upper: float | None,
    xmin_range: tuple[float, float] | None,
    min_tail: int,
) -> _Candidate:
    """The candidate xmin of the smallest KS distance (the KS scan)."""
    s = _plscan.prepare(x, upper)
    if s.m < 2:
        return _Candidate.failed(FitStatus.DEGENERATE, "all values are equal")
    cand = _candidates(s, xmin_range, min_tail)
    if cand.size == 0:
        msg = f"no candidate xmin leaves a tail of >= {min_tail} points"
        if xmin_range is not None:
            msg += f" with xmin in {list(xmin_range)}"
        return _Candidate.failed(FitStatus.TOO_FEW_POINTS, msg)
    a = _plscan.alphas(s, cand)
    good = np.isfinite(a)
    if not good.any():
        return _Candidate.failed(
            FitStatus.DEGENERATE,
            "no candidate gives a finite alpha (tail values equal to float64 precision)",
            n_candidates=int(cand.size),
        )
    near, d_near = _plscan.select(s, cand[good], a[good] - 1.0)
    if upper is None:
        # Near-ties (within 2 KS_TOL) are decided with powerlaw 1.x's own arithmetic, so the
        # choice is the one it makes; the smallest xmin wins exact ties (numpy argmin).
        ref = [_plscan.reference_ks(s, int(k)) for k in near]
        i = int(np.argmin([r[1] for r in ref]))
        k, (alpha, d) = int(near[i]), ref[i]
    else:
        i = int(np.argmin(d_near))
        k, d = int(near[i]), float(d_near[i])
        alpha = float(_plscan.alphas(s, np.array([k], dtype=np.intp))[0])
    return _Candidate(
        xmin=float(s.u[k]), alpha=alpha, D=d, n_tail=int(s.n - s.first[k]),
        n_candidates=int(cand.size),
    )  # fmt: skip


def _fixed_fit(
    x: NDArray[np.float64], upper: float | None, xmin: float, min_tail: int
) -> _Candidate:
    """The tail above a given xmin (need not be a data value)."""
    i = int(np.searchsorted(x, xmin, side="left"))
    tail = x[i:]
    known = {"xmin": xmin, "n_tail": int(tail.size), "n_candidates": 1}
    if tail.size < min_tail:
        msg = f"{tail.size} values >= xmin={xmin:.6g}; need >= {min_tail}"
        return _Candidate.failed(FitStatus.TOO_FEW_POINTS, msg, **known)
    if tail[-1] == xmin and (upper is None or upper == xmin):
        return _Candidate.failed(FitStatus.DEGENERATE, "all tail values equal xmin", **known)
    u, first = _plscan.sorted_unique(tail)
    nt = tail.size
    big_l = None if upper is None else math.log(upper / xmin)
    with np.errstate(divide="ignore"):
        sum_log = float(np.sum(np.log(tail / xmin)))
    alpha = float(_truncated.mle_alpha(sum_log, nt, big_l))
    if not math.isfinite(alpha):
        msg = "tail values equal xmin to precision"
        return _Candidate.failed(FitStatus.DEGENERATE, msg, **known)
    actual = first / float(nt)
    if big_l is None:
        theo = _truncated.reference_cdf(u / xmin, alpha)  # powerlaw 1.x arithmetic
    else:
        theo = _truncated.cdf(alpha - 1.0, np.log(u / xmin), big_l)
    diff = theo - actual
    return _Candidate(xmin, alpha, float(max(diff.max(), -diff.min())), nt, 1)


def _fit_once(
    x: NDArray[np.float64], n_dropped: int, opts: _Options, *, drop_top: int | None = None
) -> PowerLawFit:
    """One fit of sorted positive ``x`` (``drop_top`` overrides the option: fingers)."""
    top_k = opts.drop_top if drop_top is None else drop_top
    xmax = opts.xmax if drop_top is None else None
    data, upper, n_above = _restrict(x, xmax, top_k)
    counts = {"n_data": int(data.size), "n_dropped": n_dropped, "n_above_xmax": n_above}
    notes = []
    if n_dropped:
        notes.append(f"dropped {n_dropped} zero values")
    if n_above:
        notes.append(f"removed {n_above} values above xmax={upper:.6g}" if upper else "")
    if data.size < MIN_TAIL:
        msg = f"{data.size} positive values left"
        return PowerLawFit.failed(FitStatus.TOO_FEW_POINTS, msg, **counts)
    if opts.xmin is not None:
        c = _fixed_fit(data, upper, opts.xmin, opts.min_tail)
        method = XminMethod.FIXED
    else:
        c = _scan_fit(data, upper, opts.xmin_range, opts.min_tail)
        method = XminMethod.KS_SCAN
    if c.status is not FitStatus.OK:
        return PowerLawFit.failed(c.status, "; ".join([c.message, *filter(None, notes)]), **counts)
    return PowerLawFit(
        alpha=c.alpha,
        xmin=c.xmin,
        xmax=float(data[-1]) if upper is None else upper,
        D=c.D,
        sigma=(c.alpha - 1.0) / math.sqrt(c.n_tail),
        n_tail=c.n_tail,
        n_candidates=c.n_candidates,
        n_fingers=0,
        truncated=upper is not None,
        method=method,
        status=FitStatus.OK,
        message="; ".join(filter(None, notes)),
        **counts,
    )


def fit_power_law(
    evals: ArrayLike | EigenSample,
    *,
    xmin: float | None = None,
    xmin_range: tuple[float, float] | None = None,
    xmax: float | None = None,
    drop_top: int = 0,
    min_tail: int = MIN_TAIL,
    fingers: str | Fingers | None = None,
    max_fingers: int = 10,
    finger_thresh: float = 1.0,
) -> PowerLawFit:
    r"""Fit a power law to the tail of ``evals`` (Clauset, Shalizi & Newman 2009, continuous).

    Parameters
    ----------
    evals : array_like, 1-D, or EigenSample
        Eigenvalues (any order). Zeros (``|v| <= ZERO_TOL * max``) are dropped and counted. A
        sample (:func:`htsr.fit._data.as_sample`) is used as it is, without a new validation.
    xmin : float, optional
        Fixed lower end of the tail (any positive value). Default: chosen by the KS scan.
    xmin_range : (float, float), optional
        Scan only candidates with ``lo <= xmin <= hi``.
    xmax : float, optional
        Truncate: values above are removed and the law is normalised on ``[xmin, xmax]``.
    drop_top : int, default 0
        Remove the ``drop_top`` largest values and truncate at the largest kept value (values
        tied with it are kept).
    min_tail : int, default 2
        Smallest tail a candidate may leave (2 reproduces ``powerlaw`` 1.x).
    fingers : {None, 'clip_xmax'}, default None
        Opt-in remedy for fingers (see :class:`Fingers` and docs/powerlaw.md).
    max_fingers : int, default 10
        Most top values the remedy may remove.
    finger_thresh : float, default 1.0
        Alpha drop that marks a finger (WeightWatcher's default).

    Returns
    -------
    PowerLawFit
        NaN numbers and a non-ok ``status`` when no fit can be made: invalid data (empty,
        NaN/Inf, not 1-D, negative values), degenerate data (all zero, all equal), too few points.

    Raises
    ------
    ValueError
        For an invalid option (the message names it and the rule); never for bad data.

    Notes
    -----
    For a candidate :math:`x_{min}` with tail :math:`x_1..x_n \ge x_{min}`, the MLE is
    (Clauset, Shalizi & Newman 2009, eq. 3.1)

    .. math:: \hat\alpha = 1 + n \Big/ \sum_i \ln(x_i / x_{min}),

    computed for every candidate at once from suffix sums of :math:`\ln x`. ``D`` (eq. 3.9) is
    the largest difference between the fitted CDF :math:`1 - (x/x_{min})^{1-\alpha}` and the
    tail's empirical CDF taken just below each distinct tail value, as ``powerlaw`` 1.x does.
    The xmin with the smallest ``D`` is found with exact pruning: grid bounds prove most
    candidates worse than an upper bound on the minimum, and only the others get the O(n) exact
    distance (docs/powerlaw.md). With a truncation point :math:`x_{max}` the law is
    normalised on :math:`[x_{min}, x_{max}]` and alpha solves the bounded MLE equation
    :math:`\frac{1}{\alpha-1} - \frac{L}{r^{\alpha-1}-1} = \overline{\ln(x/x_{min})}`,
    :math:`L = \ln r`, :math:`r = x_{max}/x_{min}`.

    The default reproduces ``powerlaw.Fit(data)`` 1.x (xmin, alpha and D to 1e-9 relative,
    tested). With ``xmax``, ``powerlaw`` 1.x differs (a Nelder-Mead fit whose continuous
    normaliser uses ``xmax + 1``); ``xmin_range`` here keeps every candidate in the range,
    where ``powerlaw`` 1.x also drops the largest one in the range.

    References
    ----------
    .. [1] A. Clauset, C. R. Shalizi, M. E. J. Newman, "Power-law distributions in empirical
       data", SIAM Review 51(4), 661-703 (2009), eqs. (3.1), (3.2), (3.9).
    .. [2] J. Alstott, E. Bullmore, D. Plenz, "powerlaw: a Python package for analysis of
       heavy-tailed distributions", PLoS ONE 9(1), e85777 (2014).
    .. [3] C. H. Martin, M. W. Mahoney, "Implicit self-regularization in deep neural
       networks", JMLR 22(165), 1-73 (2021), Section 3.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).pareto(2.0, 2000) + 1.0  # density ~ x^-3 above 1
    >>> fit = fit_power_law(x)
    >>> fit.status, round(fit.alpha, 1)
    (<FitStatus.OK: 'ok'>, 3.0)
    """
    opts = _fit_power_law_iv(
        xmin, xmin_range, xmax, drop_top, min_tail, fingers, max_fingers, finger_thresh
    )
    sample = as_sample(evals)
    if not sample.ok:
        return PowerLawFit.failed(sample.status, sample.message, n_dropped=sample.n_zero)
    x, n_dropped = sample.positive, sample.n_zero
    first = _fit_once(x, n_dropped, opts)
    if opts.fingers is None or not first.ok:
        return first
    base, _, n_above = _restrict(x, opts.xmax, 0)
    for k in range(1, min(opts.max_fingers, base.size - MIN_TAIL) + 1):
        clipped = _fit_once(base, n_dropped, opts, drop_top=k)
        if clipped.ok and clipped.alpha + opts.finger_thresh < first.alpha:
            note = f"fingers: removed the top {k} values (alpha {first.alpha:.3g} -> "
            note += f"{clipped.alpha:.3g})"
            return replace(clipped, n_fingers=k, n_above_xmax=clipped.n_above_xmax + n_above,
                           message="; ".join(filter(None, [clipped.message, note])))  # fmt: skip
    return first


def power_law_scan(
    evals: ArrayLike | EigenSample,
    *,
    xmin_range: tuple[float, float] | None = None,
    xmax: float | None = None,
    drop_top: int = 0,
    min_tail: int = MIN_TAIL,
) -> PowerLawScan:
    """Alpha and KS distance of every candidate xmin, exactly (O(n^2), vectorised in chunks).

    Same data handling and options as :func:`fit_power_law`; ``Ds[best]`` and ``alphas[best]``
    agree with the fit's ``D`` and ``alpha`` to ~1e-12 (the fit recomputes its winner with
    ``powerlaw`` 1.x's arithmetic).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).pareto(2.0, 500) + 1.0
    >>> scan = power_law_scan(x)
    >>> bool(scan.xmins[scan.best] == fit_power_law(x).xmin)
    True
    """
    opts = _fit_power_law_iv(None, xmin_range, xmax, drop_top, min_tail)
    failed = PowerLawScan.failed
    sample = as_sample(evals)
    if not sample.ok:
        return failed(sample.status, sample.message)
    data, upper, _ = _restrict(sample.positive, opts.xmax, opts.drop_top)
    if data.size < MIN_TAIL:
        return failed(FitStatus.TOO_FEW_POINTS, f"{data.size} positive values left")
    s = _plscan.prepare(data, upper)
    if s.m < 2:
        return failed(FitStatus.DEGENERATE, "all values are equal")
    cand = _candidates(s, opts.xmin_range, opts.min_tail)
    if cand.size == 0:
        return failed(FitStatus.TOO_FEW_POINTS, f"no candidate leaves >= {opts.min_tail} points")
    a = _plscan.alphas(s, cand)
    good = np.isfinite(a)
    d = np.full(cand.size, np.nan)
    d[good] = _plscan.scan_all(s, cand[good], a[good] - 1.0)
    nt = (s.n - s.first[cand]).astype(np.intp)
    best = int(np.nanargmin(d)) if good.any() else -1
    return PowerLawScan(
        xmins=s.u[cand],
        alphas=a,
        Ds=d,
        sigmas=(a - 1.0) / np.sqrt(nt),
        n_tails=nt,
        best=best,
        xmax=float(data[-1]) if upper is None else upper,
        truncated=upper is not None,
        status=FitStatus.OK if best >= 0 else FitStatus.DEGENERATE,
        message="" if best >= 0 else "no candidate gives a finite alpha",
    )


__all__ = [
    "PIPELINE_FIT",
    "ZERO_TOL",
    "Fingers",
    "PowerLawFit",
    "PowerLawOptions",
    "PowerLawScan",
    "XminMethod",
    "fit_power_law",
    "power_law_scan",
]


@dataclass(frozen=True, slots=True)
class PowerLawOptions:
    """Options of :func:`fit_power_law` as one value (keyword-only arguments of the same names).

    Attributes
    ----------
    min_tail : int
        Fewest points in the tail.
    fingers : str or None
        Finger removal (None: none).
    max_fingers : int
        Largest number of fingers removed.
    finger_thresh : float
        Finger detection threshold.
    """

    min_tail: int = MIN_TAIL
    fingers: str | None = None
    max_fingers: int = 10
    finger_thresh: float = 1.0

    def fit(self, evals: ArrayLike | EigenSample) -> PowerLawFit:
        """:func:`fit_power_law` of ``evals`` with these options (xmin by the KS scan)."""
        return fit_power_law(
            evals,
            min_tail=self.min_tail,
            fingers=self.fingers,
            max_fingers=self.max_fingers,
            finger_thresh=self.finger_thresh,
        )


#: The power-law fit of the pipeline (``analyze``: :func:`htsr.metrics.fit_layer`). The mu
#: calibration (:mod:`htsr.rmt.calibration`) measures ``alpha(mu)`` with this same fit and the
#: phase rules (:mod:`htsr.phases`) read its alpha: change it and the shipped calibration table
#: must be regenerated (``python bench/make_calibration.py``).
PIPELINE_FIT = PowerLawOptions()
