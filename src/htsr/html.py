"""A report as one self-contained HTML file (needs ``pip install 'htsr[plot]'``).

The file needs no network to be viewed: figures are inline PNGs (``data:`` URIs), the style
and the script are inline, and a Content-Security-Policy forbids anything else. It holds the
summary and the model figure, a sortable table of every layer with filters by phase, kind and
name, and one collapsed section per analysed layer whose figure is decoded only when the
section is opened (so a model with hundreds of layers opens at once).

Size: a layer figure is a 64-colour PNG of about 17 kB (22 kB as base64) at the default
``dpi=64``; all-MiniLM-L6-v2 (39 layers) gives a file of about 1 MB.
"""

from __future__ import annotations

import base64
import io
import math
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from htsr._optional import import_optional
from htsr.report.columns import COLUMNS_BY_NAME
from htsr.report.display import format_value

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from htsr.report import Report

#: Table columns, when present, in this order (the full row is in each layer's section).
HTML_COLUMNS = (
    "name",
    "kind",
    "shape",
    "N",
    "M",
    "Q",
    "alpha",
    "D",
    "xmin",
    "num_pl_spikes",
    "phase",
    "universality",
    "mp_softrank",
    "num_spikes",
    "num_traps",
    "alpha_weighted",
    "log_alpha_norm",
    "log_norm",
    "log_spectral_norm",
    "stable_rank",
    "entropy",
    "hard_rank",
    "status",
)
#: Text columns (sorted as strings); all others sort as numbers.
_TEXT_COLUMNS = frozenset(
    {"name", "kind", "shape", "dtype", "phase", "universality", "status", "best_fit"}
)
#: Summary entries shown first, in this order (the rest follow).
_SUMMARY_FIRST = ("num_tensors", "num_analysed", "num_skipped", "num_errors", "alpha")


