"""Values-only symmetric eigensolvers on one CPU thread: which is fastest at which size?

The Gram matrix ``G = W^T W`` (float64) of a Gaussian ``W`` (``2M x M``) is solved for all its
eigenvalues by:

- ``numpy``: ``numpy.linalg.eigvalsh`` (LAPACK ``syevd``: ``sytrd`` + ``sterf``), the floor of
  ``bench_analysis.py``;
- ``scipy_evd``: ``scipy.linalg.eigh(..., eigvals_only=True, driver="evd")``, what htsr's
  NumPy path runs (``htsr.spectrum``);
- ``torch_cpu``: ``torch.linalg.eigvalsh`` on the CPU (the LAPACK torch was built with, MKL in
  the PyPI wheels), what ``analyze(..., device="cpu")`` runs; when torch is installed;
- ``lapack_2stage``: LAPACK's ``dsyevd_2stage`` (two-stage tridiagonal reduction: a blocked
  reduction to band form, then bulge chasing), called through ``ctypes`` in the OpenBLAS that
  NumPy's wheel bundles, when that library and symbol are found. SciPy does not wrap it; this
  is a measurement, not a code path of htsr.

Each time is the best of ``--repeats`` (one at sizes of 2048 and more) of CPU time, every
library limited to one thread; ``max_rel_diff`` is the largest difference to NumPy's
eigenvalues relative to the largest eigenvalue.

With ``--gram ROWSxCOLS ...`` (bf16 weights of those shapes), the float64 Gram matrix as htsr
forms it on the CPU (``htsr.spectrum._gram``: BLAS ``syrk`` through a 1 MiB conversion
buffer) against torch's route for a GPU run on the CPU (``htsr.spectrum._torch_gram``: the
general product of blocks of 8192 rows), best of ``--repeats``.

    python bench/bench_eigensolvers.py            # writes bench/results/eigensolvers.json
    python bench/bench_eigensolvers.py --sizes 384 1024
    python bench/bench_eigensolvers.py --sizes --gram 4096x4096 11008x4096
"""

from __future__ import annotations

import argparse
import ctypes
import glob
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import scipy.linalg
from threadpoolctl import threadpool_limits

Solver = Callable[[np.ndarray], np.ndarray]


def _lapack_2stage() -> Solver | None:
    """``dsyevd_2stage`` (values only) from NumPy's bundled OpenBLAS, or None."""
    libs = os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs")
    for path in glob.glob(os.path.join(libs, "libscipy_openblas64_*.so")):
        lib = ctypes.CDLL(path)
        fn = getattr(lib, "scipy_LAPACKE_dsyevd_2stage64_", None)
        if fn is None:
            continue
        fn.restype = ctypes.c_int64
        fn.argtypes = [ctypes.c_int, ctypes.c_char, ctypes.c_char, ctypes.c_int64,
                       ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p]  # fmt: skip

        def solve(gram: np.ndarray, fn: ctypes._NamedFuncPointer = fn) -> np.ndarray:
            a = np.array(gram, order="F", copy=True)
            n = a.shape[0]
            w = np.empty(n)
            info = fn(102, b"N", b"L", n, a.ctypes.data, n, w.ctypes.data)  # column major
            if info != 0:
                raise RuntimeError(f"dsyevd_2stage failed: info={info}")
            return w

        return solve
    return None


def _torch_cpu() -> Solver | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)

    def solve(gram: np.ndarray) -> np.ndarray:
        result: np.ndarray = torch.linalg.eigvalsh(torch.from_numpy(gram)).numpy()
        return result

    return solve


def solvers() -> dict[str, Solver]:
    found: dict[str, Solver | None] = {
        "numpy": np.linalg.eigvalsh,
        "scipy_evd": lambda g: scipy.linalg.eigh(
            g, eigvals_only=True, driver="evd", check_finite=False
        ),
        "torch_cpu": _torch_cpu(),
        "lapack_2stage": _lapack_2stage(),
    }
    return {name: fn for name, fn in found.items() if fn is not None}


def _best(solve: Solver, gram: np.ndarray, repeats: int) -> tuple[float, np.ndarray]:
    """Best CPU time of ``repeats`` calls, and the last result."""
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        values = solve(gram)
        best = min(best, time.process_time() - start)
    return best, values


def gram_row(shape: str, repeats: int) -> dict[str, object]:
    """Seconds of the two Gram routes for one bf16 matrix (torch pinned to one thread)."""
    import ml_dtypes
    import torch

    from htsr.spectrum import _gram, _torch_gram

    torch.set_num_threads(1)
    rows, cols = (int(v) for v in shape.lower().split("x"))
    w = np.random.default_rng(1).standard_normal((rows, cols), dtype=np.float32)
    w = (w / np.sqrt(cols)).astype(ml_dtypes.bfloat16)
    syrk_s, ours = _best(lambda a: _gram(a, np.dtype(np.float64)), w, repeats)

    def on_torch(a: np.ndarray) -> np.ndarray:
        gram: np.ndarray = _torch_gram(a[np.newaxis], "float64", "cpu").numpy()[0]
        return gram

    torch_s, theirs = _best(on_torch, w, repeats)
    lower = np.tril_indices(min(rows, cols))
    diff = float(np.max(np.abs(ours[lower] - theirs[lower])) / np.max(np.abs(ours)))
    row: dict[str, object] = {"shape": shape, "dtype": "bfloat16", "syrk_s": round(syrk_s, 3),
                              "torch_cpu_s": round(torch_s, 3),
                              "torch_over_syrk": round(torch_s / syrk_s, 2),
                              "max_rel_diff": float(f"{diff:.2g}")}  # fmt: skip
    print(json.dumps(row))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="*", default=[384, 1024, 2048, 4096])
    parser.add_argument("--gram", nargs="*", default=[], metavar="ROWSxCOLS")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    rows = []
    with threadpool_limits(limits=1):
        found = solvers()
        for m in args.sizes:
            w = rng.standard_normal((2 * m, m))
            gram = w.T @ w
            repeats = args.repeats if m < 2048 else 1
            timed = {name: _best(solve, gram, repeats) for name, solve in found.items()}
            seconds = {name: t for name, (t, _) in timed.items()}
            reference = np.sort(timed["numpy"][1])
            row: dict[str, object] = {"M": m, "N": 2 * m}
            for name, (_, values) in timed.items():
                diff = np.max(np.abs(np.sort(values) - reference)) / reference[-1]
                row[f"{name}_s"] = round(seconds[name], 4)
                row[f"{name}_max_rel_diff"] = float(f"{diff:.2g}")
                if name != "numpy":
                    row[f"numpy_over_{name}"] = round(seconds["numpy"] / seconds[name], 2)
            rows.append(row)
            print(json.dumps(row))
        grams = [gram_row(shape, args.repeats) for shape in args.gram]
    result = {"threads": 1, "clock": "cpu", "load_average_1min": round(os.getloadavg()[0], 2),
              "solvers": list(found), "rows": rows, "gram": grams}  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "eigensolvers.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
