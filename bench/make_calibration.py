"""Regenerate the shipped alpha(mu) table ``src/htsr/data/alpha_mu_calibration.csv``.

For each shape (M in 128..2048, Q in 1, 2, 4, 8) and each mu in 0.5..6 (step 0.25) it fits alpha
(:func:`htsr.fit.powerlaw.fit_power_law`, default options) on Pareto matrices
(:func:`htsr.rmt.pareto_matrix`) and stores mean, std and median alpha. Fewer draws at large M,
where alpha fluctuates less and one draw costs ~4 s; about 10 minutes on one core.

    python bench/make_calibration.py [--out PATH] [--seed 0]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from htsr.rmt.calibration import calibrate_alpha, write_table

REPS = {128: 6, 256: 4, 512: 3, 1024: 2, 2048: 1}
QS = (1, 2, 4, 8)
MUS = np.round(np.arange(0.5, 6.0 + 1e-9, 0.25), 2)
DEFAULT_OUT = Path(__file__).parents[1] / "src" / "htsr" / "data" / "alpha_mu_calibration.csv"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rows = []
    t0 = time.perf_counter()
    with threadpool_limits(1):
        for M, reps in REPS.items():
            for Q in QS:
                cal = calibrate_alpha(Q * M, M, MUS, reps=reps, rng=[args.seed, M, Q])
                rows += cal.rows()
                vh, md = cal.very_heavy, cal.moderate
                print(
                    f"M={M:5d} Q={Q} reps={reps} {cal.seconds:6.1f} s  mu<2: "
                    f"{vh.formula()}; 2<mu<4: {md.formula()}",
                    flush=True,
                )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_table(rows, str(args.out))
    print(f"wrote {len(rows)} rows to {args.out} in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
