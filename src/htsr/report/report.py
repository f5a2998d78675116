"""The result of an analysis: per-layer table, model summary, ESDs, provenance; export and reload.

Data only. The views (terminal table, notebook HTML, figures, the HTML report) are imported
lazily by the facade methods (:meth:`Report.plot_layer`, :meth:`Report.to_html`, ...), the way
``pandas.DataFrame.plot`` reaches matplotlib: importing this module loads no view.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from htsr._io import atomic_path, open_text_output
from htsr.errors import SourceError
from htsr.report.results import LayerResult, spectrum_from_row
from htsr.report.table import layers_frame, summarize


@dataclass(frozen=True)
class Report:
    """Spectral analysis of one model.

    Attributes
    ----------
    layers : pandas.DataFrame
        One row per tensor in model order; columns from :data:`htsr.report.COLUMNS`.
    summary : dict
        See :func:`htsr.report.summarize`; ``summary["verdict"]`` reads the result in words.
    source : str
        What was analysed.
    provenance : dict
        How it was produced: ``htsr_version``, ``options`` (of :func:`htsr.analyze`), ``seed``
        and ``source``; saved with the report and read back by :func:`load_report`.
    """

    layers: pd.DataFrame
    summary: dict[str, Any]
    source: str = ""
    provenance: dict[str, Any] = field(default_factory=dict)
    _esds: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    _results: dict[str, LayerResult] = field(default_factory=dict, repr=False)

    @classmethod
    def from_results(
        cls,
        results: list[LayerResult],
        *,
        source: str = "",
        provenance: dict[str, Any] | None = None,
    ) -> Report:
        """Build a report from the analysis' per-layer results."""
        layers = layers_frame([r.row for r in results])
        esds = {r.name: r.spectrum.evals for r in results if r.spectrum is not None}
        results_by_name = {r.name: r for r in results}
        return cls(layers, summarize(layers), source, dict(provenance or {}), esds, results_by_name)

    @property
    def groups(self) -> pd.DataFrame:
        """Means per mixture-of-experts group (:func:`htsr.report.groups.group_summary`)."""
        from htsr.report.groups import group_summary

        return group_summary(self.layers)

    @property
    def analysed(self) -> pd.DataFrame:
        """The rows whose status is ``ok``."""
        return self.layers[self.layers["status"] == "ok"]

    @property
    def verdict(self) -> str:
        """``summary["verdict"]``: the model's state and the layers to look at."""
        return str(self.summary.get("verdict", ""))

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
        """Everything computed for one layer (spectrum, fits, phase).

        A reloaded report rebuilds it from the saved ESD and ``N, M`` (the fits are
        deterministic functions of these); the rebuilt result has no randomized ESD.

        Raises
        ------
        KeyError
            If the layer is unknown, or has no ESD (not analysed, or saved without
            ``include_esd=True``); the message says which.
        """
        if name not in self._results:
            evals = self.esd(name)
            row = self.layers.loc[self.layers["name"] == name].iloc[0].to_dict()
            spectrum = spectrum_from_row(evals, row)
            solver = self.provenance.get("options", {}).get("solver_dtype")
            if solver:
                spectrum = type(spectrum)(
                    spectrum.evals,
                    spectrum.N,
                    spectrum.M,
                    spectrum.num_slices,
                    spectrum.stored_dtype,
                    str(solver),
                )
            self._results[name] = LayerResult.from_spectrum(name, spectrum, row)
        return self._results[name]

    # -- export -----------------------------------------------------------------------------

    def to_csv(self, path: str | Path) -> None:
        """Write the per-layer table as CSV (``-``: standard output)."""
        with open_text_output(path) as stream:
            self.layers.to_csv(stream, index=False)

    def to_json(self, path: str | Path, *, include_esd: bool = False) -> None:
        """Write provenance, summary and table (and the ESDs if asked) as JSON
        (``-``: standard output)."""
        payload: dict[str, Any] = {
            "source": self.source,
            "provenance": _jsonable(self.provenance),
            "summary": _jsonable(self.summary),
            "layers": json.loads(self.layers.to_json(orient="records")),
        }
        if include_esd:
            payload["esd"] = {k: v.tolist() for k, v in self._esds.items()}
        with open_text_output(path) as stream:
            stream.write(json.dumps(payload, indent=1) + "\n")

    def to_parquet(self, path: str | Path) -> None:
        """Write the per-layer table as Parquet, the provenance in its metadata
        (needs ``pip install 'htsr[parquet]'``)."""
        from htsr._optional import import_optional

        pa = import_optional("pyarrow", extra="parquet", caller="Report.to_parquet")
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(self.layers, preserve_index=False)
        meta = dict(table.schema.metadata or {})
        meta[b"htsr"] = json.dumps(
            {"source": self.source, "provenance": _jsonable(self.provenance)}
        ).encode()
        with atomic_path(path) as tmp:
            pq.write_table(table.replace_schema_metadata(meta), tmp)

    # -- figures (``pip install 'htsr[plot]'``; htsr.plots) and HTML (htsr.report.html) ---------

    def plot_layer(self, name: str, **options: Any) -> Any:
        """The four figures of one layer (:func:`htsr.plots.plot_layer`); returns the Figure."""
        from htsr.plots import plot_layer

        return plot_layer(self.result(name), **({"name": name} | options))

    def plot_model(self, **options: Any) -> Any:
        """Alpha, phases, norms and an ESD overview (:func:`htsr.plots.plot_model`)."""
        from htsr.plots import plot_model

        return plot_model(self, **options)

    def to_html(self, path: str | Path, **options: Any) -> Path:
        """Write one self-contained HTML file (:func:`htsr.report.html.write_html` options)."""
        from htsr.report.html import write_html

        return write_html(self, path, **options)

    # -- display (protocols: the core never imports rich or IPython) ---------------------------

    def __rich__(self) -> Any:
        from htsr.report.display import report_renderable

        return report_renderable(self)

    def _repr_html_(self) -> str:
        from htsr.report.display import report_html_snippet

        return report_html_snippet(self)

    def __repr__(self) -> str:
        s = self.summary
        return (
            f"Report({self.source!r}: {s.get('num_analysed', 0)} analysed, "
            f"{s.get('num_skipped', 0)} skipped, {s.get('num_errors', 0)} errors)"
        )


