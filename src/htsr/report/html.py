"""A report as one self-contained HTML file, its charts drawn in the browser.

The file needs no network and no Python package beyond htsr's core to be written: the page
(``static/report.html``), its style and script, and the chart library uPlot (MIT, vendored in
``static/`` with its licence) are inlined; the data is one JSON block. A
Content-Security-Policy allows only the inline script and style whose SHA-256 hashes it lists,
and ``data:`` images, so nothing is ever loaded from elsewhere.

The page shows the verdict (``summary["verdict"]``) and the main summary figures at the top
(the rest in a details section), the model chart (alpha by layer index, coloured by phase,
names on hover; a second metric chosen from a list), the sortable, filterable layer table, and
one collapsed section per analysed layer whose charts are drawn only when it is opened: the
ESD as a log-log density histogram with the power law, xmin, lambda+ and the randomized ESD,
its CCDF with the fit, and the Marchenko-Pastur bulk with the spikes
(:mod:`htsr.report.figure_data` computes what they draw).

Cost: linear in the number of layers (a few hundred numbers per layer; see
``bench/bench_html.py`` and docs/plots.md for measured times and sizes).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from htsr._version import __version__
from htsr.phases import Phase
from htsr.report.columns import COLUMNS, Column
from htsr.report.display import format_value
from htsr.report.figure_data import layer_figure_data
from htsr.report.verdict import summary_highlights

if TYPE_CHECKING:
    from htsr.report import Report

#: ``progress(done, total, what)`` after each step of a long task.
Progress = Callable[[int, int, str], None]

#: One colour per phase (cool = random-like, warm = heavy-tailed, black = rank collapse); the
#: HTML report and the matplotlib figures share it.
PHASE_COLORS: dict[str, str] = {
    Phase.RANDOM_LIKE.value: "#4c72b0",
    Phase.BLEEDING_OUT.value: "#64b5cd",
    Phase.BULK_SPIKES.value: "#55a868",
    Phase.BULK_DECAY.value: "#ccb974",
    Phase.HEAVY_TAILED.value: "#dd8452",
    Phase.RANK_COLLAPSE.value: "#222222",
    "unknown": "#aaaaaa",
}
#: Metrics the model chart's second panel can show (the first present is the default).
MODEL_METRICS = (
    "log_spectral_norm",
    "D",
    "log_norm",
    "alpha_weighted",
    "log_alpha_norm",
    "stable_rank",
    "mp_softrank",
    "entropy",
)
_STATIC = "static"


def matrix_rows(layers: pd.DataFrame) -> pd.DataFrame:
    """The rows of the HTML table and of the layer axis of every figure: all tensors but 1-D
    ones (biases, norms), skipped layers included, in model order, index ``0, 1, ...``: the
    layer number."""
    if "kind" in layers.columns:
        layers = layers[layers["kind"].astype(str) != "vector"]
    return layers.reset_index(drop=True)


def html_columns(layers: pd.DataFrame) -> list[Column]:
    """The registry's columns flagged ``html``, in registry order, when present in ``layers``."""
    return [c for c in COLUMNS if c.html and c.name in layers.columns]


def format_cell(value: Any) -> str:
    """A table cell: :func:`htsr.report.display.format_value` of the plain Python value."""
    return format_value(_scalar(value))


