"""The table and the summary of a report: a DataFrame in registry order, and the model summary."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from htsr.phases import phase_counts
from htsr.report.columns import COLUMNS, COLUMNS_BY_NAME, SUMMARY_COLUMNS
from htsr.report.verdict import LayerWarning, verdict, warnings_column


def layers_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """A DataFrame of rows, columns in registry order, registered dtypes.

    The ``warning`` column is derived here from ``alpha`` and ``phase`` (so a reloaded table
    without it gets it too).
    """
    frame = pd.DataFrame(rows)
    if "status" in frame.columns and ("alpha" in frame.columns or "phase" in frame.columns):
        frame["warning"] = warnings_column(frame)
    ordered = [c.name for c in COLUMNS if c.name in frame.columns]
    extra = [c for c in frame.columns if c not in COLUMNS_BY_NAME]
    frame = frame[ordered + extra]
    for name in ordered:
        dtype = COLUMNS_BY_NAME[name].dtype
        target = np.dtype(object) if dtype == "string" else pd.api.types.pandas_dtype(dtype)
        if frame[name].dtype != target:  # most columns already are (no copy, no cast)
            frame[name] = frame[name].astype(target)
    return frame


def _is_missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _cells(column: pd.Series) -> list[str]:
    """``column.fillna("").astype(str)`` as a list (no pandas string operations)."""
    return ["" if _is_missing(v) else str(v) for v in column]


def summarize(layers: pd.DataFrame) -> dict[str, Any]:
    """Model-level summary: verdict, counts by status, warning and phase, and means over
    analysed layers (the columns flagged ``summary`` in the registry).

    A mean that needs a fit (alpha, ...) uses only layers whose fit succeeded;
    ``num_<metric>_left_out`` counts analysed layers left out of it. With ``--randomize``,
    ``num_traps`` is the total of correlation traps and ``num_layers_with_traps`` the layers
    holding any.
    """
    status = [str(s) for s in layers["status"]] if len(layers) else []
    ok = layers[np.array([s == "ok" for s in status], dtype=bool)] if len(layers) else layers
    summary: dict[str, Any] = {
        "verdict": verdict(layers),
        "num_tensors": len(layers),
        "num_analysed": len(ok),
        "num_skipped": sum(s.startswith("skipped") for s in status),
        "num_errors": sum(s.startswith("error") for s in status),
    }
    if "warning" in ok.columns:
        cells = _cells(ok["warning"])
        summary["num_warnings"] = sum(c != "" for c in cells)
        for w in (LayerWarning.OVER_TRAINED, LayerWarning.UNDER_TRAINED):
            summary[f"num_{w.value.replace('-', '_')}"] = sum(w.value in c for c in cells)
    for col in SUMMARY_COLUMNS:
        if col not in ok.columns:
            continue
        values = pd.to_numeric(ok[col], errors="coerce").to_numpy(np.float64, na_value=np.nan)
        fit_status = COLUMNS_BY_NAME[col].fit_status
        if fit_status and fit_status in ok.columns:
            values = values[np.array([str(s) == "ok" for s in ok[fit_status]], dtype=bool)]
        finite = values[np.isfinite(values)]
        summary[col] = float(finite.mean()) if len(finite) else math.nan
        if fit_status:
            summary[f"num_{col}_left_out"] = len(ok) - len(finite)
    if "num_traps" in ok.columns:
        traps = pd.to_numeric(ok["num_traps"], errors="coerce").fillna(0)
        summary["num_traps"] = int(traps.sum())
        summary["num_layers_with_traps"] = int((traps > 0).sum())
    if "phase" in ok.columns:
        for phase, count in phase_counts(ok["phase"]).items():
            summary[f"num_{phase}"] = count
    return summary


__all__ = ["layers_frame", "summarize"]
