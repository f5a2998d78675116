"""Benchmark of htsr's power-law fit against powerlaw 1.x (test-only reference).

Measures, in one run so the ratios compare like with like:

- ``fit_power_law`` vs ``powerlaw.Fit`` at n = 4096 (Pareto sample and Gaussian-matrix ESD);
- ``fit_power_law`` + ``compare_tail`` at n = 384, 1536, 4096 (the per-layer cost), and
  ``compare_tail`` alone with its ratio to ``fit_power_law`` on the same data (``vs_fit``);
- ``fit_power_law`` (pruned xmin scan) and ``power_law_scan`` (every KS distance) at n = 15000.

Usage::

    python bench/bench_powerlaw.py [--repeat 5] [--no-reference] [--out bench/results]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from htsr.fit.alternatives import compare_tail
from htsr.fit.powerlaw import fit_power_law, power_law_scan


def best_time(fn: Callable[[], Any], repeat: int) -> float:
    """Smallest wall time of ``repeat`` calls (the least disturbed by other processes)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def gaussian_esd(n: int, rng: np.random.Generator) -> np.ndarray:
    """n eigenvalues of Gaussian matrices (Q = 2): one matrix up to M = 1536, else the pooled
    ESD of 1024-column slices (as for a conv layer), to keep the set-up cheap."""
    out = []
    while n > 0:
        m = n if n <= 1536 else min(1024, n)
        w = rng.standard_normal((2 * m, m))
        out.append(np.linalg.eigvalsh(w.T @ w / (2 * m)))
        n -= m
    return np.concatenate(out)


def datasets(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"pareto_a3": rng.pareto(2.0, n) + 1.0, "gaussian_esd": gaussian_esd(n, rng)}


def reference_fit(x: np.ndarray) -> Any:
    import powerlaw  # test-only reference, powerlaw<2

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return powerlaw.Fit(x, verbose=False)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5, help="repeats of our timings (min taken)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-reference", action="store_true", help="skip powerlaw 1.x")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = ap.parse_args(argv)
    rows: list[dict[str, Any]] = []

    for name, x in datasets(4096, args.seed).items():
        ours = best_time(lambda x=x: fit_power_law(x), args.repeat)
        row: dict[str, Any] = {"case": f"fit n=4096 {name}", "ours_s": ours}
        if not args.no_reference:
            t0 = time.perf_counter()
            ref = reference_fit(x)
            row["powerlaw_s"] = time.perf_counter() - t0
            row["speedup"] = row["powerlaw_s"] / ours
            fit = fit_power_law(x)
            row["same_xmin"] = bool(fit.xmin == ref.xmin)
            row["alpha_rel_diff"] = abs(fit.alpha / ref.alpha - 1.0)
            row["D_rel_diff"] = abs(fit.D / ref.D - 1.0)
        rows.append(row)

    for n in (384, 1536, 4096):
        for name, x in datasets(n, args.seed + n).items():

            def both(x: np.ndarray = x) -> None:
                compare_tail(x, fit_power_law(x))

            fit = fit_power_law(x)
            fit_s = best_time(lambda x=x: fit_power_law(x), args.repeat)
            rows.append(
                {
                    "case": f"fit+compare n={n} {name}",
                    "ours_s": best_time(both, args.repeat),
                    "fit_s": fit_s,
                    "n_tail": fit.n_tail,
                }
            )
            compare_s = best_time(lambda x=x, fit=fit: compare_tail(x, fit), args.repeat)
            rows.append({"case": f"compare_tail n={n} {name}", "ours_s": compare_s,
                         "fit_s": fit_s, "vs_fit": compare_s / fit_s,
                         "n_tail": fit.n_tail})  # fmt: skip

    for name, x in datasets(15000, args.seed + 1).items():
        rows.append({"case": f"fit n=15000 {name}",
                     "ours_s": best_time(lambda x=x: fit_power_law(x), args.repeat)})  # fmt: skip
        rows.append({"case": f"power_law_scan (every D) n=15000 {name}",
                     "ours_s": best_time(lambda x=x: power_law_scan(x), 1)})  # fmt: skip

    args.out.mkdir(parents=True, exist_ok=True)
    meta = {"python": platform.python_version(), "machine": platform.machine(),
            "numpy": np.__version__, "repeat": args.repeat, "seed": args.seed}  # fmt: skip
    payload = json.dumps({"meta": meta, "rows": rows}, indent=2)
    (args.out / "bench_powerlaw.json").write_text(payload)
    keys = ["case", "ours_s", "fit_s", "powerlaw_s", "speedup", "same_xmin", "alpha_rel_diff",
            "D_rel_diff", "vs_fit", "n_tail"]  # fmt: skip
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for r in rows:
        cells = []
        for k in keys:
            v = r.get(k, "")
            cells.append(f"{v:.4g}" if isinstance(v, float) else str(v))
        lines.append("| " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    (args.out / "bench_powerlaw.md").write_text(f"{table}\n\n{json.dumps(meta)}\n")
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