def _scalar(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def _sort_key(value: Any, numeric: bool) -> float | str | None:
    value = _scalar(value)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if not numeric:
        return str(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _json_number(value: Any) -> float | None:
    value = _scalar(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _text(value: Any) -> str:
    value = _scalar(value)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def _layer_inputs(report: Report, name: str) -> tuple[Any, Any, Any, Any]:
    """ESD, power-law fit, MP fit and randomized ESD of one analysed layer.

    :meth:`Report.result` answers also for a reloaded report (rebuilt from the saved ESD);
    a report saved without its ESDs raises ``KeyError`` naming the layer.
    """
    result = report.result(name)
    evals = result.spectrum.evals if result.spectrum is not None else report.esd(name)
    return evals, result.power_law, result.mp, result.rand_evals


def _summary(report: Report) -> tuple[str, list[list[str]], list[list[str]]]:
    """Verdict; the highlights (:func:`htsr.report.summary_highlights`) plus one count per
    phase present; every other entry (counts of left-out values, other means) for the details.
    """
    summary = dict(report.summary)
    verdict = _text(summary.pop("verdict", ""))
    main_keys = [k for k in summary_highlights(summary) if k != "verdict"]
    main_keys += [k for k in (f"num_{p}" for p in Phase) if summary.get(k)]
    main = [[k, format_cell(summary[k])] for k in main_keys]
    details = [[k, format_cell(v)] for k, v in summary.items() if k not in main_keys]
    return verdict, main, details


def page_data(
    report: Report, *, figures: bool = True, progress: Progress | None = None
) -> dict[str, Any]:
    """Everything the page shows, JSON-ready (the writer embeds it as is).

    Parameters
    ----------
    report : Report
    figures : bool, default True
        Include what the charts draw (:func:`htsr.report.figure_data.layer_figure_data`).
    progress : callable, optional
        Called as ``progress(done, total, layer_name)`` after each analysed layer.

    Returns
    -------
    dict
        ``source``, ``version``, ``verdict``, ``summary``, ``details``, ``columns``, ``rows``,
        ``layers``, ``phases``, ``phase_colors``, ``metrics``, ``num_hidden``.
    """
    layers = report.layers
    rows = matrix_rows(layers)
    columns = html_columns(rows)
    numeric = [not str(c.dtype).startswith("string") for c in columns]
    table = []
    for values in rows[[c.name for c in columns]].itertuples(index=False, name=None):
        table.append(
            {
                "cells": [format_cell(v) for v in values],
                "keys": [_sort_key(v, num) for v, num in zip(values, numeric, strict=True)],
            }
        )
    status = rows["status"].astype(str).tolist() if len(rows) else []
    sections = []
    analysed = [i for i, s in enumerate(status) if s == "ok"]
    records = rows.iloc[analysed].to_dict("records") if analysed else []
    for done, (i, row) in enumerate(zip(analysed, records, strict=True), start=1):
        name = str(row["name"])
        section: dict[str, Any] = {
            "row": i,
            "name": name,
            "phase": _text(row.get("phase")),
            "warning": _text(row.get("warning")),
            "alpha": _json_number(row.get("alpha")),
            "D": _json_number(row.get("D")),
            "metrics": {m: _json_number(row.get(m)) for m in MODEL_METRICS if m in row},
            "facts": [[str(k), format_cell(v)] for k, v in row.items()],
        }
        if figures:
            try:
                evals, power_law, mp, rand = _layer_inputs(report, name)
            except KeyError as e:  # a report reloaded without its ESDs
                section["note"] = str(e).strip("'\"")
            else:
                fig = layer_figure_data(evals, power_law=power_law, mp=mp, rand_evals=rand)
                section["fig"] = fig
        sections.append(section)
        if progress is not None:
            progress(done, len(analysed), name)
    verdict, main, details = _summary(report)
    present = {s["phase"] for s in sections if s["phase"]}
    return {
        "source": report.source,
        "version": __version__,
        "verdict": verdict,
        "summary": main,
        "details": details,
        "columns": [
            {
                "name": c.name,
                "header": c.header,
                "numeric": num,
                "tip": c.formula,
            }
            for c, num in zip(columns, numeric, strict=True)
        ],
        "rows": table,
        "status": [s.split(":")[0] for s in status],
        "kinds": [_text(k) for k in rows["kind"]] if len(rows) else [],
        "layers": sections,
        "phases": [p.value for p in Phase if p in present] + sorted(present - set(Phase)),
        "phase_colors": PHASE_COLORS,
        "metrics": [m for m in MODEL_METRICS if m in rows.columns],
        "figures": figures,
        "num_hidden": len(layers) - len(rows),
    }


def _static(name: str) -> str:
    return (resources.files("htsr.report") / _STATIC / name).read_text("utf-8")


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def _json_block(data: dict[str, Any]) -> str:
    """JSON that cannot end its ``<script>`` element early (``<`` escaped as ``\\u003c``)."""
    text = json.dumps(data, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def report_html(report: Report, *, figures: bool = True, progress: Progress | None = None) -> str:
    """The report as one self-contained HTML document.

    Parameters
    ----------
    report : Report
    figures : bool, default True
        Embed what the model and layer charts draw; False gives the summary and the table only.
    progress : callable, optional
        ``progress(done, total, layer_name)`` after each analysed layer.

    Returns
    -------
    str
    """
    data = page_data(report, figures=figures, progress=progress)
    style = _static("uPlot.min.css") + "\n" + _static("report.css")
    library = _static("uPlot.iife.min.js")
    script = _static("report.js")
    csp = "; ".join(
        (
            "default-src 'none'",
            f"script-src {_sha256(library)} {_sha256(script)}",
            f"style-src {_sha256(style)}",
            "img-src data:",
            "base-uri 'none'",
            "form-action 'none'",
        )
    )
    parts = {
        "CSP": csp,
        "TITLE": _escape(f"htsr report: {report.source}" if report.source else "htsr report"),
        "STYLE": style,
        "DATA": _json_block(data),
        "LIBRARY": library,
        "SCRIPT": script,
    }
    # one pass over the page, so that no inserted text is searched for placeholders
    return re.sub(r"\{\{([A-Z]+)\}\}", lambda m: parts[m.group(1)], _static("report.html"))


def _escape(text: str) -> str:
    import html

    return html.escape(text, quote=True)


def write_html(
    report: Report,
    path: str | Path,
    *,
    figures: bool = True,
    progress: Progress | None = None,
) -> Path:
    """Write :func:`report_html` to ``path`` (UTF-8) and return the path."""
    path = Path(path)
    path.write_text(report_html(report, figures=figures, progress=progress), encoding="utf-8")
    return path


__all__ = [
    "MODEL_METRICS",
    "PHASE_COLORS",
    "format_cell",
    "html_columns",
    "matrix_rows",
    "page_data",
    "report_html",
    "write_html",
]
