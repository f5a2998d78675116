"""The terminal table: names shortened in the middle, columns fitted to the width."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

import htsr
from htsr.report.display import choose_columns, report_renderable, shorten_name

_PART = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12)


@given(
    parts=st.lists(st.one_of(_PART, st.integers(0, 99).map(str)), min_size=1, max_size=8),
    width=st.integers(8, 60),
)
def test_shortened_names_fit_and_keep_their_ends(parts: list[str], width: int) -> None:
    name = ".".join(parts)
    short = shorten_name(name, width)
    assert len(short) <= width
    if len(name) <= width:
        assert short == name
    elif len(parts[-1]) + 12 <= width:  # room for the last part: it is kept whole
        assert short.endswith("." + parts[-1])


@pytest.mark.parametrize(
    ("width", "expected"),
    [
        (44, "encoder.layer.11.attention.self.query.weight"),
        (30, "e.l.11.atte….self.query.weight"),
        (26, "e.l.11.a.self.query.weight"),
        (22, "e.l.11.a.s.que….weight"),
        (18, "…11.a.s.q.weight"),
    ],
)
def test_shorten_keeps_the_layer_index(width: int, expected: str) -> None:
    assert shorten_name("encoder.layer.11.attention.self.query.weight", width) == expected


@pytest.fixture(scope="module")
def report() -> htsr.Report:
    rng = np.random.default_rng(0)
    return htsr.analyze(
        {
            f"encoder.layer.{i}.attention.self.{p}.weight": rng.standard_normal((96, 48))
            for i in range(2)
            for p in ("query", "key")
        }
    )


@pytest.mark.parametrize("width", [60, 80, 120, 200])
def test_table_fits_the_width_and_numbers_never_fold(report: htsr.Report, width: int) -> None:
    console = Console(width=width, record=True, color_system=None)
    console.print(report_renderable(report, width=width))
    lines = console.export_text().splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("name "))
    rows = lines[start + 2 : start + 2 + len(report.analysed)]
    header = lines[start].split()
    for line in lines:
        assert len(line.rstrip()) <= width
    for row in rows:
        cells = row.split()
        float(cells[header.index("alpha")])  # whole numbers, one line per row
        assert cells[0].endswith(".weight")


def test_more_width_more_columns(report: htsr.Report) -> None:
    rows = report.analysed
    counts = [len(choose_columns(rows, w)[0]) for w in (60, 80, 120, 200)]
    assert counts == sorted(counts) and counts[0] < counts[-1]
    assert choose_columns(rows, 80, columns=["lambda_max"])[0] == ["name", "lambda_max"]
