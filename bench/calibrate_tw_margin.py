"""Choose the Tracy-Widom margin ``c`` of the spike threshold ``lambda_plus + c * tw``.

For pure Gaussian matrices over shapes M in {128..2048}, Q in {1, 2, 4, 8}, it records
``z = (lambda_max - lambda_plus_fit) / tw_fit`` (sigma fitted by :func:`htsr.fit.mp.fit_mp`)
and ``z_true`` (true sigma = 1), and prints per-shape quantiles. ``c`` must exceed the 99%
quantile of ``z`` at every shape with margin. Many draws at small M, few at large M (cost).

    python bench/calibrate_tw_margin.py            # ~3 min on one core
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import scipy.linalg as sl
from threadpoolctl import threadpool_limits

from htsr.fit.mp import fit_mp, mp_edges, tw_scale

DRAWS = {128: 300, 256: 150, 512: 60, 1024: 16, 2048: 4}
QS = (1, 2, 4, 8)


def main(scale: float = 1.0) -> None:
    rng = np.random.default_rng(20240611)
    rows = []
    t0 = time.perf_counter()
    with threadpool_limits(1):
        for M, draws in DRAWS.items():
            for Q in QS:
                N = Q * M
                lp, tw = mp_edges(Q)[1], tw_scale(Q, M)
                for _ in range(max(1, int(draws * scale))):
                    W = rng.standard_normal((N, M))
                    ev = sl.eigvalsh(W.T @ W / N)
                    f = fit_mp(ev, N, M)
                    rows.append(
                        {
                            "M": M,
                            "Q": Q,
                            "z": (ev[-1] - f.lambda_plus) / f.tw,
                            "z_true": (ev[-1] - lp) / tw,
                            "sigma_err": f.sigma - 1.0,
                        }
                    )
    z = np.array([r["z"] for r in rows])
    print(f"{len(rows)} draws in {time.perf_counter() - t0:.0f} s")
    print(
        f"{'M':>5} {'Q':>2} {'n':>4} {'z_true q50':>10} {'z q50':>7} {'z q99':>7} {'z max':>7} "
        f"{'sigma err sd':>12}"
    )
    for M in DRAWS:
        for Q in QS:
            sel = [r for r in rows if r["M"] == M and r["Q"] == Q]
            zs = np.array([r["z"] for r in sel])
            zt = np.array([r["z_true"] for r in sel])
            se = np.array([r["sigma_err"] for r in sel])
            print(
                f"{M:5d} {Q:2d} {len(sel):4d} {np.median(zt):10.2f} {np.median(zs):7.2f} "
                f"{np.quantile(zs, 0.99):7.2f} {zs.max():7.2f} {se.std():12.2e}"
            )
    print(
        f"all: q99 {np.quantile(z, 0.99):.2f}, q99.5 {np.quantile(z, 0.995):.2f}, max {z.max():.2f}"
    )
    out = Path(__file__).parent / "results" / "tw_margin.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(rows))


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0)
