"""Eigenvalues of X = W^T W / N: the empirical spectral density (ESD) of a layer.

The Gram matrix of the smaller side is formed in float64 and passed to LAPACK's symmetric
eigensolver (``numpy.linalg.eigvalsh``). Measured here (docs/engine.md) this is 2.7-3.4x
faster than a float64 SVD and accurate to ~1e-14 relative on the bulk. Forming the Gram
squares the condition number, so eigenvalues below ~``M * eps(float64) * lambda_max`` are
round-off; :func:`gram_floor` gives that floor and rank counts never go below it.
A float32 solver is offered for speed; it is not accurate below ~1e-7 lambda_max, so rank
metrics are not computed from it.

With ``device=`` the symmetric eigensolver of the same float64 Gram is torch's
(``torch.linalg.eigvalsh``): on a GPU the Gram is formed there too, on the CPU device by the
same ``syrk`` as without a device (:func:`_forms_gram_on_device`); see :func:`resolve_device`.

:func:`esd_with_vectors` also gives the eigenvectors of the few largest eigenvalues, from the
same Gram matrix and the same tridiagonal reduction as the eigenvalues (LAPACK ``sytrd``,
``sterf``, ``stemr`` on the top few, ``ormqr``; on a torch device one ``torch.linalg.eigh``):
used only where the layer's entries are heavy tailed (:mod:`htsr.localization`).
"""

from __future__ import annotations

import functools
import re
import warnings
from dataclasses import dataclass
from typing import Any

import ml_dtypes
import numpy as np
import scipy.linalg

from htsr._optional import import_optional
from htsr.errors import LayerError, NegativeEigenvalueWarning

#: Solver precisions accepted by :func:`esd`.
SOLVER_DTYPES = ("float64", "float32")
#: Rows of W converted to the solver dtype at a time when forming a Gram matrix; bounds the
#: extra memory to ``_ROW_BLOCK * M * 8`` bytes instead of a float64 copy of the whole layer.
_ROW_BLOCK = 8192
#: Largest block of rows converted at a time when the matrix is not in the solver dtype: one
#: buffer of this size is reused for every block. Small enough to stay in the CPU's cache
#: between the conversion and ``syrk`` (a fresh 16 MiB block per step made the Gram of
#: MiniLM's 30522 x 384 float32 embedding ~1.8x slower; bench/bench_analysis.py, docs/engine.md).
_BLOCK_BYTES = 2**20
#: Largest |w| outside this range is rescaled by a power of two before the Gram is formed.
_SAFE_RANGE = (1e-100, 1e100)
#: Safety factor over ``M * eps`` for the round-off floor of Gram eigenvalues.
_GRAM_FLOOR_FACTOR = 8.0


def gram_floor(M: int, solver_dtype: str = "float64") -> float:
    """Relative size, to lambda_max, below which Gram eigenvalues are round-off.

    .. math:: \\lambda_{floor} / \\lambda_{max} = 8 \\, M \\, \\varepsilon_{solver}

    (backward error of a symmetric eigensolver is ``O(M eps ||G||)``; Golub & Van Loan,
    Matrix Computations, 4th ed., Section 8.4). Negative eigenvalues of this size are set to
    zero silently; larger ones raise :class:`~htsr.errors.NegativeEigenvalueWarning`.
    """
    return _GRAM_FLOOR_FACTOR * M * float(np.finfo(np.dtype(solver_dtype)).eps)


