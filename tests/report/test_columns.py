"""The column registry: flags consistent, every derived list drawn from it."""

from __future__ import annotations

from htsr.monitor.observer import RECORDED_COLUMNS
from htsr.report.columns import (
    COLUMNS,
    COLUMNS_BY_NAME,
    SUMMARY_COLUMNS,
    TABLE_COLUMNS,
    columns_page,
)


def test_flags_are_consistent() -> None:
    assert len(COLUMNS_BY_NAME) == len(COLUMNS)
    for c in COLUMNS:
        if c.fit_status:
            assert c.summary and COLUMNS_BY_NAME[c.fit_status].dtype == "string", c.name
        if c.table is not None:
            assert c.table >= 1, c.name
        if c.summary:
            assert c.dtype == "float64", c.name
    assert {"name", "alpha", "warning"} <= {c.name for c in COLUMNS if c.table == 1}
    assert "alpha" in SUMMARY_COLUMNS and "warning" in TABLE_COLUMNS


def test_monitor_records_the_flagged_columns() -> None:
    assert tuple(c.name for c in COLUMNS if c.recorded) == RECORDED_COLUMNS


def test_units_in_headers_and_docs() -> None:
    assert COLUMNS_BY_NAME["lambda_max"].header == "lambda_max [W]"
    assert COLUMNS_BY_NAME["alpha"].header == "alpha"
    assert "docs/definitions.md" in columns_page()
    assert "DESIGN.md" not in columns_page()
