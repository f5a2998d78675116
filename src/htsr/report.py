"""The result of an analysis: per-layer table, model summary, ESDs; export and reload."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from htsr.columns import COLUMNS, COLUMNS_BY_NAME
from htsr.phases import phase_counts

if TYPE_CHECKING:
    from htsr.analysis import LayerResult

#: Columns averaged over analysed layers in :attr:`Report.summary` (DESIGN.md section 2).
SUMMARY_MEANS = (
    "alpha",
    "alpha_weighted",
    "log_norm",
    "log_spectral_norm",
    "log_alpha_norm",
    "stable_rank",
    "mp_softrank",
    "entropy",
)
#: Summary means that need a fit; layers whose fit failed are left out and counted.
_FIT_COLUMNS = {
    "alpha": "pl_status",
    "alpha_weighted": "pl_status",
    "log_alpha_norm": "pl_status",
    "mp_softrank": "mp_status",
}


def layers_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """A DataFrame of rows, columns in registry order, registered dtypes."""
    frame = pd.DataFrame(rows)
    ordered = [c.name for c in COLUMNS if c.name in frame.columns]
    extra = [c for c in frame.columns if c not in COLUMNS_BY_NAME]
    frame = frame[ordered + extra]
    for name in ordered:
        dtype = COLUMNS_BY_NAME[name].dtype
        frame[name] = frame[name].astype(dtype if dtype != "string" else "object")
    return frame


def summarize(layers: pd.DataFrame) -> dict[str, float | int]:
    """Model-level summary: counts by status and means over analysed layers.

    A mean that needs a fit (alpha, ...) uses only layers whose fit succeeded;
    ``num_<metric>_left_out`` counts analysed layers left out of it.
    """
    status = layers["status"].astype(str) if len(layers) else pd.Series([], dtype=str)
    ok = layers[status == "ok"] if len(layers) else layers
    summary: dict[str, float | int] = {
        "num_tensors": len(layers),
        "num_analysed": len(ok),
        "num_skipped": int(status.str.startswith("skipped").sum()),
        "num_errors": int(status.str.startswith("error").sum()),
    }
    for col in SUMMARY_MEANS:
        if col not in ok.columns:
            continue
        values = pd.to_numeric(ok[col], errors="coerce")
        fit_status = _FIT_COLUMNS.get(col)
        if fit_status in ok.columns:
            values = values[ok[fit_status] == "ok"]
        finite = values[np.isfinite(values)]
        summary[col] = float(finite.mean()) if len(finite) else math.nan
        if fit_status is not None:
            summary[f"num_{col}_left_out"] = len(ok) - len(finite)
    if "phase" in ok.columns:
        for phase, count in phase_counts(ok["phase"]).items():
            summary[f"num_{phase}"] = count
    return summary


@dataclass(frozen=True)
class Report:
    """Spectral analysis of one model.

    Attributes
    ----------
    layers : pandas.DataFrame
        One row per tensor in model order; columns from :data:`htsr.columns.COLUMNS`.
    summary : dict
        See :func:`summarize`.
    source : str
        What was analysed.
    """

    layers: pd.DataFrame
    summary: dict[str, float | int]
    source: str = ""
    _esds: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    _results: dict[str, LayerResult] = field(default_factory=dict, repr=False)

    @classmethod
    def from_results(cls, results: list[LayerResult], *, source: str = "") -> Report:
        """Build a report from the analysis' per-layer results."""
        layers = layers_frame([r.row for r in results])
        esds = {r.name: r.spectrum.evals for r in results if r.spectrum is not None}
        return cls(layers, summarize(layers), source, esds, {r.name: r for r in results})

    @property
    def groups(self) -> pd.DataFrame:
        """Per-group means of the mixture-of-experts groups (:func:`htsr.groups.group_summary`)."""
        from htsr.groups import group_summary

        return group_summary(self.layers)

    @property
    def analysed(self) -> pd.DataFrame:
        """The rows whose status is ``ok``."""
        return self.layers[self.layers["status"] == "ok"]

    def esd(self, name: str) -> np.ndarray:
        """Sorted eigenvalues of X = W^T W / N of a layer (a copy).

        Raises
        ------
        KeyError
            If the layer is unknown or was not analysed (the message says which).
        """
        if name in self._esds:
            return self._esds[name].copy()
        if name in set(self.layers["name"]):
            status = self.layers.loc[self.layers["name"] == name, "status"].iloc[0]
            raise KeyError(f"layer {name!r} has no ESD ({status})")
        raise KeyError(f"no layer named {name!r}; see report.layers['name']")

    def result(self, name: str) -> LayerResult:
        """Everything computed for one layer (spectrum and fits)."""
        if name not in self._results:
            raise KeyError(f"no layer named {name!r}; see report.layers['name']")
        return self._results[name]

    # -- export -----------------------------------------------------------------------------

    def to_csv(self, path: str | Path) -> None:
        """Write the per-layer table as CSV."""
        self.layers.to_csv(path, index=False)

    def to_json(self, path: str | Path, *, include_esd: bool = False) -> None:
        """Write source, summary and table (and the ESDs if asked) as JSON."""
        payload: dict[str, Any] = {
            "source": self.source,
            "summary": _jsonable(self.summary),
            "layers": json.loads(self.layers.to_json(orient="records")),
        }
        if include_esd:
            payload["esd"] = {k: v.tolist() for k, v in self._esds.items()}
        Path(path).write_text(json.dumps(payload, indent=1))

    def to_parquet(self, path: str | Path) -> None:
        """Write the per-layer table as Parquet (needs ``pip install 'htsr[parquet]'``)."""
        from htsr._optional import import_optional

        import_optional("pyarrow", extra="parquet", caller="Report.to_parquet")
        self.layers.to_parquet(path, index=False)

    # -- figures and HTML (``pip install 'htsr[plot]'``; see htsr.plots and htsr.html) ----------

    def plot_layer(self, name: str, **options: Any) -> Any:
        """The four figures of one layer (:func:`htsr.plots.plot_layer`); returns the Figure."""
        from htsr.plots import plot_layer

        try:
            result: Any = self.result(name)
        except KeyError:  # a reloaded report keeps the ESDs only
            result = self.esd(name)
        return plot_layer(result, **({"name": name} | options))

    def plot_model(self, **options: Any) -> Any:
        """Alpha, phases, norms and an ESD overview (:func:`htsr.plots.plot_model`)."""
        from htsr.plots import plot_model

        return plot_model(self, **options)

    def to_html(self, path: str | Path, **options: Any) -> Path:
        """Write one self-contained HTML file (:func:`htsr.html.report_html` options)."""
        from htsr.html import write_html

        return write_html(self, path, **options)

    # -- display (protocols: the core never imports rich or IPython) ---------------------------

    def __rich__(self) -> Any:
        from htsr.display import report_renderable

        return report_renderable(self)

    def _repr_html_(self) -> str:
        from htsr.display import report_html_snippet

        return report_html_snippet(self)

    def __repr__(self) -> str:
        s = self.summary
        return (
            f"Report({self.source!r}: {s.get('num_analysed', 0)} analysed, "
            f"{s.get('num_skipped', 0)} skipped, {s.get('num_errors', 0)} errors)"
        )


def _jsonable(summary: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (None if isinstance(v, float) and not math.isfinite(v) else v)
        for k, v in summary.items()
    }


def load_report(path: str | Path) -> Report:
    """Reload a report written by :meth:`Report.to_json` (ESDs too if saved) or ``to_csv``."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        layers = layers_frame(pd.read_csv(path).to_dict("records"))
        return Report(layers, summarize(layers), str(path))
    payload = json.loads(path.read_text())
    layers = layers_frame(payload["layers"])
    esds = {k: np.asarray(v, dtype=np.float64) for k, v in payload.get("esd", {}).items()}
    return Report(layers, summarize(layers), payload.get("source", str(path)), esds)


__all__ = ["SUMMARY_MEANS", "Report", "layers_frame", "load_report", "summarize"]
