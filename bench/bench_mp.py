"""Benchmark :func:`htsr.fit.mp.fit_mp` against a kernel-density refit (WeightWatcher-like).

WeightWatcher fits sigma by scanning a grid of candidate sigmas and, for each, refitting a
Gaussian KDE of the rescaled ESD and comparing it with the MP density (~0.4 s per layer). The
``kde_refit`` below does the same with 100 candidates and 500 evaluation points.

    python bench/bench_mp.py        # prints a table, writes bench/results/bench_mp.{txt,json}
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import numpy as np
import scipy.linalg as sl
from scipy.stats import gaussian_kde
from threadpoolctl import threadpool_limits

from htsr.fit.mp import fit_mp, mp_pdf
from htsr.rmt import bbp_threshold, spiked_matrix

SIZES = (384, 1536, 4096)
Q = 2


def kde_refit(evals: np.ndarray, Q: float, n_sigma: int = 100) -> float:
    """sigma minimising the squared gap between a KDE of ``evals / sigma^2`` and MP(Q, 1)."""
    s0 = float(np.sqrt(np.mean(evals)))
    best, best_loss = np.nan, np.inf
    for s in np.linspace(0.5 * s0, 1.5 * s0, n_sigma):
        x = evals / s**2
        grid = np.linspace(0.0, x.max(), 500)
        loss = float(np.sum((gaussian_kde(x)(grid) - mp_pdf(grid, Q)) ** 2))
        if loss < best_loss:
            best, best_loss = s, loss
    return best


def timeit(f, reps: int) -> float:
    f()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def main() -> None:
    rows = []
    with threadpool_limits(1):
        for M in SIZES:
            N = Q * M
            W = spiked_matrix(N, M, [3 * bbp_threshold(Q)] * 5, sigma=1.0, rng=0)
            ev = sl.eigvalsh(W.T @ W / N)
            fit = fit_mp(ev, N, M)
            t_fit = timeit(lambda ev=ev, N=N, M=M: fit_mp(ev, N, M), 50)
            kde_reps = 3 if M <= 1536 else 1
            t_kde = timeit(lambda ev=ev: kde_refit(ev, Q), kde_reps)
            s_kde = kde_refit(ev, Q)
            rows.append(
                {
                    "n": M,
                    "N": N,
                    "fit_mp_ms": 1e3 * t_fit,
                    "sigma": fit.sigma,
                    "num_spikes": fit.num_spikes,
                    "kde_refit_ms": 1e3 * t_kde,
                    "kde_sigma": s_kde,
                }
            )
    lines = [
        f"fit_mp vs KDE refit, {N // M}x spiked Gaussian (5 spikes at 3x BBP, sigma = 1), "
        f"1 thread, {platform.processor() or platform.machine()}, median time",
        f"{'n':>6} {'fit_mp ms':>10} {'sigma':>7} {'spikes':>6} {'KDE ms':>9} {'KDE sigma':>9}",
    ]
    for r in rows:
        lines.append(
            f"{r['n']:6d} {r['fit_mp_ms']:10.2f} {r['sigma']:7.4f} "
            f"{r['num_spikes']:6.0f} {r['kde_refit_ms']:9.0f} {r['kde_sigma']:9.4f}"
        )
    text = "\n".join(lines)
    print(text)
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "bench_mp.txt").write_text(text + "\n")
    (out / "bench_mp.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
