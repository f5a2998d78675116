"""How far a model moved from another (a fine-tune from its base), layer by layer."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from htsr._validation import is_int
from htsr.errors import LayerError
from htsr.layers import make_layer
from htsr.rmt.randomize import log_wasserstein
from htsr.sources import TensorRef, open_model
from htsr.sources.delta import merged
from htsr.sources.peft import LowRankRef
from htsr.spectrum import esd

#: Default number of singular directions in :func:`subspace_overlap`.
TOP_K = 10
_COLUMNS = (
    "name",
    "shape",
    "frobenius_distance",
    "relative_distance",
    "spectral_norm_ratio",
    "relative_spectral_distance",
    "subspace_overlap",
    "k",
    "esd_distance",
    "status",
)


def _matrix(array: np.ndarray) -> np.ndarray:
    """A tensor as one matrix: ``out x (in * prod(kernel))`` for convolutions."""
    return array.reshape(array.shape[0], -1)


def top_right_singular_vectors(matrix: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` leading right singular vectors of ``matrix`` oriented ``N x M`` (``N >= M``),
    i.e. the leading eigenvectors of ``X = W^T W / N``, as the columns of an ``M x k`` array."""
    w = np.asarray(matrix, dtype=np.float64)
    if w.shape[0] < w.shape[1]:
        w = w.T
    _, vectors = np.linalg.eigh(w.T @ w)
    top: np.ndarray = vectors[:, ::-1][:, :k]
    return top


def subspace_overlap(a: np.ndarray, b: np.ndarray, *, k: int = TOP_K) -> float:
    """Overlap of the top-``k`` singular subspaces of two matrices of the same shape.

    .. math:: O_k = \\frac{1}{k} \\| V_a^T V_b \\|_F^2
              = \\frac{1}{k} \\sum_{i=1}^{k} \\cos^2 \\theta_i

    with ``V`` the ``k`` leading right singular vectors (of the matrix oriented ``N x M``,
    ``N >= M``: the eigenvectors of ``X = W^T W / N``) and ``theta_i`` the principal angles
    between the two subspaces (Björck & Golub, Math. Comp. 27, 1973). 1 for the same subspace,
    ``k / M`` expected for independent random subspaces, 0 for orthogonal ones.

    Examples
    --------
    >>> import numpy as np
    >>> w = np.random.default_rng(0).standard_normal((40, 20))
    >>> round(subspace_overlap(w, 3 * w, k=5), 12)
    1.0
    """
    k = min(k, min(a.shape))
    va, vb = top_right_singular_vectors(a, k), top_right_singular_vectors(b, k)
    return float(np.sum((va.T @ vb) ** 2) / k)


def _pair_row(ref: TensorRef, base: TensorRef, k: int) -> dict[str, Any]:
    w = merged(base, ref) if isinstance(ref, LowRankRef) else np.array(ref.load(), dtype=np.float64)
    w0 = np.array(base.load(), dtype=np.float64)
    if not (np.isfinite(w).all() and np.isfinite(w0).all()):
        raise LayerError(ref.name, "weights contain NaN or Inf")
    layer = make_layer(base)
    spectra = [esd(layer.slices(x), name=ref.name) for x in (w, w0)]
    frob = float(np.linalg.norm(w - w0))
    frob_base = float(np.linalg.norm(w0))
    delta_max = (
        float(np.sqrt(esd(layer.slices(w - w0), name=ref.name).sv_max_squared)) if frob > 0 else 0.0
    )
    s_max, s_max_base = (math.sqrt(s.sv_max_squared) for s in spectra)
    k_used = min(k, min(_matrix(w).shape))
    return {
        "frobenius_distance": frob,
        "relative_distance": frob / frob_base,
        "spectral_norm_ratio": s_max / s_max_base,
        "relative_spectral_distance": delta_max / s_max_base,
        "subspace_overlap": subspace_overlap(_matrix(w), _matrix(w0), k=k_used),
        "k": k_used,
        "esd_distance": log_wasserstein(spectra[0].evals, spectra[1].evals),
        "status": "ok",
    }


def distances(a: Any, b: Any, *, k: int = TOP_K) -> pd.DataFrame:
    """Per-layer distances of model ``a`` from model ``b`` (e.g. a fine-tune from its base).

    Tensors are paired by name; each pair is loaded, measured and released before the next.
    With ``W = a``'s tensor, ``W_0 = b``'s and ``dW = W - W_0`` (a LoRA adapter ``a`` gives
    ``W = W_0 + s B A``, see :mod:`htsr.sources.peft`):

    - ``frobenius_distance``: ``||dW||_F``;
    - ``relative_distance``: ``||dW||_F / ||W_0||_F``;
    - ``spectral_norm_ratio``: ``||W||_2 / ||W_0||_2``;
    - ``relative_spectral_distance``: ``||dW||_2 / ||W_0||_2``;
    - ``subspace_overlap``: :func:`subspace_overlap` of the top ``k`` right singular
      subspaces (convolution kernels taken as ``out x (in * prod(kernel))`` matrices);
    - ``esd_distance``: Wasserstein-1 distance between the distributions of ``log10 lambda``
      of the two ESDs (:func:`htsr.rmt.randomize.log_wasserstein`; convolution slices pooled),
      in decades: 0 for the same spectrum, 1 when every eigenvalue moved by a factor 10.

    Spectral norms are ``s_max`` of the layer (the largest over a convolution's slices).

    Parameters
    ----------
    a, b : model
        Anything :func:`htsr.analyze` accepts. Never modified.
    k : int, default 10
        Directions in the subspace overlap (capped at the matrix's smaller side).

    Returns
    -------
    pandas.DataFrame
        One row per tensor of ``a`` with 2 or more axes: ``name, shape``, the distances above,
        ``k`` and ``status`` (``ok``, ``skipped: not in base``, ``skipped: shape differs
        (...)``, ``skipped: non-float dtype ...`` or ``error: <reason>`` with NaNs).

    Examples
    --------
    >>> import numpy as np
    >>> w = np.random.default_rng(0).standard_normal((60, 30))
    >>> d = distances({"fc": 1.1 * w}, {"fc": w})
    >>> round(float(d.loc[0, "relative_distance"]), 6)
    0.1
    >>> round(float(d.loc[0, "spectral_norm_ratio"]), 6)
    1.1
    """
    if not is_int(k) or k < 1:
        raise ValueError(f"`k` must be an int >= 1; got {k!r}")
    base_refs = {r.name: r for r in open_model(b).refs}
    rows = []
    for ref in open_model(a).refs:
        if ref.ndim < 2:
            continue
        row: dict[str, Any] = {"name": ref.name, "shape": "x".join(map(str, ref.shape))}
        base = base_refs.get(ref.name)
        if base is None:
            row["status"] = "skipped: not in base"
        elif base.shape != ref.shape:
            row["status"] = f"skipped: shape differs (base {'x'.join(map(str, base.shape))})"
        elif not (ref.is_float and base.is_float):
            row["status"] = f"skipped: non-float dtype {ref.dtype}/{base.dtype}"
        else:
            try:
                row |= _pair_row(ref, base, int(k))
            except LayerError as e:
                row["status"] = f"error: {e.reason}"
        rows.append(row)
    return pd.DataFrame(rows, columns=list(_COLUMNS))


__all__ = ["TOP_K", "distances", "subspace_overlap", "top_right_singular_vectors"]
