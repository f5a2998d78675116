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


#: Elements of ``|W|`` formed at a time by the selection of :func:`_top_abs` (one reused
#: float32 buffer, small enough to stay in cache between its passes).
_CHUNK_ELEMS = 1 << 16
#: The strided sample that sets the selection threshold has about this many entries per side.
_SAMPLE_SIDE = 128


def _as_rows(x: np.ndarray) -> np.ndarray:
    """``x`` as a 2-D array of rows (a view where the layout allows)."""
    if x.ndim == 2:
        return x
    if x.ndim < 2:
        return x.reshape(1, -1)
    return x.reshape(x.shape[0], -1)


def _abs_f32(part: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``|float32(part)|`` written into ``out`` (bf16/fp16 widen exactly; float64 rounds)."""
    if part.dtype == np.float32:
        np.abs(part, out=out)
    else:
        np.copyto(out, part, casting="unsafe")
        np.abs(out, out=out)
    return out


def _threshold(x: np.ndarray) -> float:
    """A value that about ``2 ELEMENT_TAIL_FRACTION`` of the non-zero ``|x_ij|`` exceed: the
    quantile of a strided sample of about ``_SAMPLE_SIDE^2`` entries (0 for a small sample:
    every non-zero entry is then a candidate)."""
    rows, cols = x.shape
    sample = x[:: max(1, rows // _SAMPLE_SIDE), :: max(1, cols // _SAMPLE_SIDE)]
    a = _abs_f32(sample, np.empty(sample.shape, dtype=np.float32)).reshape(-1)
    a = a[a > 0]
    if a.size < 1000:
        return 0.0
    q = int(a.size * (1.0 - 2.0 * ELEMENT_TAIL_FRACTION))
    return float(np.partition(a, q)[q])


def _select(x: np.ndarray, threshold: float) -> tuple[int, np.ndarray]:
    """The number of non-zero, non-NaN ``|x_ij|`` (in float32) and those above ``threshold``
    (at least 0), in one pass over chunks of rows through one reused buffer."""
    rows, cols = x.shape
    step = max(1, _CHUNK_ELEMS // max(cols, 1))
    buffer = np.empty((min(step, rows), cols), dtype=np.float32)
    count = 0
    parts = []
    for start in range(0, rows, step):
        part = x[start : start + step]
        a = _abs_f32(part, buffer[: part.shape[0]]).reshape(-1)
        count += int(np.count_nonzero(a > 0))  # NaN > 0 is False: NaN left out like zeros
        parts.append(a[a > threshold])
    return count, (np.concatenate(parts) if parts else np.empty(0, dtype=np.float32))


def _top_abs(x: np.ndarray) -> np.ndarray | None:
    """The ``k + 1`` largest non-zero, non-NaN ``|float32(x_ij)|`` of :func:`element_tail_index`,
    float64, sorted ascending; None when there are too few.

    Exact, without partitioning the whole matrix: the candidates are the entries above a
    threshold that a strided sample puts near the top ``2 ELEMENT_TAIL_FRACTION``; when fewer
    than ``k + 1`` pass it (a sample far from the whole), every non-zero entry is a candidate.
    The memory is one chunk buffer plus the candidates (about 2% of the matrix), never a copy of
    the matrix.
    """
    x = _as_rows(x)
    if x.size == 0:
        return None
    threshold = _threshold(x)
    count, cand = _select(x, threshold)
    k = max(ELEMENT_TAIL_MIN_COUNT, int(ELEMENT_TAIL_FRACTION * count))
    if count <= k:
        return None
    if cand.size < k + 1:  # the sample's quantile was too high: take every non-zero entry
        count, cand = _select(x, 0.0)
    cand.partition(cand.size - k - 1)
    top: np.ndarray = np.sort(cand[cand.size - k - 1 :]).astype(np.float64)
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
    top = _top_abs(np.asarray(matrix))
    if top is None:
        return math.nan
    k = top.size - 1
    logs = np.log(top / top[0])  # summed smallest first: the value does not depend on the
    total = float(np.sum(logs))  # order in which the selection left the entries
    return k / total if total > 0 else math.nan


__all__ = ["ELEMENT_TAIL_FRACTION", "ELEMENT_TAIL_MIN_COUNT", "element_tail_index"]
