"""Fraction of draws in which fit_mp counts every planted spike, for several margins c.

python bench/spike_detection.py     # ~3 min on one core; writes bench/results/spikes.txt
"""

from __future__ import annotations

from pathlib import Path

import scipy.linalg as sl
from threadpoolctl import threadpool_limits

from htsr.fit.mp import TW_MARGIN, fit_mp
from htsr.rmt import bbp_threshold, spiked_matrix

# (M, Q, strengths in units of the BBP threshold, draws)
DESIGN = [
    (500, 2, [3.0] * 5, 40),
    (512, 4, [2.0, 2.0, 3.0, 3.0, 4.0], 40),
    (512, 1, [3.0] * 5, 40),
    (512, 1, [1.5] * 3, 20),
    (1024, 1, [1.5] * 3, 12),
    (1024, 2, [1.5, 2.0, 3.0], 15),
    (1024, 4, [1.5] * 3, 20),
    (1024, 4, [1.5, 1.5, 1.5, 2.0, 3.0], 24),
    (2048, 4, [1.5, 1.5, 1.5, 2.0, 3.0], 12),
]
MARGINS = (2.5, 3.0, TW_MARGIN)


def main() -> None:
    lines = [
        f"{'M':>5} {'Q':>2} {'strengths (x BBP)':<26} {'draws':>5} "
        + " ".join(f"{'c=' + format(c, 'g'):>7}" for c in MARGINS)
        + "  max |sigma-1|"
    ]
    with threadpool_limits(1):
        for M, Q, mults, draws in DESIGN:
            N = Q * M
            hits = dict.fromkeys(MARGINS, 0)
            err = 0.0
            for s in range(draws):
                W = spiked_matrix(N, M, [m * bbp_threshold(Q) for m in mults], rng=[7, M, Q, s])
                ev = sl.eigvalsh(W.T @ W / N)
                for c in MARGINS:
                    fit = fit_mp(ev, N, M, tw_margin=c)
                    hits[c] += fit.num_spikes == len(mults)
                err = max(err, abs(fit_mp(ev, N, M).sigma - 1.0))
            lines.append(
                f"{M:5d} {Q:2d} {mults!s:<26} {draws:5d} "
                + " ".join(f"{hits[c] / draws:7.0%}" for c in MARGINS)
                + f"  {err:.4f}"
            )
            print(lines[-1], flush=True)
    out = Path(__file__).parent / "results" / "spikes.txt"
    out.parent.mkdir(exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print(lines[0])


if __name__ == "__main__":
    main()