@dataclass(frozen=True, slots=True)
class Spectrum:
    """The ESD of one matrix, or of the pooled slices of a convolution.

    Attributes
    ----------
    evals : numpy.ndarray
        Ascending eigenvalues ``lambda_i = s_i^2 / N`` of ``X = W^T W / N`` (float64), ``M``
        per slice, pooled over ``num_slices`` slices.
    N, M : int
        Larger and smaller side of each slice.
    num_slices : int
        Number of slices pooled.
    stored_dtype : str
        dtype the weights were stored in (sets the rank cut-off).
    solver_dtype : str
        Precision of the eigensolver (``float64`` unless asked otherwise).
    """

    evals: np.ndarray
    N: int
    M: int
    num_slices: int = 1
    stored_dtype: str = "float64"
    solver_dtype: str = "float64"

    @property
    def Q(self) -> float:
        """Aspect ratio N / M."""
        return self.N / self.M

    @property
    def lambda_max(self) -> float:
        """Largest eigenvalue of X (ESD units)."""
        return float(self.evals[-1])

    @property
    def sv_max_squared(self) -> float:
        """``s_max^2``, the squared spectral norm of W (``N * lambda_max``)."""
        return self.lambda_max * self.N

    @property
    def frobenius_squared(self) -> float:
        """``||W||_F^2 = sum_i s_i^2 = N * sum_i lambda_i``."""
        return float(np.sum(self.evals)) * self.N


