"""Formatting of a report for people: the terminal table (rich) and an HTML snippet (notebooks).

Formatting only; nothing here computes a metric. The terminal table fits the width it is given:
numbers are never folded, long layer names are shortened in the middle (keeping the layer
index and the last part), and the default columns (the registry's ``table`` flag) are added by
priority while they fit.
"""

from __future__ import annotations

import html
import math
import re
from typing import TYPE_CHECKING, Any

from htsr.report.columns import COLUMNS_BY_NAME, TABLE_COLUMNS
from htsr.report.verdict import summary_highlights

if TYPE_CHECKING:
    import pandas as pd

    from htsr.report.report import Report

#: Columns aligned left (text); all others are numbers, aligned right.
_TEXT = frozenset(c.name for c in COLUMNS_BY_NAME.values() if c.dtype == "string")
#: The ellipsis used to shorten names.
ELLIPSIS = "…"
#: Widest a status cell gets in the terminal table (the full reason is in CSV/JSON).
STATUS_WIDTH = 28
#: Narrowest name column (a transformer's ``e.l.11.a.s.query.weight`` fits).
MIN_NAME_WIDTH = 26
_INDEX = re.compile(r"^\d+$")


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


def shorten_name(name: str, width: int) -> str:
    """``name`` in at most ``width`` characters, shortened in the middle.

    The last layer index (``.11.``) and the last part (``weight``) are kept; the parts between
    are abbreviated from the left, first to their initial, the last one abbreviated to just
    what fits (``…`` marks a cut); only if that is not enough is the name cut in the middle.

    Examples
    --------
    >>> shorten_name("encoder.layer.11.attention.self.query.weight", 30)
    'e.l.11.a.self.query.weight'
    >>> shorten_name("embeddings.position_embeddings.weight", 24)
    'e.position_embed….weight'
    >>> shorten_name("short.weight", 20)
    'short.weight'
    """
    if len(name) <= width:
        return name
    parts = name.split(".")
    index = max((i for i, p in enumerate(parts) if _INDEX.match(p)), default=-1)
    for i in range(len(parts) - 1):
        if i == index or len(parts[i]) <= 1:
            continue
        excess = len(".".join(parts)) - width
        if excess <= 0:
            break
        if len(parts[i]) - excess - 1 >= 2:  # cutting this part is enough
            parts[i] = parts[i][: len(parts[i]) - excess - 1] + ELLIPSIS
            break
        parts[i] = parts[i][0]
    short = ".".join(parts)
    if len(short) <= width:
        return short
    if index > 0 and len(ELLIPSIS + ".".join(parts[index:])) <= width:
        return ELLIPSIS + ".".join(parts[index:])
    keep = max(width - 1, 1)
    right = max(keep - keep // 3, 1)
    return short[: keep - right] + ELLIPSIS + short[len(short) - right :]


def shown_rows(report: Report, *, show_all: bool = False) -> pd.DataFrame:
    """Rows worth showing in a full table (HTML): every matrix, i.e. all but 1-D tensors
    unless ``show_all``."""
    layers = report.layers
    if show_all or layers.empty:
        return layers
    return layers[layers["kind"] != "vector"]


def terminal_rows(report: Report, *, show_all: bool = False) -> pd.DataFrame:
    """Rows of the terminal table: analysed and failed layers; skipped tensors (1-D,
    filtered, too small) only with ``show_all``."""
    layers = report.layers
    if show_all or layers.empty:
        return layers
    return layers[~layers["status"].astype(str).str.startswith("skipped")]


def unknown_columns(report: Report, columns: list[str]) -> list[str]:
    """The names in ``columns`` that are not columns of the report's table."""
    return [c for c in columns if c not in report.layers.columns]


def _cell(column: str, value: Any) -> str:
    text = format_value(value)
    if column == "status" and len(text) > STATUS_WIDTH:
        text = text[: STATUS_WIDTH - 1] + ELLIPSIS
    if column == "warning" and text == "-":
        text = ""
    return text


def _row_cells(row: pd.Series, cols: list[str], name_width: int) -> list[str]:
    """One table row; a failed layer shows its status in the ``warning`` cell."""
    cells = []
    for c in cols:
        if c == "name":
            cells.append(shorten_name(str(row[c]), name_width))
        elif c == "warning" and str(row["status"]).startswith("error"):
            cells.append(_cell("status", row["status"]))
        else:
            cells.append(_cell(c, row[c]))
    return cells


def _width(rows: pd.DataFrame, column: str) -> int:
    header = COLUMNS_BY_NAME[column].header if column in COLUMNS_BY_NAME else column
    cells = [len(_cell(column, v)) for v in rows[column].tolist()]
    if column == "warning":
        status = rows["status"].astype(str)
        cells += [len(_cell("status", v)) for v in status[status.str.startswith("error")]]
    return max([len(header), *cells])


def choose_columns(
    rows: pd.DataFrame, width: int, *, columns: list[str] | None = None
) -> tuple[list[str], int]:
    """The columns to show in ``width`` characters and the width left for names.

    With ``columns`` given they are shown as asked (``name`` first if absent); otherwise the
    registry's default columns are added by priority while they fit, in registry order.
    Every column but ``name`` gets its full width (numbers never fold); ``name`` gets what is
    left, between :data:`MIN_NAME_WIDTH` and its longest value.
    """
    longest = max((len(str(n)) for n in rows["name"].tolist()), default=4)
    name_max = max(longest, 4)
    if columns is not None:
        chosen = ["name", *[c for c in columns if c != "name"]]
    else:
        present = [c for c in TABLE_COLUMNS if c in rows.columns and c != "name"]
        by_priority = sorted(present, key=lambda c: COLUMNS_BY_NAME[c].table or 99)
        chosen = ["name"]
        used = min(name_max, max(MIN_NAME_WIDTH, width // 3)) + 1
        for c in by_priority:
            need = _width(rows, c) + 1  # one space between columns
            if used + need <= width:
                chosen.append(c)
                used += need
        order = {c: i for i, c in enumerate(TABLE_COLUMNS)}
        chosen = ["name", *sorted(chosen[1:], key=order.__getitem__)]
    others = sum(_width(rows, c) + 1 for c in chosen[1:])
    name_width = max(min(name_max, width - others - 1), min(name_max, MIN_NAME_WIDTH))
    return chosen, name_width


def table_renderable(
    report: Report,
    *,
    width: int = 120,
    columns: list[str] | None = None,
    show_all: bool = False,
) -> Any:
    """The layer table as a rich Table fitting ``width`` characters (see
    :func:`choose_columns`)."""
    from rich import box
    from rich.table import Table

    rows = terminal_rows(report, show_all=show_all)
    cols, name_width = choose_columns(rows, width, columns=columns)
    table = Table(
        box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=0, header_style="bold"
    )
    for c in cols:
        header = COLUMNS_BY_NAME[c].header if c in COLUMNS_BY_NAME else c
        col_width = name_width if c == "name" else _width(rows, c)
        table.add_column(
            header,
            justify="left" if c in _TEXT else "right",
            no_wrap=True,
            overflow="ellipsis",
            min_width=col_width,
            max_width=col_width,
        )
    for _, row in rows.iterrows():
        status = str(row["status"])
        style = "dim" if status.startswith("skipped") else ("red" if "error" in status else None)
        cells = _row_cells(row, cols, name_width)
        if "warning" in cols and row.get("warning"):
            style = style or "yellow"
        table.add_row(*cells, style=style)
    return table


def summary_lines(report: Report) -> list[str]:
    """The summary as short ``key: value`` lines (the highlights; the verdict is apart)."""
    highlights = summary_highlights(report.summary)
    highlights.pop("verdict", None)
    return [f"{k}: {format_value(v)}" for k, v in highlights.items()]


def report_renderable(
    report: Report,
    *,
    width: int = 120,
    columns: list[str] | None = None,
    show_all: bool = False,
) -> Any:
    """A rich renderable: the verdict, the layer table, then the summary highlights."""
    from rich.console import Group
    from rich.text import Text

    parts: list[Any] = [
        Text(f"htsr: {report.source}", style="bold"),
        Text(report.verdict),
        Text(""),
        table_renderable(report, width=width, columns=columns, show_all=show_all),
    ]
    hidden = len(report.layers) - len(terminal_rows(report, show_all=show_all))
    if hidden:
        parts.append(
            Text(
                f"{hidden} skipped tensors (biases, norms, filtered) not shown; --all shows them",
                "dim",
            )
        )
    parts.append(Text("summary: " + "; ".join(summary_lines(report))))
    return Group(*parts)


def report_html_snippet(report: Report, *, max_rows: int = 60) -> str:
    """Compact HTML for notebooks: verdict, summary highlights, the first ``max_rows`` rows."""
    summary = "".join(
        f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{format_value(v)}</td></tr>"
        for k, v in summary_highlights(report.summary).items()
        if k != "verdict"
    )
    rows = shown_rows(report)
    cols = [c for c in TABLE_COLUMNS if c in rows.columns]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_cell(c, r[c]))}</td>" for c in cols) + "</tr>"
        for _, r in rows.head(max_rows).iterrows()
    )
    more = f"<p>... {len(rows) - max_rows} more rows</p>" if len(rows) > max_rows else ""
    return (
        f"<div><strong>htsr report</strong>: {html.escape(report.source)}"
        f"<p>{html.escape(report.verdict)}</p>"
        f"<table>{summary}</table><table><thead><tr>{head}</tr></thead>"
        f"<tbody>{body}</tbody></table>{more}</div>"
    )


__all__ = [
    "choose_columns",
    "format_value",
    "report_html_snippet",
    "report_renderable",
    "shorten_name",
    "shown_rows",
    "summary_lines",
    "table_renderable",
    "terminal_rows",
    "unknown_columns",
]
