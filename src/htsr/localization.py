r"""Localization of a layer's top eigenvectors, measured only where its entries are heavy tailed.

A single large entry ``W_ij`` on a noise bulk is a rank-one perturbation ``W_ij e_i e_j^T``: the
eigenvector of ``X = W^T W / N`` it creates is (nearly) the coordinate vector ``e_j``, while a
direction learned from data, or planted at random, is spread over all ``M`` coordinates
(Martin & Mahoney, JMLR 22(165), 2021, Section 3: the eigenvectors of heavy-tailed random
matrices localize; WeightWatcher's ``vectors`` option). The inverse participation ratio

.. math:: \mathrm{IPR}(v) = \sum_i v_i^4 \Big/ \Big(\sum_i v_i^2\Big)^2

is ``3 / (M + 2)`` on average for a uniformly random unit vector, with relative fluctuation
``~ sqrt(8 / (3M))``, and 1 for a coordinate vector. :func:`localization_ratio` reports the
largest IPR of the top :data:`TOP_VECTORS` eigenvectors in units of the random vector's, so 1 is
delocalized and ``(M + 2) / 3`` is one column.

The eigenvectors come from the eigenvalues' own tridiagonal reduction
(:func:`htsr.spectrum.esd_with_vectors`), at 1.1-1.5x the values-only solve
(docs/phases.md); still, :func:`spectrum_and_localization` computes them only for layers whose
entries are heavy tailed (``element_mu < MU_MODERATE``), the only layers the rule that reads them
(:mod:`htsr.phases`, rule 4) can change. This module imports no fitting code: the per-tensor
worker (:mod:`htsr.compute`) calls it.
"""

from __future__ import annotations

import math

import numpy as np

from htsr.spectrum import Spectrum, esd, esd_with_vectors

#: Universality-class bound on the entries' tail exponent (JMLR 2021, Table 1: moderately heavy
#: tailed below 4, weakly above): entries with ``element_mu`` below it are heavy tailed. Shared
#: by the worker (whether to compute the eigenvectors) and :mod:`htsr.phases` (its rules).
MU_MODERATE = 4.0
#: Top eigenvectors whose localization is measured. An outlier made by one large entry is among
#: the largest eigenvalues; five covers the 1-3 outliers where the eigenvalues alone cannot
#: tell a tail from a few spikes (docs/phases.md), and costs little more than one (MRRR on the
#: tridiagonal matrix and the back-transform are O(M k); the reduction, O(M^3), is shared).
TOP_VECTORS = 5


def entries_heavy(element_mu: float) -> bool:
    """Whether the entries are heavy tailed: ``element_mu < MU_MODERATE`` (False for NaN).

    Examples
    --------
    >>> entries_heavy(3.2), entries_heavy(9.0), entries_heavy(math.nan)
    (True, False, False)
    """
    return element_mu < MU_MODERATE


def inverse_participation_ratio(vectors: np.ndarray) -> np.ndarray:
    r"""``sum_i v_i^4 / (sum_i v_i^2)^2`` of each column of ``vectors`` (shape ``(M, k)``).

    Examples
    --------
    >>> inverse_participation_ratio(np.array([[1.0, 0.5], [0.0, 0.5], [0.0, 0.5], [0.0, 0.5]]))
    array([1.  , 0.25])
    """
    v = np.asarray(vectors, dtype=np.float64)
    squares = v * v
    ipr: np.ndarray = np.sum(squares * squares, axis=0) / np.sum(squares, axis=0) ** 2
    return ipr


def localization_ratio(vectors: np.ndarray) -> float:
    r"""The largest inverse participation ratio of the columns of ``vectors`` (shape
    ``(M, k)``), over a uniformly random unit vector's expected ``3 / (M + 2)``:

    .. math:: L = \frac{M + 2}{3} \max_j \mathrm{IPR}(v_j)

    ``L ~ 1`` (standard deviation ``~ sqrt(8 / (3M))``) for delocalized vectors, ``(M + 2)/3``
    for a coordinate vector. The expectation is exact: for ``v`` uniform on the sphere,
    ``E[v_i^4] = 3 / (M (M + 2))``.

    Examples
    --------
    >>> round(localization_ratio(np.eye(4)[:, :1]), 3)  # one coordinate: (M + 2) / 3
    2.0
    """
    M = np.asarray(vectors).shape[0]
    return float(np.max(inverse_participation_ratio(vectors)) * (M + 2) / 3)


def spectrum_and_localization(
    matrix: np.ndarray,
    *,
    element_mu: float,
    solver_dtype: str = "float64",
    stored_dtype: str | None = None,
    name: str = "<matrix>",
    device: str | None = None,
) -> tuple[Spectrum, float]:
    """The ESD (:func:`htsr.spectrum.esd`) and, when the entries are heavy tailed
    (:func:`entries_heavy`), the :func:`localization_ratio` of its top :data:`TOP_VECTORS`
    eigenvectors, from the same Gram matrix (:func:`htsr.spectrum.esd_with_vectors`); NaN (and
    no extra work) otherwise.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> W = rng.standard_normal((300, 100))
    >>> W[7, 3] = 100.0  # one large entry: the top eigenvector is e_3
    >>> s, L = spectrum_and_localization(W, element_mu=2.0)
    >>> bool(L > 30), round(spectrum_and_localization(W, element_mu=9.0)[1], 1)
    (True, nan)
    """
    if not entries_heavy(element_mu):
        plain = esd(
            matrix, solver_dtype=solver_dtype, stored_dtype=stored_dtype, name=name, device=device
        )
        return plain, math.nan
    spectrum, top = esd_with_vectors(
        matrix,
        vectors=TOP_VECTORS,
        solver_dtype=solver_dtype,
        stored_dtype=stored_dtype,
        name=name,
        device=device,
    )
    return spectrum, localization_ratio(top)


__all__ = [
    "MU_MODERATE",
    "TOP_VECTORS",
    "entries_heavy",
    "inverse_participation_ratio",
    "localization_ratio",
    "spectrum_and_localization",
]