def _gram(matrix: np.ndarray, solver_dtype: np.dtype, scale: float = 1.0) -> np.ndarray:
    """``A^T A`` of the smaller side of one matrix (times ``scale**2``), in ``solver_dtype``,
    lower triangle only (the upper is 0 or arbitrary: callers read ``UPLO="L"``).

    Formed by the BLAS rank-k update ``syrk``, which computes one triangle (half the
    multiply-adds of a general product). A contiguous matrix already in ``solver_dtype`` (and
    not rescaled) is passed as is. Otherwise rows are converted (and scaled) into one reused
    buffer of at most :data:`_BLOCK_BYTES` and accumulated in place, so the extra memory is one
    block plus the Gram matrix, never a float64 copy of the layer.
    """
    if matrix.shape[0] < matrix.shape[1]:
        matrix = matrix.T
    rows, cols = matrix.shape
    syrk = scipy.linalg.blas.get_blas_funcs("syrk", dtype=solver_dtype)
    if matrix.dtype == solver_dtype and scale == 1.0:
        if not (matrix.flags.c_contiguous or matrix.flags.f_contiguous):
            product: np.ndarray = matrix.T @ matrix  # a strided view: no copy of it
            return product
        return _syrk_update(syrk, None, matrix)
    gram = np.zeros((cols, cols), dtype=solver_dtype, order="F")
    step = max(1, min(_ROW_BLOCK, rows, _BLOCK_BYTES // max(1, cols * solver_dtype.itemsize)))
    buffer = np.empty((step, cols), dtype=solver_dtype)
    for start in range(0, rows, step):
        part = matrix[start : start + step]
        block = buffer[: part.shape[0]]
        np.copyto(block, part, casting="unsafe")  # float64 -> float32 solver: rounded, as astype
        if scale != 1.0:
            block *= scale
        gram = _syrk_update(syrk, gram, block)
    return gram


def _syrk_update(syrk: Any, gram: np.ndarray | None, block: np.ndarray) -> np.ndarray:
    """``gram + block^T block`` (lower triangle) in place by BLAS ``syrk``; a new Gram matrix
    when ``gram`` is None. BLAS reads column-major operands: a row-major block is handed over
    as its transpose (a view) with ``A A^T``, ``A = block^T``, instead of being copied into
    column order by the wrapper (that copy made the Gram of a float32 layer 1.7x slower than
    NumPy's ``A.T @ A``; measured on MiniLM, docs/engine.md)."""
    operand, trans = (block, 1) if block.flags.f_contiguous else (block.T, 0)
    if gram is None:
        result: np.ndarray = syrk(1.0, operand, trans=trans, lower=1)
        return result
    updated: np.ndarray = syrk(1.0, operand, beta=1.0, c=gram, trans=trans, lower=1, overwrite_c=1)
    return updated


@functools.lru_cache(maxsize=32)
def _always_safe(dtype: np.dtype) -> bool:
    """Whether every finite non-zero value of ``dtype`` lies inside :data:`_SAFE_RANGE`."""
    try:
        info = ml_dtypes.finfo(dtype)  # type: ignore[no-untyped-call]
    except ValueError:  # not a floating dtype
        return False
    return _SAFE_RANGE[0] < float(info.smallest_subnormal) and float(info.max) < _SAFE_RANGE[1]


def _scale_for(slices: np.ndarray) -> float:
    """A power of two bringing the largest ``|w|`` near 1 when it is far from 1 (so the Gram
    matrix neither overflows nor underflows), else 1; exact in binary floating point.

    A dtype whose every finite non-zero value lies inside :data:`_SAFE_RANGE` (float32,
    float16, bfloat16, float8) always gives 1: the two passes over the matrix are skipped.
    """
    if _always_safe(slices.dtype):
        return 1.0
    peak = max(abs(float(np.max(slices))), abs(float(np.min(slices))))
    if not np.isfinite(peak) or peak == 0 or _SAFE_RANGE[0] < peak < _SAFE_RANGE[1]:
        return 1.0
    return float(np.ldexp(1.0, -int(np.frexp(peak)[1])))


_DEVICE = re.compile(r"cpu|cuda(:\d+)?")


def resolve_device(device: str | None) -> str | None:
    """The torch device an eigensolver runs on, or None for NumPy/LAPACK in this process.

    ``None``: NumPy. ``"cpu"``, ``"cuda"``, ``"cuda:N"``: torch on that device. ``"auto"``:
    ``"cuda"`` when torch is installed and sees a GPU, else None (NumPy).

    Raises
    ------
    ValueError
        If ``device`` is none of these, or names a CUDA device that torch cannot see.
    MissingExtraError
        If a torch device is asked for and torch is not installed.
    """
    if device is None:
        return None
    if not isinstance(device, str) or not (device == "auto" or _DEVICE.fullmatch(device)):
        raise ValueError(
            f"`device` must be None, 'auto', 'cpu', 'cuda' or 'cuda:N'; got {device!r}"
        )
    if device == "auto":
        try:
            import torch
        except ImportError:
            return None
        return "cuda" if torch.cuda.is_available() else None
    torch = import_optional("torch", extra="torch", caller=f"device={device!r}")
    if device.startswith("cuda"):
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = int(device.partition(":")[2] or 0)
        if index >= count:
            raise ValueError(
                f"`device` {device!r} is not available: torch sees {count} CUDA device(s) "
                "(use device='auto' to fall back to NumPy)"
            )
    return device


#: Torch dtypes that NumPy arrays of these ml_dtypes can be reinterpreted as, bit for bit.
_TORCH_VIEWS = {
    "bfloat16": "bfloat16",
    "float8_e4m3fn": "float8_e4m3fn",
    "float8_e5m2": "float8_e5m2",
}


def _to_torch(array: np.ndarray, device: str) -> Any:
    """The array as a torch tensor on ``device`` in its stored precision (no float64 copy on
    the host): bf16/fp8 are reinterpreted bit for bit, other dtypes NumPy cannot hand to torch
    are widened to float32 (exact)."""
    import torch

    array = np.ascontiguousarray(array)
    view = _TORCH_VIEWS.get(array.dtype.name)
    if view is not None:
        bits = torch.from_numpy(array.view(np.uint8 if array.dtype.itemsize == 1 else np.int16))
        return bits.to(device).view(getattr(torch, view))
    if array.dtype.kind != "f" or array.dtype.name not in ("float16", "float32", "float64"):
        array = array.astype(np.float32)
    return torch.from_numpy(array).to(device)


def _torch_gram(slices: np.ndarray, solver_dtype: str, device: str, scale: float = 1.0) -> Any:
    """The Gram matrix of each slice (times ``scale**2``) formed by torch on ``device``, a
    ``(num_slices, M, M)`` tensor in ``solver_dtype``: the weights travel in their stored
    dtype and are widened there by row blocks of :data:`_ROW_BLOCK`, each block multiplied by
    ``scale`` (see :func:`_scale_for`)."""
    import torch

    dtype = getattr(torch, solver_dtype)
    stack = _to_torch(slices, device)
    if stack.shape[1] < stack.shape[2]:
        stack = stack.transpose(1, 2)
    rows, cols = stack.shape[1], stack.shape[2]
    with torch.no_grad():
        grams = torch.zeros((stack.shape[0], cols, cols), dtype=dtype, device=device)
        for start in range(0, rows, _ROW_BLOCK):
            block = stack[:, start : start + _ROW_BLOCK].to(dtype)
            if scale != 1.0:
                block = block * scale
            grams += block.transpose(1, 2) @ block
    return grams


def _torch_eigh(grams: Any, vectors: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Eigenvalues (ascending, float64) of each Gram of a ``(k, M, M)`` torch tensor, its lower
    triangle read, by ``torch.linalg.eigvalsh``; with ``vectors > 0`` one
    ``torch.linalg.eigh`` instead, and the eigenvectors of each one's ``vectors`` largest
    eigenvalues, ``(k, M, vectors)`` (else None)."""
    import torch

    top = None
    with torch.no_grad():
        if vectors:
            values, vecs = torch.linalg.eigh(grams, UPLO="L")
            top = vecs[..., -min(vectors, grams.shape[-1]) :].cpu().numpy()
            top = top.astype(np.float64, copy=False)
        else:
            values = torch.linalg.eigvalsh(grams, UPLO="L")
    result: np.ndarray = values.cpu().numpy().astype(np.float64, copy=False)
    return result, top


def _torch_eigenvalues(
    slices: np.ndarray, solver_dtype: str, device: str, name: str, scale: float, vectors: int = 0
) -> tuple[np.ndarray, np.ndarray | None]:
    """Gram eigenvalues of each slice (times ``scale**2``), batched over the slices, with the
    Gram formed on ``device`` (:func:`_torch_gram`) and solved there (:func:`_torch_eigh`)."""
    import torch

    grams = _torch_gram(slices, solver_dtype, device, scale)
    if not bool(torch.isfinite(grams).all()):
        raise LayerError(name, "weights contain NaN or Inf")
    return _torch_eigh(grams, vectors)


def _forms_gram_on_device(device: str) -> bool:
    """Whether the Gram matrix is formed by torch on ``device`` (a GPU: the weights travel in
    their stored dtype) rather than by BLAS ``syrk`` here and only solved by torch (the CPU
    device: ``syrk`` does half the multiply-adds of torch's general product, through the
    bounded conversion buffer of :func:`_gram`; ``bench/bench_eigensolvers.py --gram``)."""
    return device != "cpu"


def _torch_solve(grams: np.ndarray, vectors: int) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`_torch_eigh` of a NumPy stack of Gram matrices on the CPU (no copy into torch;
    the lower triangle, what ``syrk`` fills, is read).

    Torch's LAPACK (MKL in the PyPI wheels) is faster than NumPy's OpenBLAS for large Grams on
    one thread and slower for small ones (``bench/bench_eigensolvers.py``, docs/engine.md);
    it copies its input, so the peak holds one more ``M x M`` matrix than the NumPy path,
    which solves in place.
    """
    import torch

    return _torch_eigh(torch.from_numpy(grams), vectors)


def _eigh_top(gram: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Every eigenvalue (ascending) of one symmetric matrix, and the eigenvectors of its ``k``
    largest ``(M, k)``, from one tridiagonal reduction; the lower triangle is read and the
    matrix overwritten (no copy when it is Fortran-ordered).

    ``T = Q^T G Q`` by LAPACK ``sytrd``; the eigenvalues of T by ``sterf``, exactly what the
    values-only ``syevd`` of :func:`esd` computes (it runs the same two routines; identical to
    the last bit on every matrix tried); the top ``k`` eigenvectors of T by MRRR (``stemr``,
    :func:`scipy.linalg.eigh_tridiagonal`), O(M k), mapped back by the Householder reflectors of
    the reduction (``ormqr`` on the trailing ``M - 1`` rows: ``Q = diag(1, Q')``). Cost over
    the values-only solve, measured on a shared machine (``bench/bench_localization.py``, M
    128-1536, one thread, two runs): 1.0-1.5x; ``syevr`` with a subset before the values-only
    solve 1.7-2.2x, one ``eigh`` with every vector 2.2-3.0x (docs/phases.md).
    """
    M = gram.shape[0]
    k = min(k, M)
    if k >= M or M <= 2:  # too small for a reduction worth the name: solve it whole
        vals, vecs = scipy.linalg.eigh(gram, lower=True, overwrite_a=True, check_finite=False)
        return np.asarray(vals), np.asarray(vecs)[:, M - k :]
    lapack = scipy.linalg.lapack
    sytrd, sytrd_lwork, sterf, ormqr = lapack.get_lapack_funcs(
        ("sytrd", "sytrd_lwork", "sterf", "ormqr"), (gram,)
    )
    lwork, info = sytrd_lwork(M, lower=1)
    reduced, d, e, tau, info_t = sytrd(gram, lower=1, lwork=int(lwork), overwrite_a=1)
    vals, info_v = sterf(d.copy(), e.copy())
    _, z = scipy.linalg.eigh_tridiagonal(
        d, e, select="i", select_range=(M - k, M - 1), check_finite=False, lapack_driver="stemr"
    )
    back, _, info_b = ormqr(
        "L", "N", reduced[1:, : M - 1], tau, np.array(z[1:], order="F"), max(1, 64 * k)
    )
    if info or info_t or info_v or info_b:
        raise np.linalg.LinAlgError(
            f"LAPACK failed (sytrd_lwork {info}, sytrd {info_t}, sterf {info_v}, ormqr {info_b})"
        )
    return np.asarray(vals), np.vstack([z[:1], back])


def gram_eigenvalues(
    slices: np.ndarray,
    *,
    solver_dtype: str = "float64",
    name: str = "<matrix>",
    device: str | None = None,
) -> np.ndarray:
    """Eigenvalues of the Gram matrix of each slice: shape ``(num_slices, M)``, ascending.

    The input is never modified (blocks are converted into new arrays). ``device``: a torch
    device (already checked by :func:`resolve_device`), or None for NumPy.

    Raises
    ------
    LayerError
        If the weights hold NaN or Inf (detected on the Gram matrix, which they reach).
    """
    evals, scale, _ = _scaled_gram_eigenvalues(
        slices, solver_dtype=solver_dtype, name=name, device=device
    )
    with np.errstate(over="ignore", under="ignore"):
        unscaled: np.ndarray = evals / np.float64(scale) ** 2  # exact unless out of range
    return unscaled


def _scaled_gram_eigenvalues(
    slices: np.ndarray, *, solver_dtype: str, name: str, device: str | None = None, vectors: int = 0
) -> tuple[np.ndarray, float, np.ndarray | None]:
    """Gram eigenvalues of the slices times ``scale**2``, ``scale`` (a power of two, see
    :func:`_scale_for`; 1 for weights of ordinary size, whose numbers are then unchanged), and
    with ``vectors > 0`` each slice's top eigenvectors (:func:`_eigh_top`, else None)."""
    dtype = np.dtype(solver_dtype)
    scale = _scale_for(slices) if slices.size else 1.0
    if device is not None and _forms_gram_on_device(device):
        evals_t, top_t = _torch_eigenvalues(slices, solver_dtype, device, name, scale, vectors)
        return evals_t, scale, top_t
    if slices.shape[0] == 1:
        grams = _gram(slices[0], dtype, scale)[np.newaxis]
    else:
        stack = np.asarray(slices, dtype=dtype)
        if scale != 1.0:
            stack = stack * scale
        if stack.shape[1] < stack.shape[2]:
            stack = stack.transpose(0, 2, 1)
        grams = np.matmul(stack.transpose(0, 2, 1), stack)
    if not np.isfinite(grams).all():
        raise LayerError(name, "weights contain NaN or Inf")
    if device is not None:  # the CPU device: this Gram, torch's eigensolver
        values_t, top_cpu = _torch_solve(grams, vectors)
        return values_t, scale, top_cpu
    if vectors:  # each Gram solved in place, its eigenvalues as below and its top vectors
        solved = [_eigh_top(gram, vectors) for gram in grams]
        values = np.stack([v for v, _ in solved]).astype(np.float64, copy=False)
        return values, scale, np.stack([t for _, t in solved])
    if grams.shape[0] == 1:  # solved in place: no copy of a Gram that can be 100s of MiB
        single = scipy.linalg.eigh(
            grams[0], eigvals_only=True, lower=True, overwrite_a=True, check_finite=False,
            driver="evd",
        )  # fmt: skip
        return np.asarray(single, dtype=np.float64)[np.newaxis], scale, None
    evals: np.ndarray = np.linalg.eigvalsh(grams, UPLO="L").astype(np.float64, copy=False)
    return evals, scale, None


def esd(
    matrix: np.ndarray,
    *,
    solver_dtype: str = "float64",
    stored_dtype: str | None = None,
    name: str = "<matrix>",
    device: str | None = None,
) -> Spectrum:
    """The ESD of one matrix, or of a stack of slices ``(num_slices, a, b)`` pooled.

    .. math:: X = W^T W / N, \\quad \\lambda_i = s_i^2 / N, \\quad N \\ge M

    (Martin & Mahoney, JMLR 22(165) 2021, Section 3.1.)

    Parameters
    ----------
    matrix : array_like
        A 2-D matrix or a 3-D stack of equally shaped slices. Not modified.
    solver_dtype : {"float64", "float32"}, default "float64"
        Precision of the Gram matrix and the eigensolver.
    stored_dtype : str, optional
        dtype the weights were stored in; defaults to ``matrix.dtype``.
    name : str
        Used in error messages.
    device : {None, "auto", "cpu", "cuda", "cuda:N"}, default None
        None: NumPy/LAPACK. Otherwise ``torch.linalg.eigvalsh`` of the same Gram on that torch
        device (see :func:`resolve_device`); same eigenvalues to ~1e-12 relative.

    Returns
    -------
    Spectrum

    Raises
    ------
    LayerError
        If the matrix holds NaN or Inf, or is all zero.

    Warns
    -----
    NegativeEigenvalueWarning
        If an eigenvalue is below ``-gram_floor(M) * lambda_max`` (then set to zero).

    Examples
    --------
    >>> import numpy as np
    >>> s = esd(np.diag([3.0, 2.0]))
    >>> s.evals.tolist()  # s_i^2 / N with N = 2
    [2.0, 4.5]
    """
    return _esd(matrix, solver_dtype, stored_dtype, name, device, 0)[0]


def esd_with_vectors(
    matrix: np.ndarray,
    *,
    vectors: int,
    solver_dtype: str = "float64",
    stored_dtype: str | None = None,
    name: str = "<matrix>",
    device: str | None = None,
) -> tuple[Spectrum, np.ndarray]:
    """:func:`esd`, and the unit eigenvectors of X of its ``vectors`` largest eigenvalues.

    The same Gram matrix and the same tridiagonal reduction give both: its eigenvalues as
    :func:`esd` computes them (the same LAPACK routines, ``sytrd`` then ``sterf``), and the top
    eigenvectors of the tridiagonal matrix by MRRR, mapped back by the reduction's reflectors
    (:func:`_eigh_top`; 1.0-1.5x the values-only solve); on a torch device one
    ``torch.linalg.eigh`` gives both. For a stack of slices the vectors are those
    of the ``vectors`` largest eigenvalues of the pooled ESD (each a vector of its own slice).

    Returns
    -------
    spectrum : Spectrum
    top : numpy.ndarray
        Shape ``(M, min(vectors, M))``; column ``j`` the eigenvector of the ``j``-th of the
        largest eigenvalues, ascending (the last column belongs to ``lambda_max``).

    Examples
    --------
    >>> import numpy as np
    >>> s, v = esd_with_vectors(np.diag([3.0, 2.0, 1.0]), vectors=1)
    >>> np.abs(v[:, 0]).round(6).tolist()  # the eigenvector of lambda_max = 9/3
    [1.0, 0.0, 0.0]
    """
    if vectors < 1:
        raise ValueError(f"`vectors` must be >= 1; got {vectors!r}")
    spectrum, top = _esd(matrix, solver_dtype, stored_dtype, name, device, int(vectors))
    assert top is not None
    return spectrum, top


def _pooled_top(scaled: np.ndarray, top: np.ndarray) -> np.ndarray:
    """The eigenvectors (columns) of the largest eigenvalues of the pooled slices, ascending:
    ``scaled`` holds each slice's eigenvalues ``(S, M)``, ``top`` each slice's top ``k``
    eigenvectors ``(S, M, k)``."""
    k = top.shape[2]
    if top.shape[0] == 1:
        single: np.ndarray = top[0]
        return single
    values = scaled[:, -k:]  # each slice's top k eigenvalues, matching top's columns
    best = np.argsort(values, axis=None, kind="stable")[-k:]
    pooled: np.ndarray = np.stack([top[i // k, :, i % k] for i in best], axis=1)
    return pooled


def _esd(
    matrix: np.ndarray,
    solver_dtype: str,
    stored_dtype: str | None,
    name: str,
    device: str | None,
    vectors: int,
) -> tuple[Spectrum, np.ndarray | None]:
    """:func:`esd` with, when ``vectors > 0``, the top eigenvectors of the pooled ESD."""
    if solver_dtype not in SOLVER_DTYPES:
        raise ValueError(f"`solver_dtype` must be one of {SOLVER_DTYPES}; got {solver_dtype!r}")
    array = np.asarray(matrix)
    slices = array[np.newaxis] if array.ndim == 2 else array
    if slices.ndim != 3 or min(slices.shape[1:]) < 1:
        raise LayerError(name, f"expected a matrix or a stack of matrices; got shape {array.shape}")
    N, M = max(slices.shape[1:]), min(slices.shape[1:])
    scaled, scale, top = _scaled_gram_eigenvalues(
        slices, solver_dtype=solver_dtype, name=name, device=resolve_device(device), vectors=vectors
    )
    with np.errstate(over="ignore", under="ignore"):  # scaled back after the division by N
        evals = np.sort(scaled.ravel()) / N / np.float64(scale) ** 2
    lam_max = evals[-1]
    if np.isinf(lam_max):
        raise LayerError(name, "eigenvalues overflow float64 (weights too large, |w| > ~1e150)")
    if lam_max <= 0 and np.any(array):
        raise LayerError(name, "eigenvalues underflow float64 (weights too small, |w| < ~1e-160)")
    if lam_max <= 0:
        raise LayerError(name, "all-zero matrix (every singular value is 0)")
    evals = _clip_negative(evals, lam_max * gram_floor(M, solver_dtype), name)
    spectrum = Spectrum(
        evals=evals,
        N=int(N),
        M=int(M),
        num_slices=int(slices.shape[0]),
        stored_dtype=stored_dtype or np.asarray(matrix).dtype.name,
        solver_dtype=solver_dtype,
    )
    return spectrum, None if top is None else _pooled_top(scaled, top)


def _clip_negative(evals: np.ndarray, floor: float, name: str) -> np.ndarray:
    """Set negative round-off eigenvalues to 0; warn if any is below ``-floor``."""
    if evals[0] >= 0:
        return evals
    if evals[0] < -floor:
        warnings.warn(
            f"layer {name!r}: Gram eigenvalue {evals[0]:.3g} is below -{floor:.3g} "
            "(round-off floor); negative eigenvalues set to 0",
            NegativeEigenvalueWarning,
            stacklevel=3,
        )
    clipped: np.ndarray = np.maximum(evals, 0.0)
    return clipped


__all__ = [
    "SOLVER_DTYPES",
    "Spectrum",
    "esd",
    "esd_with_vectors",
    "gram_eigenvalues",
    "gram_floor",
    "resolve_device",
]
