"""Random-matrix ensembles of the HT-SR papers, seeded through ``numpy.random.Generator``.

Every generator returns a new float64 ``N x M`` array (``N >= M`` is not required here) and takes
``rng: np.random.Generator | int | None``, passed to :func:`numpy.random.default_rng`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from htsr._validation import is_int

RNG = np.random.Generator | int | None


def _check_shape(N: int, M: int) -> None:
    for name, v in (("N", N), ("M", M)):
        if not (is_int(v) and v >= 1):
            raise ValueError(f"`{name}` must be an int >= 1; got {v!r}.")


def gaussian_matrix(N: int, M: int, *, sigma: float = 1.0, rng: RNG = None) -> NDArray[np.float64]:
    """``N x M`` matrix of i.i.d. ``Normal(0, sigma^2)`` entries; its ESD is MP(N/M, sigma).

    Examples
    --------
    >>> gaussian_matrix(3, 2, rng=0).shape
    (3, 2)
    """
    _check_shape(N, M)
    return np.random.default_rng(rng).normal(0.0, sigma, size=(N, M))


def bbp_threshold(Q: float) -> float:
    r"""BBP phase-transition strength ``theta_c = 1/sqrt(Q)`` of the spiked-covariance model.

    A population spike ``sigma^2 (1 + theta)`` (see :func:`spiked_matrix`) separates from the MP
    bulk of ``X = W^T W / N`` only when ``theta > theta_c``.

    References
    ----------
    .. [1] J. Baik, G. Ben Arous and S. Peche, "Phase transition of the largest eigenvalue for
       nonnull complex sample covariance matrices", Ann. Probab. 33(5), 2005, Theorem 1.1.

    Examples
    --------
    >>> bbp_threshold(4.0)
    0.5
    """
    return 1.0 / math.sqrt(Q)


def spike_location(theta: float, Q: float, sigma: float = 1.0) -> float:
    r"""Where a population spike of strength ``theta`` lands in the ESD (Baik-Silverstein).

    .. math:: \lambda = \sigma^2 (1 + \theta)(1 + \frac{1}{Q\theta})
              \quad (\theta > 1/\sqrt{Q}); \quad \lambda_+ \text{ otherwise}

    Examples
    --------
    >>> spike_location(1.0, 1.0)  # at theta_c = 1 the spike touches lambda_+ = 4
    4.0
    """
    if theta <= bbp_threshold(Q):
        return sigma**2 * (1.0 + 1.0 / math.sqrt(Q)) ** 2
    return sigma**2 * (1.0 + theta) * (1.0 + 1.0 / (Q * theta))


def spike_strength(
    location: NDArray[np.float64] | float, Q: float, sigma: float = 1.0
) -> NDArray[np.float64]:
    r"""Strength ``theta`` of the spike that lands at ``location``: the inverse of
    :func:`spike_location` on ``theta > theta_c`` (``theta_c`` for locations at or below the edge).

    From ``(1 + theta)(1 + 1/(Q theta)) = L = location / sigma^2``, with ``b = L - 1 - 1/Q``:

    .. math:: \theta = \frac{b + \sqrt{b^2 - 4/Q}}{2}

    The same map holds for an additive rank-one perturbation ``x u v^T`` of an ``N x M`` noise
    matrix with entries of variance ``sigma^2`` (Benaych-Georges & Nadakuditi, Adv. Math. 227,
    2011, Section 3.1), with ``theta = x^2 / (N sigma^2)``; a single large entry ``W_ij = x`` is
    such a perturbation, so ``spike_strength`` of an outlier recovers ``W_ij^2 / (N sigma^2)``.

    Examples
    --------
    >>> float(spike_strength(np.array([4.0]), 1.0)[0])  # the edge itself: theta_c = 1
    1.0
    >>> round(float(spike_strength(spike_location(3.0, 2.0), 2.0)), 12)
    3.0
    """
    b = np.asarray(location, dtype=np.float64) / sigma**2 - 1.0 - 1.0 / Q
    theta = 0.5 * (b + np.sqrt(np.maximum(b * b - 4.0 / Q, 0.0)))
    return np.maximum(theta, bbp_threshold(Q))


def spiked_matrix(
    N: int, M: int, strengths: Sequence[float], *, sigma: float = 1.0, rng: RNG = None
) -> NDArray[np.float64]:
    r"""Spiked-covariance matrix: Gaussian plus rank-``k`` perturbations of given strengths.

    .. math:: W = \sigma Z \Big(I + \sum_k \theta_k v_k v_k^T\Big)^{1/2}
              = \sigma \Big(Z + \sum_k (\sqrt{1 + \theta_k} - 1)(Z v_k) v_k^T\Big)

    with ``Z`` i.i.d. standard normal and ``v_k`` random orthonormal directions. A strength
    above :func:`bbp_threshold` gives a spike at :func:`spike_location`.

    Parameters
    ----------
    strengths : sequence of float
        ``theta_k >= 0``, one per planted direction (``k <= M``).

    Examples
    --------
    >>> W = spiked_matrix(400, 200, [3.0], rng=0)
    >>> bool(np.linalg.eigvalsh(W.T @ W / 400)[-1] > 3.5)  # spike_location(3, 2) = 4.67
    True
    """
    _check_shape(N, M)
    theta = np.asarray(strengths, dtype=np.float64).ravel()
    if theta.size > M or np.any(~np.isfinite(theta)) or np.any(theta < 0):
        raise ValueError(
            f"`strengths` must be at most M={M} finite numbers >= 0; got {strengths!r}."
        )
    gen = np.random.default_rng(rng)
    Z = gen.standard_normal((N, M))
    if theta.size:
        V, _ = np.linalg.qr(gen.standard_normal((M, theta.size)))
        Z = Z + ((Z @ V) * (np.sqrt(1.0 + theta) - 1.0)) @ V.T
    return sigma * Z


def pareto_matrix(
    N: int, M: int, mu: float, *, scale: float = 1.0, rng: RNG = None
) -> NDArray[np.float64]:
    r"""Heavy-tailed matrix: signed Pareto entries with element tail exponent ``mu``.

    .. math:: W_{ij} = \pm\, x_{\min} U^{-1/\mu}, \quad
              P(|W_{ij}| > t) = (t / x_{\min})^{-\mu}, \; t \ge x_{\min}

    (density ``~ 1/|x|^{1+mu}``), the signs fair coins independent of the magnitudes. The papers
    relate the ESD's tail exponent to ``mu``: ``alpha = 1 + mu/2`` for ``mu < 2``, a linear
    relation for ``2 < mu < 4`` (see :mod:`htsr.rmt.calibration`).

    References
    ----------
    .. [1] C. H. Martin and M. W. Mahoney, JMLR 22(165), 2021, Section 3.2 and Table 1.

    Examples
    --------
    >>> float(np.abs(pareto_matrix(10, 10, 1.5, rng=0)).min()) >= 1.0
    True
    """
    _check_shape(N, M)
    if not (math.isfinite(mu) and mu > 0):
        raise ValueError(f"`mu` must be a finite number > 0; got {mu!r}.")
    gen = np.random.default_rng(rng)
    mag = scale * (1.0 - gen.random((N, M))) ** (-1.0 / mu)
    return np.where(gen.random((N, M)) < 0.5, -mag, mag)


def low_rank_matrix(
    N: int, M: int, rank: int, *, sigma: float = 1.0, rng: RNG = None
) -> NDArray[np.float64]:
    r"""Exactly rank-``rank`` matrix ``W = sigma A B / sqrt(rank)``, ``A`` (``N x r``) and ``B``
    (``r x M``) i.i.d. standard normal (so the entries have variance ``sigma^2``).

    Examples
    --------
    >>> int(np.linalg.matrix_rank(low_rank_matrix(50, 40, 3, rng=0)))
    3
    """
    _check_shape(N, M)
    if not (is_int(rank) and 0 <= rank <= min(N, M)):
        raise ValueError(f"`rank` must be an int in [0, min(N, M)={min(N, M)}]; got {rank!r}.")
    gen = np.random.default_rng(rng)
    if rank == 0:
        return np.zeros((N, M))
    A = gen.standard_normal((N, rank))
    B = gen.standard_normal((rank, M))
    return (sigma / math.sqrt(rank)) * (A @ B)


__all__ = [
    "bbp_threshold",
    "gaussian_matrix",
    "low_rank_matrix",
    "pareto_matrix",
    "spike_location",
    "spike_strength",
    "spiked_matrix",
]