def figure_data_uri(fig: Figure, *, dpi: int = 64, colors: int | None = 64) -> str:
    """A figure as a ``data:image/png;base64,...`` URI.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    dpi : int, default 64
    colors : int or None, default 64
        Quantise to a palette of this many colours (about 3x smaller for line plots, no visible
        loss); None keeps full colour.

    Returns
    -------
    str
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
    if colors is not None:
        from PIL import Image  # matplotlib depends on pillow

        image = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
        image = image.quantize(colors, method=Image.Quantize.MEDIANCUT)
        buf = io.BytesIO()
        image.save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def table_frame(report: Report) -> pd.DataFrame:
    """The rows of the HTML table: every tensor but 1-D ones, alpha and D filled if missing."""
    from htsr.plots.model import model_frame
    from htsr.report.display import shown_rows

    rows = shown_rows(report).reset_index(drop=True).copy()
    if rows.empty or ("alpha" in rows.columns and "D" in rows.columns):
        return rows
    fitted = model_frame(report).set_index("name")
    for col in ("alpha", "D"):
        if col not in rows.columns:
            rows[col] = rows["name"].map(fitted[col]) if len(fitted) else math.nan
    return rows


def _sort_key(value: Any, numeric: bool) -> str:
    if not numeric:
        return (
            "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)
        )
    try:
        number = float(value)
    except (TypeError, ValueError):
        return ""
    return repr(number) if math.isfinite(number) else ""


def _context(report: Report, *, figures: bool, dpi: int, colors: int | None) -> dict[str, Any]:
    from htsr.plots.layer import layer_data, plot_layer
    from htsr.plots.model import PHASE_COLORS, PHASES, plot_model

    rows = table_frame(report)
    columns = [c for c in HTML_COLUMNS if c in rows.columns]
    analysed = set(rows.loc[rows["status"].astype(str) == "ok", "name"]) if len(rows) else set()
    ids = {name: f"layer-{i}" for i, name in enumerate(rows["name"])}
    table = []
    for _, row in rows.iterrows():
        name = str(row["name"])
        table.append(
            {
                "id": ids[name],
                "name": name,
                "has_section": name in analysed,
                "phase": _text(row.get("phase")),
                "kind": _text(row.get("kind")),
                "status": _text(row.get("status")).split(":")[0],
                "cells": [
                    (
                        format_value(_scalar(row[c])),
                        _sort_key(_scalar(row[c]), c not in _TEXT_COLUMNS),
                    )
                    for c in columns
                ],
            }
        )
    sections = []
    for _, row in rows[rows["name"].isin(analysed)].iterrows():
        name = str(row["name"])
        image = None
        title = name
        if figures:
            result = _result(report, name)
            data = layer_data(result, name=name)
            fig = plot_layer(data)
            image = figure_data_uri(fig, dpi=dpi, colors=colors)
            title = data.title()
        sections.append(
            {
                "id": ids[name],
                "name": name,
                "title": title,
                "phase": _text(row.get("phase")),
                "kind": _text(row.get("kind")),
                "image": image,
                "facts": [(k, format_value(_scalar(v))) for k, v in row.items()],
            }
        )
    phases_present = {str(t["phase"]) for t in table if t["phase"]}
    phases = [p for p in PHASES if p in phases_present] + sorted(phases_present - set(PHASES))
    summary = dict(report.summary)
    first = [k for k in _SUMMARY_FIRST if k in summary]
    model_image = None
    if figures and analysed:
        model_image = figure_data_uri(plot_model(report), dpi=72, colors=colors)
    from htsr._version import __version__

    return {
        "source": report.source,
        "version": __version__,
        "summary": [
            (k, format_value(summary[k])) for k in first + [k for k in summary if k not in first]
        ],
        "model_image": model_image,
        "columns": [
            {
                "name": c,
                "numeric": c not in _TEXT_COLUMNS,
                "tip": COLUMNS_BY_NAME[c].formula if c in COLUMNS_BY_NAME else "",
            }
            for c in columns
        ],
        "rows": table,
        "sections": sections,
        "phases": phases,
        "kinds": sorted({str(t["kind"]) for t in table if t["kind"]}),
        "phase_colors": PHASE_COLORS,
        "num_hidden": len(report.layers) - len(rows),
    }


def _scalar(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if value is pd.NA:
        return None
    return value


def _text(value: Any) -> str:
    value = _scalar(value)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def _result(report: Report, name: str) -> Any:
    try:
        return report.result(name)
    except KeyError:  # a reloaded report keeps ESDs only
        return report.esd(name)


def report_html(
    report: Report, *, figures: bool = True, dpi: int = 64, colors: int | None = 64
) -> str:
    """The report as one self-contained HTML document.

    Parameters
    ----------
    report : Report
    figures : bool, default True
        Draw the model figure and one figure per analysed layer (about 0.3-1 s each); False
        gives the summary and the table only.
    dpi : int, default 64
        Resolution of the layer figures (10 x 7 inches: 640 x 448 pixels at 64).
    colors : int or None, default 64
        Palette size of the PNGs (see :func:`figure_data_uri`).

    Returns
    -------
    str
    """
    jinja2 = import_optional("jinja2", extra="plot", caller="htsr.html.report_html")
    import_optional("matplotlib", extra="plot", caller="htsr.html.report_html")
    if figures:
        import_optional("PIL", extra="plot", caller="htsr.html.report_html")
    template_text = (resources.files("htsr") / "templates" / "report.html.j2").read_text("utf-8")
    env = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    template = env.from_string(template_text)
    return str(template.render(**_context(report, figures=figures, dpi=dpi, colors=colors)))


def write_html(report: Report, path: str | Path, **options: Any) -> Path:
    """Write :func:`report_html` to ``path`` (UTF-8) and return the path."""
    path = Path(path)
    path.write_text(report_html(report, **options), encoding="utf-8")
    return path


__all__ = ["HTML_COLUMNS", "figure_data_uri", "report_html", "table_frame", "write_html"]
