"""Statistics of a weight matrix's entries (not its spectrum): the tail index of ``|W_ij|``.

Kept apart from :mod:`htsr.metrics` (which re-exports it) so that the per-tensor work a
process-pool worker runs imports no fitting code.
"""

from __future__ import annotations

import math

import numpy as np

#: Entries in the top fraction of ``|W_ij|`` used by :func:`element_tail_index` (at least
#: :data:`ELEMENT_TAIL_MIN_COUNT`). 1% of a 384 x 384 layer is 1474 entries: the Hill estimate
#: of a Pareto ``mu = 3`` tail then has a standard error ``mu / sqrt(k) ~ 0.08``.
ELEMENT_TAIL_FRACTION = 0.01
#: Fewest entries for :func:`element_tail_index` (NaN below).
ELEMENT_TAIL_MIN_COUNT = 50


def _top_abs(x: np.ndarray, *, filter_all: bool) -> np.ndarray | None:
    """The ``k + 1`` largest non-zero ``|x_ij|`` (float64, the smallest first) of
    :func:`element_tail_index`, or None when there are too few.

    One float32 buffer of ``|x|``, partitioned in place: no float64 copy of the matrix and
    no second copy for the selection. Zeros (and, with ``filter_all``, NaNs) are removed
    first, only when there are any; NaNs sort above every number, so a NaN among the
    returned values tells the caller to filter. The same selection, element order and sum as
    ``np.partition(a[a > 0], ...)`` on ``a = |float32(x)|``.
    """
    if x.dtype == np.float32:
        a = np.abs(x, order="C").reshape(-1)
    else:  # a new float32 array (bf16, fp16 widened exactly; float64 rounded), |.| in place
        a = np.array(x, dtype=np.float32, order="C").reshape(-1)
        np.abs(a, out=a)
    if filter_all or np.count_nonzero(a) < a.size:
        a = a[a > 0]
    k = max(ELEMENT_TAIL_MIN_COUNT, int(ELEMENT_TAIL_FRACTION * a.size))
    if a.size <= k:
        return None
    a.partition(a.size - k - 1)
    top: np.ndarray = a[a.size - k - 1 :].astype(np.float64)
    return top


def element_tail_index(matrix: np.ndarray) -> float:
    r"""Hill estimate of the tail exponent ``mu`` of the entries ``|W_ij|``.

    .. math:: \hat\mu = k \Big/ \sum_{i=1}^{k} \ln\big(x_{(i)} / x_{(k+1)}\big)

    with ``x_(1) >= x_(2) >= ...`` the sorted ``|W_ij|`` and ``k`` the top
    :data:`ELEMENT_TAIL_FRACTION` of them (at least :data:`ELEMENT_TAIL_MIN_COUNT`; B. M. Hill,
    "A simple general approach to inference about the tail of a distribution", Ann. Statist.
    3(5), 1975). The universality classes of Martin & Mahoney (JMLR 2021, Table 1) are defined
    by this exponent of the entries: ``mu < 2`` very, ``2 < mu < 4`` moderately heavy tailed.
    Signed Pareto entries give back their ``mu``; Gaussian entries give ~9 at this ``k`` (the
    Hill estimate of a light tail grows with the sample). NaN for fewer than
    ``ELEMENT_TAIL_MIN_COUNT + 1`` non-zero entries.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> W = rng.choice([-1.0, 1.0], (400, 300)) * (rng.pareto(3.0, (400, 300)) + 1)
    >>> round(element_tail_index(W), 1)
    3.0
    """
    top = _top_abs(np.asarray(matrix), filter_all=False)
    if top is not None and np.isnan(top).any():  # NaN entries: left out, like the zeros
        top = _top_abs(np.asarray(matrix), filter_all=True)
    if top is None:
        return math.nan
    k = top.size - 1
    x_k1 = top.min()
    logs = np.log(top / x_k1)
    total = float(np.sum(logs))
    return k / total if total > 0 else math.nan


__all__ = ["ELEMENT_TAIL_FRACTION", "ELEMENT_TAIL_MIN_COUNT", "element_tail_index"]
