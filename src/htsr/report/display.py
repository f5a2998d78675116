"""Formatting of a report for people: a rich table (CLI) and an HTML snippet (notebooks).

Formatting only; nothing here computes a metric.
"""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from htsr.report.report import Report

from htsr.report.columns import TABLE_COLUMNS


def format_value(value: Any) -> str:
    """A compact string for a table cell (4 significant digits, NaN as '-')."""
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        if value.is_integer() and abs(value) < 1e9:
            return str(int(value))
        return f"{value:.4g}"
    return str(value)


def shown_rows(report: Report, *, show_all: bool = False) -> pd.DataFrame:
    """Rows worth showing: everything but 1-D tensors unless ``show_all``."""
    layers = report.layers
    if show_all or layers.empty:
        return layers
    return layers[layers["kind"] != "vector"]


def report_renderable(report: Report, *, show_all: bool = False) -> Any:
    """A rich renderable: the layer table followed by the summary."""
    from rich.console import Group
    from rich.table import Table

    rows = shown_rows(report, show_all=show_all)
    cols = [c for c in TABLE_COLUMNS if c in rows.columns]
    table = Table(title=f"htsr: {report.source}", header_style="bold", show_lines=False)
    for c in cols:
        table.add_column(
            c,
            justify="left" if c in ("name", "kind", "phase", "status") else "right",
            overflow="fold",
            no_wrap=c in ("name", "kind", "phase"),
        )
    for _, row in rows.iterrows():
        style = (
            "dim"
            if str(row["status"]).startswith("skipped")
            else ("red" if str(row["status"]).startswith("error") else None)
        )
        table.add_row(*(format_value(row[c]) for c in cols), style=style)
    summary = Table(title="summary", show_header=False)
    summary.add_column("metric")
    summary.add_column("value", justify="right")
    for key, value in report.summary.items():
        summary.add_row(key, format_value(value))
    hidden = len(report.layers) - len(rows)
    parts: list[Any] = [table]
    if hidden:
        parts.append(f"[dim]{hidden} 1-D tensors (biases, norms) not shown; --all shows them[/dim]")
    parts.append(summary)
    return Group(*parts)


def report_html_snippet(report: Report, *, max_rows: int = 60) -> str:
    """Compact HTML for notebooks: the summary, then the first ``max_rows`` analysed rows."""
    summary = "".join(
        f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{format_value(v)}</td></tr>"
        for k, v in report.summary.items()
    )
    rows = shown_rows(report)
    cols = [c for c in TABLE_COLUMNS if c in rows.columns]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(format_value(r[c]))}</td>" for c in cols) + "</tr>"
        for _, r in rows.head(max_rows).iterrows()
    )
    more = f"<p>... {len(rows) - max_rows} more rows</p>" if len(rows) > max_rows else ""
    return (
        f"<div><strong>htsr report</strong>: {html.escape(report.source)}"
        f"<table>{summary}</table><table><thead><tr>{head}</tr></thead>"
        f"<tbody>{body}</tbody></table>{more}</div>"
    )


__all__ = ["format_value", "report_html_snippet", "report_renderable"]