def _jsonable(value: Any) -> Any:
    """NaN and infinities as null, tuples as lists, recursively (strict JSON)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    return value


def load_report(path: str | Path) -> Report:
    """Reload a report written by :meth:`Report.to_json` (ESDs too if saved), ``to_csv`` or
    ``to_parquet``; provenance is read back where the format carries it.

    Raises
    ------
    SourceError
        If the file is missing or is not a report (the message names the file).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            layers = layers_frame(pd.read_csv(path).to_dict("records"))
            return Report(layers, summarize(layers), str(path))
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            table = pq.read_table(path)
            meta = json.loads((table.schema.metadata or {}).get(b"htsr", b"{}"))
            layers = layers_frame(table.to_pandas().to_dict("records"))
            source = meta.get("source", str(path))
            return Report(layers, summarize(layers), source, meta.get("provenance", {}))
        payload = json.loads(path.read_text())
        layers = layers_frame(payload["layers"])
    except FileNotFoundError as e:
        raise SourceError(path, "no such file") from e
    except (ValueError, KeyError, TypeError) as e:
        raise SourceError(path, f"not an htsr report ({type(e).__name__}: {e})") from e
    esds = {k: np.asarray(v, dtype=np.float64) for k, v in payload.get("esd", {}).items()}
    return Report(
        layers,
        summarize(layers),
        payload.get("source", str(path)),
        payload.get("provenance", {}),
        esds,
    )


__all__ = ["Report", "load_report"]
