"""Robust fit of the Marchenko-Pastur law to an empirical spectral density (ESD).

The law itself (density, CDF, quantiles, bulk edges, Tracy-Widom scale) is in
:mod:`htsr.fit.mp_law`; it is re-exported here for the callers that import it from this module.

Units are those of docs/definitions.md, section 1: the eigenvalues of ``X = W^T W / N`` for an
``N x M`` matrix ``W`` with ``N >= M`` and ``Q = N / M >= 1``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from htsr._validation import is_positive_number
from htsr.fit._data import EigenSample, as_sample
from htsr.fit.mp_law import (
    _ppf_table,
    mp_cdf,
    mp_edges,
    mp_pdf,
    mp_ppf,
    tw_scale,
)
from htsr.fit.status import FitStatus

#: Tracy-Widom margin: an eigenvalue is a spike when it exceeds ``l+ + TW_MARGIN * tw``.
#: Chosen from 2120 pure Gaussian draws over M in 128..2048 and Q in 1..8
#: (``python bench/calibrate_tw_margin.py``): ``z = (lambda_max - l+_fit) / tw_fit`` had 99%
#: quantile 1.93, 99.5% quantile 2.34 and maximum 3.25 (``z > 2.5`` in 0.33% of draws, ``z > 3``
#: in 0.05%). 3.5 is above every draw. Planted spikes lower the bulk (each takes
#: ``y (1 + 1/theta)`` of its mass), which puts the top bulk eigenvalue further below the fitted
#: edge, so the margin stays conservative with spikes; with 3.0 one 2048 x 8192 draw carrying three
#: near-critical spikes showed a bulk eigenvalue at z = 3.35. TW1's 99% quantile is 2.02.
TW_MARGIN = 3.5
#: Fewest eigenvalues :func:`fit_mp` accepts (the quantile fit then has 12 points in 5%-80%).
MIN_EVALS = 16
#: Central probability range of the bulk used for the quantile fit: ``(P_LOW, P_HIGH)``. The top
#: is left out because spikes and heavy tails live there, the bottom because of the finite-size
#: smearing of the lower edge.
P_LOW, P_HIGH = 0.05, 0.80
_MAX_ITER = 30


def spike_margin(n_slices: int = 1, c: float = TW_MARGIN) -> float:
    r"""TW margin for an ESD pooling ``n_slices`` independent matrices (conv layers).

    The maximum of ``n`` independent TW1 variables exceeds a level ``s`` about ``n`` times as often
    as one does; with the TW1 right tail ``1 - F(s) ~ exp(-2 s^{3/2} / 3)`` the level keeping the
    same false-spike rate is

    .. math:: c_n = \big(c^{3/2} + \tfrac{3}{2} \ln n\big)^{2/3}

    Examples
    --------
    >>> spike_margin(1) == TW_MARGIN, round(spike_margin(9), 2)  # a 3 x 3 conv kernel
    (True, 4.59)
    """
    n = max(int(n_slices), 1)
    if n == 1:
        return float(c)
    return float((max(c, 0.0) ** 1.5 + 1.5 * math.log(n)) ** (2.0 / 3.0))


@dataclass(frozen=True, slots=True)
class MPFit:
    """Marchenko-Pastur fit of an ESD (:func:`fit_mp`).

    Attributes
    ----------
    sigma : float
        Fitted element scale; the bulk is MP(Q, sigma). NaN when the fit failed.
    lambda_plus, lambda_minus : float
        Bulk edges ``sigma^2 (1 +- 1/sqrt(Q))^2``.
    tw : float
        Tracy-Widom scale at ``lambda_plus`` for one ``N x M`` slice (:func:`tw_scale`).
    threshold : float
        Spike threshold ``lambda_plus + c * tw`` with ``c = spike_margin(n_slices, tw_margin)``.
    num_spikes : float
        Number of eigenvalues above ``threshold`` (integer-valued; NaN when the fit failed).
    spike_fraction : float
        ``num_spikes / n_evals``.
    softrank : float
        ``lambda_plus / lambda_max`` (MP soft rank; about 1 for a random matrix, may exceed 1
        slightly since ``lambda_max`` fluctuates around the edge).
    ks : float
        Kolmogorov-Smirnov distance between the bulk eigenvalues (all but the spikes) and the fitted
        MP CDF.
    lambda_max : float
        Largest eigenvalue of the ESD.
    Q : float
        ``N / M``.
    M : int
        Eigenvalues per slice (the matrix's smaller side).
    n_evals, n_bulk, n_slices : int
        Eigenvalues fitted, left in the bulk, and ``n_evals / M`` pooled slices.
    tw_margin : float
        The ``c`` used (after the pooled-slices correction).
    iterations : int
        Rounds of fit-then-remove-spikes.
    method : str
        ``"quantile"``: least-squares match of the bulk's sorted eigenvalues to MP quantiles.
    status : FitStatus
        ``ok`` or why the fit failed.
    message : str
        Details of the status ("" when ok).
    """

    sigma: float
    lambda_plus: float
    lambda_minus: float
    tw: float
    threshold: float
    num_spikes: float
    spike_fraction: float
    softrank: float
    ks: float
    lambda_max: float
    Q: float
    M: int
    n_evals: int
    n_bulk: int
    n_slices: int
    tw_margin: float
    iterations: int
    method: str
    status: FitStatus
    message: str

    @property
    def edges(self) -> tuple[float, float]:
        """``(lambda_minus, lambda_plus)``."""
        return self.lambda_minus, self.lambda_plus

    @property
    def ok(self) -> bool:
        """Whether ``status`` is ``ok``."""
        return self.status is FitStatus.OK

    def pdf(self, x: ArrayLike) -> NDArray[np.float64]:
        """Fitted MP density at ``x`` (NaN when the fit failed)."""
        if not self.ok:
            return np.full(np.shape(x), np.nan)
        return mp_pdf(x, self.Q, self.sigma)

    def cdf(self, x: ArrayLike) -> NDArray[np.float64]:
        """Fitted MP CDF at ``x`` (NaN when the fit failed)."""
        if not self.ok:
            return np.full(np.shape(x), np.nan)
        return mp_cdf(x, self.Q, self.sigma)

    @classmethod
    def failed(cls, status: FitStatus, message: str, **known: Any) -> MPFit:
        """The result of a fit that could not be made: NaN numbers, zero counts.

        ``known`` sets the fields that are known anyway (``Q``, ``M``, ``n_evals``).
        """
        nan = math.nan
        fields: dict[str, Any] = {
            "sigma": nan, "lambda_plus": nan, "lambda_minus": nan, "tw": nan, "threshold": nan,
            "num_spikes": nan, "spike_fraction": nan, "softrank": nan, "ks": nan,
            "lambda_max": nan, "Q": nan, "M": 0, "n_evals": 0, "n_bulk": 0, "n_slices": 0,
            "tw_margin": nan, "iterations": 0, "method": "quantile",
        }  # fmt: skip
        return cls(**(fields | known), status=status, message=message)


def _failed(status: FitStatus, message: str, *, N: object, M: object, n: int) -> MPFit:
    """:meth:`MPFit.failed` with ``Q`` and ``M`` when ``N`` and ``M`` are valid."""
    valid = is_positive_number(N) and is_positive_number(M)
    q = float(N) / float(M) if valid else math.nan  # type: ignore[arg-type]
    m = int(M) if is_positive_number(M) else 0  # type: ignore[call-overload]
    return MPFit.failed(status, message, Q=q, M=m, n_evals=n)


def _ks(x_sorted: NDArray[np.float64], cdf: NDArray[np.float64]) -> float:
    n = len(x_sorted)
    i = np.arange(1, n + 1)
    return float(max(np.max(i / n - cdf), np.max(cdf - (i - 1) / n)))


def _fit_mp_iv(
    evals: ArrayLike | EigenSample, N: object, M: object, tw_margin: float
) -> tuple[EigenSample, tuple[FitStatus, str] | None]:
    """Validate :func:`fit_mp`'s input: the eigenvalue sample, and why it cannot be fitted."""
    if not isinstance(evals, EigenSample):
        try:
            evals = np.asarray(evals, dtype=np.float64).ravel()
        except (TypeError, ValueError) as e:
            bad = EigenSample.rejected(FitStatus.INVALID_INPUT, "not numeric")
            return bad, (FitStatus.INVALID_INPUT, f"`evals` is not numeric: {e}")
    sample = as_sample(evals)
    if not (is_positive_number(N) and is_positive_number(M)):
        return sample, (FitStatus.INVALID_INPUT, f"`N` and `M` must be positive; got {N}, {M}.")
    if N < M:  # type: ignore[operator]
        msg = f"Q = N/M must be >= 1; got N={N}, M={M} (pass the larger side of W as N)."
        return sample, (FitStatus.INVALID_INPUT, msg)
    if not math.isfinite(tw_margin):
        return sample, (FitStatus.INVALID_INPUT, f"`tw_margin` must be finite; got {tw_margin}.")
    if sample.size < MIN_EVALS:
        msg = f"{sample.size} eigenvalues; the MP fit needs at least {MIN_EVALS}."
        return sample, (FitStatus.TOO_FEW_POINTS, msg)
    if not sample.ok:
        return sample, (sample.status, sample.message)
    return sample, None


def fit_mp(
    evals: ArrayLike | EigenSample, N: int, M: int, *, tw_margin: float = TW_MARGIN
) -> MPFit:
    r"""Fit the Marchenko-Pastur law to an ESD, robustly to spikes, and count the spikes.

    Parameters
    ----------
    evals : array_like or EigenSample
        Eigenvalues of ``X = W^T W / N`` (a validated sample, :func:`htsr.fit._data.as_sample`, is
        not validated again). For a conv layer, the pooled eigenvalues of its ``k*k``
        slices (each ``N x M``); ``len(evals)`` is then ``k*k*M``.
    N, M : int
        Shape of one slice, ``N >= M`` (``Q = N/M >= 1``).
    tw_margin : float, default :data:`TW_MARGIN`
        ``c`` in the spike threshold ``lambda_plus + c * tw`` for one slice; for ``n`` pooled slices
        :func:`spike_margin` raises it to keep the false-spike rate.

    Returns
    -------
    MPFit
        Never raises on bad data: ``status`` is ``invalid_input`` (``Q < 1``, NaN/Inf, negative
        eigenvalues), ``too_few_points`` (fewer than :data:`MIN_EVALS`) or ``degenerate`` (all
        eigenvalues zero), with NaN numbers and the reason in ``message``.

    Notes
    -----
    The algorithm, ``O(n log n)`` and about 1 ms for ``n = 4096``:

    1. Sort the eigenvalues; start with no spikes (``k = 0``).
    2. Take the bulk as the ``n_b = n - k`` smallest; their plotting positions are
       ``p_i = (i - 1/2) / n_b``. On the central range ``P_LOW <= p_i <= P_HIGH``, match the sorted
       eigenvalues to the standard MP quantiles ``q_i`` (a scale family: ``x_i ~ sigma^2 q_i``):

       .. math:: \hat\sigma^2 = \sum_i x_i q_i / \sum_i q_i^2

    3. Count the eigenvalues above ``lambda_plus + c * tw`` as spikes; if that count changed, go to
       2 (at most 30 rounds; the bulk always keeps at least half of the eigenvalues).
    4. The KS distance compares the final bulk with the fitted MP CDF.

    The spikes sit above ``P_HIGH``, so they only shift the plotting positions, which step 3
    corrects. Kernel-density refits (WeightWatcher) are avoided entirely.

    References
    ----------
    .. [1] C. H. Martin and M. W. Mahoney, JMLR 22(165), 2021, Sections 3.1 and 5 (MP bulk, soft
       rank, bulk+spikes).
    .. [2] I. M. Johnstone, Ann. Statist. 29(2), 2001 (Tracy-Widom edge).

    Examples
    --------
    >>> from htsr.rmt import gaussian_matrix
    >>> W = gaussian_matrix(1000, 500, sigma=2.0, rng=0)
    >>> fit = fit_mp(np.linalg.eigvalsh(W.T @ W / 1000), 1000, 500)
    >>> round(fit.sigma, 2), fit.num_spikes
    (2.0, 0.0)
    """
    sample, failure = _fit_mp_iv(evals, N, M, tw_margin)
    if failure is not None:
        return _failed(*failure, N=N, M=M, n=sample.size)
    lam = sample.values

    n = lam.size
    lmax = float(lam[-1])
    Q = float(N) / float(M)
    m = int(M)
    n_slices = max(1, round(n / m))
    c = spike_margin(n_slices, tw_margin)
    p_grid, x_grid = _ppf_table(Q)
    lo1, hi1 = mp_edges(Q)
    tw1 = tw_scale(Q, m)
    k, it, s2 = 0, 0, math.nan
    for it in range(1, _MAX_ITER + 1):  # noqa: B007 - `it` is reported
        nb = n - k
        i0 = max(math.ceil(P_LOW * nb - 0.5), 0)
        i1 = min(math.floor(P_HIGH * nb - 0.5), nb - 1)
        x = lam[i0 : i1 + 1]
        q = np.interp((np.arange(i0, i1 + 1) + 0.5) / nb, p_grid, x_grid)
        s2 = float(x @ q / (q @ q))
        thr = s2 * (hi1 + c * tw1)
        k_new = min(int(n - np.searchsorted(lam, thr, side="right")), n // 2)
        if k_new == k:
            break
        k = k_new
    if not s2 > 0.0:
        return _failed(
            FitStatus.DEGENERATE,
            "the bulk is (numerically) zero: more than "
            f"at least {100 * P_HIGH:.0f}% of the eigenvalues vanish.",
            N=N,
            M=M,
            n=n,
        )
    num_spikes = int(n - np.searchsorted(lam, thr, side="right"))
    bulk = lam[: n - num_spikes]
    ks = _ks(bulk, mp_cdf(bulk, Q, math.sqrt(s2)))
    message = ""
    if num_spikes > n // 2:
        message = f"{num_spikes} of {n} eigenvalues above the MP edge: no MP bulk."
    elif it == _MAX_ITER:
        message = f"spike removal did not settle in {_MAX_ITER} rounds."
    return MPFit(
        sigma=math.sqrt(s2),
        lambda_plus=s2 * hi1,
        lambda_minus=s2 * lo1,
        tw=s2 * tw1,
        threshold=thr,
        num_spikes=float(num_spikes),
        spike_fraction=num_spikes / n,
        softrank=s2 * hi1 / lmax,
        ks=ks,
        lambda_max=lmax,
        Q=Q,
        M=m,
        n_evals=n,
        n_bulk=n - num_spikes,
        n_slices=n_slices,
        tw_margin=c,
        iterations=it,
        method="quantile",
        status=FitStatus.OK,
        message=message,
    )


__all__ = [
    "MIN_EVALS",
    "TW_MARGIN",
    "MPFit",
    "fit_mp",
    "mp_cdf",
    "mp_edges",
    "mp_pdf",
    "mp_ppf",
    "spike_margin",
    "tw_scale",
]
