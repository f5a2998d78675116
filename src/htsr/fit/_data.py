"""Eigenvalues validated and sorted once, for every fit of a layer (private).

:func:`as_sample` turns any array-like into an :class:`EigenSample`: float64, 1-D, finite,
non-negative up to round-off, sorted ascending, owned (a read-only copy). The fits
(:func:`~htsr.fit.powerlaw.fit_power_law`, :func:`~htsr.fit.alternatives.compare_tail`,
:func:`~htsr.fit.mp.fit_mp`) accept a sample or a plain array; given a sample they skip the
validation and the sort, so :func:`htsr.metrics.fit_layer` validates each layer's eigenvalues
once. Bad data never raises: the sample carries a non-ok ``status`` and the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from htsr.fit.status import FitStatus

#: Values with ``|v| <= ZERO_TOL * max(evals)`` are round-off zeros (the power-law fits drop and
#: count them; the MP fit keeps them as 0); more negative values are invalid input. float64
#: Gram eigenvalues are accurate to ~1e-14 lambda_max (docs/engine.md), so 1e-10 leaves four
#: decades of margin.
ZERO_TOL = 1e-10

_EMPTY = np.empty(0)
_EMPTY.setflags(write=False)


@dataclass(frozen=True, slots=True)
class EigenSample:
    """Eigenvalues checked once: every value, ascending, round-off negatives set to 0.

    Attributes
    ----------
    values : ndarray of float64
        All values, ascending, read-only; values in ``[-ZERO_TOL * max, 0)`` are set to 0.
        Empty unless ``status`` is ok.
    n_zero : int
        Number of round-off zeros, ``|v| <= ZERO_TOL * max`` (the first ``n_zero`` values).
    size : int
        Number of values given (also when they were rejected).
    status : FitStatus
        ``ok``, or ``invalid_input`` (not numeric, not 1-D, empty, NaN/Inf, negative) or
        ``degenerate`` (every value zero).
    message : str
        Why the values were rejected ("" when ok).
    """

    values: NDArray[np.float64]
    n_zero: int
    size: int
    status: FitStatus
    message: str

    @property
    def ok(self) -> bool:
        """Whether the values passed the checks."""
        return self.status is FitStatus.OK

    @property
    def positive(self) -> NDArray[np.float64]:
        """The values above the round-off zeros, ascending (a read-only view)."""
        return self.values[self.n_zero :]

    @classmethod
    def rejected(
        cls, status: FitStatus, message: str, *, size: int = 0, n_zero: int = 0
    ) -> EigenSample:
        """A sample whose values failed the checks (no values kept)."""
        return cls(_EMPTY, n_zero, size, status, message)


def as_sample(evals: ArrayLike | EigenSample) -> EigenSample:
    """Validate and sort ``evals`` once (a sample is returned as it is; never raises).

    Examples
    --------
    >>> s = as_sample([2.0, 0.0, 1.0])
    >>> s.values.tolist(), s.n_zero, s.positive.tolist()
    ([0.0, 1.0, 2.0], 1, [1.0, 2.0])
    >>> as_sample([1.0, float("nan")]).status
    <FitStatus.INVALID_INPUT: 'invalid_input'>
    """
    if isinstance(evals, EigenSample):
        return evals
    invalid = FitStatus.INVALID_INPUT
    try:
        x = np.array(evals, dtype=np.float64)  # a copy: the caller's array is never modified
    except (TypeError, ValueError) as e:
        return EigenSample.rejected(
            invalid, f"evals is not numeric (cannot be read as float64 numbers): {e}"
        )
    if x.ndim != 1:
        return EigenSample.rejected(invalid, f"evals must be 1-D; got shape {x.shape}", size=x.size)
    if x.size == 0:
        return EigenSample.rejected(invalid, "evals is empty")
    bad = int(np.count_nonzero(~np.isfinite(x)))
    if bad:
        return EigenSample.rejected(
            invalid, f"evals contains NaN or Inf ({bad} NaN/Inf values)", size=x.size
        )
    x.sort()
    top = float(x[-1])
    tol = ZERO_TOL * max(top, 0.0)
    if x[0] < -tol:
        neg = int(np.searchsorted(x, -tol, side="left"))
        return EigenSample.rejected(
            invalid,
            f"evals contains {neg} negative values (min {x[0]:.3g}); an ESD is non-negative "
            f"(values within {ZERO_TOL:g} * max of 0 count as zeros)",
            size=x.size,
        )
    n_zero = int(np.searchsorted(x, tol, side="right"))
    if n_zero == x.size:
        return EigenSample.rejected(
            FitStatus.DEGENERATE,
            f"all eigenvalues are zero ({n_zero} values)",
            size=x.size,
            n_zero=n_zero,
        )
    if x[0] < 0.0:
        np.maximum(x, 0.0, out=x)
    x.setflags(write=False)
    return EigenSample(x, n_zero, int(x.size), FitStatus.OK, "")


__all__ = ["ZERO_TOL", "EigenSample", "as_sample"]
