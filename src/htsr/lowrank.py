"""Exact ESD of a low-rank product ``W = L R`` (a LoRA update) without forming ``W``.

Spectrum stage: used by the analysis for :class:`htsr.sources.peft.LowRankRef` tensors.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from htsr.errors import LayerError, LayerSkippedError
from htsr.spectrum import Spectrum


def low_rank_esd(
    left: np.ndarray,
    right: np.ndarray,
    *,
    stored_dtype: str = "float64",
    name: str = "<matrix>",
) -> Spectrum:
    """The nonzero part of the ESD of ``W = left @ right``, computed from the factors.

    With thin QR factorisations ``left = Q_L R_L`` and ``right^T = Q_R R_R`` (``Q`` with
    orthonormal columns, ``R`` of size ``r x r``):

    .. math:: W = Q_L \\, (R_L R_R^T) \\, Q_R^T, \\quad
              s_i(W) = s_i(R_L R_R^T), \\quad \\lambda_i = s_i^2 / N

    so the ``r`` possibly nonzero eigenvalues of ``X = W^T W / N`` are those of the ``r x r``
    core, in ``O((N + M) r^2)`` time and memory; the other ``M - r`` eigenvalues are exactly 0
    and are *not* included: a power-law or MP fit on ``M - r`` zeros means nothing, so the
    ESD of a rank-``r`` update is its ``r`` nonzero eigenvalues (``num_evals = r``).
    ``N``, ``M`` are those of ``W`` (so norms ``s_i^2 = N lambda_i`` are exact).

    Parameters
    ----------
    left : numpy.ndarray
        ``a x r``.
    right : numpy.ndarray
        ``r x b``.
    stored_dtype : str
        dtype the factors were stored in (sets the rank cut-off).
    name : str
        Used in error messages.

    Returns
    -------
    Spectrum
        ``min(r, a, b)`` ascending eigenvalues; ``N = max(a, b)``, ``M = min(a, b)``.

    Raises
    ------
    LayerError
        If the factors hold NaN or Inf, do not multiply, or their product is zero (a LoRA
        adapter at its initialisation has ``B = 0``).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> left, right = rng.standard_normal((50, 3)), rng.standard_normal((3, 40))
    >>> s = low_rank_esd(left, right)
    >>> full = np.linalg.svd(left @ right, compute_uv=False) ** 2 / 50
    >>> bool(np.allclose(s.evals, np.sort(full)[-3:])), s.N, s.M
    (True, 50, 40)
    """
    left = np.asarray(left, dtype=np.float64)
    right = np.asarray(right, dtype=np.float64)
    if left.ndim != 2 or right.ndim != 2 or left.shape[1] != right.shape[0]:
        raise LayerError(name, f"low-rank factors do not multiply: {left.shape} @ {right.shape}")
    if not (np.isfinite(left).all() and np.isfinite(right).all()):
        raise LayerError(name, "weights contain NaN or Inf")
    r_left = np.asarray(np.linalg.qr(left, mode="r"))
    r_right = np.asarray(np.linalg.qr(right.T, mode="r"))
    singular = scipy.linalg.svdvals(r_left @ r_right.T)
    N, M = max(left.shape[0], right.shape[1]), min(left.shape[0], right.shape[1])
    evals = np.sort(singular[: min(M, len(singular))] ** 2) / N
    if evals.size == 0 or evals[-1] <= 0:
        raise LayerSkippedError(
            name, "zero update (the factors' product is 0: an untrained adapter?)"
        )
    return Spectrum(evals=evals, N=int(N), M=int(M), stored_dtype=stored_dtype)


__all__ = ["low_rank_esd"]
