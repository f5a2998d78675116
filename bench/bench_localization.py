"""What the top eigenvectors cost next to the eigenvalues alone, for the ways LAPACK offers.

For Gaussian Gram matrices ``G = W^T W`` (``W`` of shape ``2M x M``, one planted large entry)
at several M, one BLAS thread, the best of ``--reps`` runs of each, as a ratio to the
values-only ``eigh(driver="evd")`` that :func:`htsr.spectrum.esd` runs:

- ``tridiagonal``: :func:`htsr.spectrum._eigh_top`, what :func:`htsr.spectrum.esd_with_vectors`
  runs (one ``sytrd`` reduction, ``sterf`` for every eigenvalue, MRRR on the top 5, ``ormqr``);
- ``evr subset``: ``eigh(subset_by_index=top 5, driver="evr")`` on the Gram, then the values-only
  solve (two reductions);
- ``evd all vectors``: one ``eigh(driver="evd")`` with every eigenvector.

It also checks that the tridiagonal route's eigenvalues equal the values-only ones bit for bit.
Writes ``bench/results/bench_localization.md``.

    nice python bench/bench_localization.py [--sizes 128 384 768 1536] [--reps 5]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import scipy.linalg
from threadpoolctl import threadpool_limits

from htsr.localization import TOP_VECTORS
from htsr.spectrum import _eigh_top

OUT = Path(__file__).parent / "results" / "bench_localization.md"


def best(f: Callable[[], object], reps: int) -> float:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[128, 384, 768, 1536])
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    k = TOP_VECTORS
    lines = [
        "# Top eigenvectors: cost over the values-only solve",
        "",
        f"`nice python bench/bench_localization.py --sizes {' '.join(map(str, args.sizes))} "
        f"--reps {args.reps}` (one BLAS thread, best of {args.reps}, a shared machine)",
        "",
        "| M | values only (ms) | tridiagonal | evr subset | evd all vectors | same eigenvalues |",
        "|---|---|---|---|---|---|",
    ]
    with threadpool_limits(1):
        for M in args.sizes:
            W = rng.standard_normal((2 * M, M))
            W[3, 5] = 30.0 * np.sqrt(M)
            G = np.asfortranarray(W.T @ W)

            def values(G: np.ndarray = G) -> np.ndarray:
                return np.asarray(
                    scipy.linalg.eigh(
                        G.copy(order="F"), eigvals_only=True, lower=True, overwrite_a=True,
                        check_finite=False, driver="evd",
                    )
                )  # fmt: skip

            def tri(G: np.ndarray = G, M: int = M) -> object:
                return _eigh_top(G.copy(order="F"), k)

            def evr(G: np.ndarray = G, M: int = M) -> object:
                scipy.linalg.eigh(
                    G, lower=True, subset_by_index=(M - k, M - 1), driver="evr", check_finite=False
                )
                return values()

            def evd(G: np.ndarray = G) -> object:
                return scipy.linalg.eigh(
                    G.copy(order="F"), lower=True, overwrite_a=True, check_finite=False,
                    driver="evd",
                )  # fmt: skip

            base = best(values, args.reps)
            same = bool(np.array_equal(_eigh_top(G.copy(order="F"), k)[0], values()))
            ratios = [best(f, args.reps) / base for f in (tri, evr, evd)]
            lines.append(
                f"| {M} | {1e3 * base:.1f} | {ratios[0]:.2f}x | {ratios[1]:.2f}x | "
                f"{ratios[2]:.2f}x | {same} |"
            )
    text = "\n".join(lines) + "\n"
    print(text)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)


if __name__ == "__main__":
    main()
