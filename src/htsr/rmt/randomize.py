"""Randomized ESD: shuffle a weight matrix's elements and compare the two spectra.

Shuffling keeps the element distribution (and so ``||W||_F`` and the trace of the ESD) but
destroys the correlations learned in training. The core computes the shuffled matrix's
eigenvalues with its own spectrum code; this module shuffles and compares.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from htsr._validation import LOG_FLOOR  # raised to before log10: a lost rank is 12 decades down
from htsr.fit.mp import TW_MARGIN, MPFit, fit_mp
from htsr.fit.status import FitStatus


def shuffle_elements(
    W: ArrayLike, rng: np.random.Generator | int | None = None
) -> NDArray[np.float64]:
    """A copy of ``W`` with its elements randomly permuted (all axes together).

    The input is never modified. The same ``rng`` seed gives the same permutation.

    Examples
    --------
    >>> W = np.arange(6.0).reshape(2, 3)
    >>> S = shuffle_elements(W, rng=0)
    >>> S.shape, sorted(S.ravel()) == sorted(W.ravel()), float(W[0, 1])
    ((2, 3), True, 1.0)
    """
    a = np.asarray(W)
    gen = np.random.default_rng(rng)
    return gen.permutation(a.ravel()).reshape(a.shape)


@dataclass(frozen=True, slots=True)
class RandomizedESD:
    """Comparison of an ESD with the ESD of the element-shuffled matrix.

    Attributes
    ----------
    rand_lambda_max : float
        Largest eigenvalue of the randomized ESD.
    rand_distance : float
        Wasserstein-1 distance between the distributions of ``log10`` eigenvalues of the two
        ESDs, in decades (eigenvalues floored at :data:`LOG_FLOOR` times the pair's
        ``lambda_max``). 0 when the spectra coincide.
    num_traps : float
        Correlation traps: randomized-ESD eigenvalues above its own MP edge plus the TW margin
        (``rand_fit.num_spikes``). Integer-valued; NaN when the MP fit of the randomized ESD failed.
    rand_sigma_mp, rand_lambda_plus : float
        MP fit of the randomized ESD.
    rand_fit : MPFit
        That fit, in full.
    status : FitStatus
        ``ok``, or why the comparison could not be made.
    message : str
        Details ("" when ok).
    """

    rand_lambda_max: float
    rand_distance: float
    num_traps: float
    rand_sigma_mp: float
    rand_lambda_plus: float
    rand_fit: MPFit | None
    status: FitStatus
    message: str


def log_wasserstein(a: ArrayLike, b: ArrayLike, *, floor: float = LOG_FLOOR) -> float:
    r"""Wasserstein-1 distance between the distributions of ``log10 a`` and ``log10 b``.

    .. math:: W_1 = \int |F_a(t) - F_b(t)|\, dt \quad (t = \log_{10}\lambda)

    equal to ``mean |sort(log a) - sort(log b)|`` for samples of equal size. Values below
    ``floor * max(a, b)`` are raised to that floor.

    Examples
    --------
    >>> log_wasserstein([1.0, 10.0], [10.0, 100.0])  # every eigenvalue one decade up
    1.0
    """
    from scipy.stats import wasserstein_distance

    x = np.asarray(a, dtype=np.float64).ravel()
    y = np.asarray(b, dtype=np.float64).ravel()
    top = max(float(np.max(x)), float(np.max(y)))
    lx = np.log10(np.maximum(x, floor * top))
    ly = np.log10(np.maximum(y, floor * top))
    if lx.size == ly.size:
        return float(np.mean(np.abs(np.sort(lx) - np.sort(ly))))
    return float(wasserstein_distance(lx, ly))


def compare_randomized(
    evals: ArrayLike, rand_evals: ArrayLike, *, N: int, M: int, tw_margin: float = TW_MARGIN
) -> RandomizedESD:
    r"""Compare an ESD with its randomized (element-shuffled) ESD.

    Parameters
    ----------
    evals, rand_evals : array_like
        Eigenvalues of ``X = W^T W / N`` for ``W`` and for ``shuffle_elements(W, rng)``
        (pooled over slices for conv layers, as in :func:`htsr.fit.mp.fit_mp`).
    N, M : int
        Shape of one slice, ``N >= M``.
    tw_margin : float, default :data:`htsr.fit.mp.TW_MARGIN`
        Margin ``c`` of the trap threshold ``lambda_plus + c * tw`` of the randomized ESD.

    Returns
    -------
    RandomizedESD
        Never raises on bad data: a failed comparison has NaN numbers, a status and a message.

    Notes
    -----
    ``rand_distance`` is the Wasserstein-1 (earth mover's) distance between the two ESDs as
    distributions of ``log10 lambda`` (:func:`log_wasserstein`). It is a true metric, needs no
    binning (unlike WeightWatcher's Jensen-Shannon distance between histograms), and on the log
    scale it weighs a decade of the bulk like a decade of the tail, as the log-log ESD plots of
    HT-SR do; it is in decades, so invariant to the scale of ``W``.

    Traps: the shuffled matrix has i.i.d. entries, so its ESD should be MP. Eigenvalues beyond
    the MP edge fitted to the randomized ESD (:func:`htsr.fit.mp.fit_mp`, robust to a few
    outliers) come from a few unusually large elements: the correlation traps of [1]_.

    References
    ----------
    .. [1] C. H. Martin and M. W. Mahoney, "Heavy-tailed universality predicts trends in test
       accuracies for very large pre-trained deep neural networks", SDM 2020 / arXiv:1901.08278
       (randomized ESDs); WeightWatcher's ``randomize`` option (correlation traps).

    Examples
    --------
    >>> from htsr.rmt import gaussian_matrix
    >>> W = gaussian_matrix(400, 200, rng=0)
    >>> ev = np.linalg.eigvalsh(W.T @ W / 400)
    >>> R = shuffle_elements(W, rng=1)
    >>> r = compare_randomized(ev, np.linalg.eigvalsh(R.T @ R / 400), N=400, M=200)
    >>> r.num_traps, r.rand_distance < 0.05
    (0.0, True)
    """
    x = np.asarray(evals, dtype=np.float64).ravel()
    y = np.asarray(rand_evals, dtype=np.float64).ravel()
    fit = fit_mp(y, N, M, tw_margin=tw_margin)
    nan = math.nan

    def bad(status: FitStatus, message: str) -> RandomizedESD:
        return RandomizedESD(nan, nan, nan, nan, nan, fit, status, message)

    if x.size == 0 or y.size == 0:
        return bad(FitStatus.TOO_FEW_POINTS, "an ESD is empty.")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        return bad(FitStatus.INVALID_INPUT, "an ESD contains NaN or Inf.")
    top = max(float(np.max(x)), float(np.max(y)))
    if top <= 0.0:
        return bad(FitStatus.DEGENERATE, "both ESDs are all zero.")
    dist = log_wasserstein(x, y)
    ok = fit.status is FitStatus.OK
    return RandomizedESD(
        rand_lambda_max=float(np.max(y)),
        rand_distance=dist,
        num_traps=fit.num_spikes,
        rand_sigma_mp=fit.sigma,
        rand_lambda_plus=fit.lambda_plus,
        rand_fit=fit,
        status=FitStatus.OK if ok else fit.status,
        message="" if ok else f"MP fit of the randomized ESD: {fit.message}",
    )


__all__ = [
    "LOG_FLOOR",
    "RandomizedESD",
    "compare_randomized",
    "log_wasserstein",
    "shuffle_elements",
]
