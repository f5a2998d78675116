"""Several models side by side: model-level metrics, a ranking, correlations with accuracy.

The question of Martin, Peng & Mahoney (Nature Communications 12, 4122, 2021): which of several
models (versions, hyper-parameter settings, checkpoints) generalizes better, from the weights
alone. Each model is summarised by means over its layers (:func:`htsr.report.summarize`), and,
given test accuracies, each metric's rank and linear correlation with them is measured with the
statistics of the paper's Table 1.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from htsr.errors import HtsrError, SourceError
from htsr.report import Report, layers_frame, load_report, summarize

#: Model-level metrics correlated with accuracy, and the sign of the correlation the theory
#: expects (Nat. Commun. 2021, Table 1 and Section "Results": smaller alpha, alpha-weighted,
#: log norms go with higher accuracy). NaN: no published expectation; reported, not judged.
EXPECTED_SIGN: dict[str, float] = {
    "alpha": -1.0,
    "alpha_weighted": -1.0,
    "log_norm": -1.0,
    "log_spectral_norm": -1.0,
    "log_alpha_norm": -1.0,
    "stable_rank": math.nan,
    "mp_softrank": math.nan,
    "entropy": math.nan,
}
#: Suffixes of paths read as saved reports rather than models.
REPORT_SUFFIXES = (".json", ".parquet", ".csv")


@dataclass(frozen=True, slots=True)
class Comparison:
    """Several models analysed and compared.

    Attributes
    ----------
    models : pandas.DataFrame
        Indexed by model name: the model-level metrics (the values of each model's
        ``Report.summary``, recomputed when first/last layers or kinds are left out), the
        phase counts ``num_<phase>``, and ``accuracy`` when accuracies were given.
    layers : pandas.DataFrame
        Every model's per-layer table, one after the other, with a ``model`` column first.
    correlations : pandas.DataFrame or None
        With accuracies: one row per metric of :data:`EXPECTED_SIGN` (index ``metric``) with
        ``n`` (models with a finite value), ``kendall_tau`` (tau-b), ``spearman_rho``,
        ``pearson_r``, ``slope``, ``intercept``, ``r2`` and ``rmse`` of the least-squares line
        ``accuracy ~ intercept + slope * metric``, ``expected_sign`` and ``agrees`` (whether
        tau has the expected sign). See :func:`correlations`.
    reports : dict of str to Report
        The report of each model (as computed or reloaded).
    """

    models: pd.DataFrame
    layers: pd.DataFrame
    correlations: pd.DataFrame | None
    reports: dict[str, Report]

    def ranking(self, metric: str = "alpha", *, ascending: bool | None = None) -> pd.DataFrame:
        """The models sorted best first by ``metric``, with a ``rank`` column (1 = best).

        ``ascending`` defaults to the metric's expected sign (smaller is better for the norm
        and alpha metrics; larger for metrics without an expectation).
        """
        if metric not in self.models.columns:
            known = ", ".join(c for c in self.models.columns if not c.startswith("num_"))
            raise ValueError(
                f"`metric` must be a column of Comparison.models ({known}); got {metric!r}"
            )
        if ascending is None:
            ascending = EXPECTED_SIGN.get(metric, math.nan) < 0
        ranked = self.models.sort_values(metric, ascending=ascending, na_position="last")
        ranked.insert(0, "rank", np.arange(1, len(ranked) + 1))
        return ranked

    def to_html(self, path: str | Path, *, metric: str = "alpha") -> Path:
        """Write one self-contained HTML page (:func:`htsr.plots.compare.comparison_html`:
        ranked table, correlations, metric-vs-accuracy scatters with fitted lines, per-layer
        alpha of all models, phase counts); needs ``pip install 'htsr[plot]'``."""
        from htsr.plots.compare import comparison_html

        text = comparison_html(
            self.models,
            self.layers,
            self.correlations,
            metric=metric,
            ranking=self.ranking(metric),
        )
        out = Path(path)
        out.write_text(text, encoding="utf-8")
        return out


# -- statistics --------------------------------------------------------------------------------


def kendall_tau_b(x: np.ndarray, y: np.ndarray) -> float:
    """Kendall's tau-b, with ties in either variable (Kendall 1945).

    .. math:: \\tau_b = \\frac{n_c - n_d}{\\sqrt{(n_0 - n_1)(n_0 - n_2)}}

    with ``n_c``, ``n_d`` the concordant and discordant pairs, ``n_0 = n(n-1)/2`` and ``n_1``,
    ``n_2`` the pairs tied in x and in y. O(n^2): meant for tens of models. NaN when either
    variable is constant.
    """
    dx = np.sign(x[:, None] - x[None, :])
    dy = np.sign(y[:, None] - y[None, :])
    upper = np.triu_indices(len(x), k=1)
    sx, sy = dx[upper], dy[upper]
    denom = math.sqrt(float(np.count_nonzero(sx)) * float(np.count_nonzero(sy)))
    return float(np.sum(sx * sy) / denom) if denom > 0 else math.nan


def pearson_r(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson's correlation coefficient; NaN when either variable is constant."""
    xc, yc = x - x.mean(), y - y.mean()
    denom = math.sqrt(float(np.sum(xc * xc)) * float(np.sum(yc * yc)))
    return float(np.sum(xc * yc) / denom) if denom > 0 else math.nan


def spearman_rho(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rho: Pearson's r of the ranks (ties get their average rank)."""
    rx = pd.Series(x).rank(method="average").to_numpy()
    ry = pd.Series(y).rank(method="average").to_numpy()
    return pearson_r(rx, ry)


def least_squares(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float, float]:
    """``(slope, intercept, r2, rmse)`` of the least-squares line ``y ~ intercept + slope x``.

    .. math:: R^2 = 1 - \\frac{\\sum (y_i - \\hat y_i)^2}{\\sum (y_i - \\bar y)^2}, \\quad
              \\mathrm{RMSE} = \\sqrt{\\tfrac{1}{n} \\sum (y_i - \\hat y_i)^2}

    NaN when x is constant or fewer than 2 points.
    """
    if len(x) < 2 or np.ptp(x) == 0:
        return math.nan, math.nan, math.nan, math.nan
    xc = x - x.mean()
    slope = float(np.sum(xc * (y - y.mean())) / np.sum(xc * xc))
    intercept = float(y.mean() - slope * x.mean())
    residual = y - (intercept + slope * x)
    sst = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum(residual**2)) / sst if sst > 0 else math.nan
    return slope, intercept, r2, float(np.sqrt(np.mean(residual**2)))


def correlations(models: pd.DataFrame, accuracy: str = "accuracy") -> pd.DataFrame:
    """Correlation of each model-level metric with accuracy (Nat. Commun. 2021, Table 1).

    For each metric of :data:`EXPECTED_SIGN` present in ``models``, over the models where it is
    finite: Kendall's tau-b, Spearman's rho, Pearson's r, and slope, intercept, R^2 and RMSE
    of the least-squares line accuracy ~ metric; ``expected_sign`` and ``agrees``
    (``sign(kendall_tau) == expected_sign``; None without an expectation or a tau).

    References
    ----------
    .. [1] C. H. Martin, T. S. Peng, M. W. Mahoney, "Predicting trends in the quality of
       state-of-the-art neural networks without access to training or testing data",
       Nature Communications 12, 4122 (2021), Table 1 (Kendall tau, R^2 and RMSE per metric).
    """
    rows = []
    y_all = models[accuracy].to_numpy(dtype=np.float64)
    for metric, sign in EXPECTED_SIGN.items():
        if metric not in models.columns:
            continue
        x_all = pd.to_numeric(models[metric], errors="coerce").to_numpy(dtype=np.float64)
        keep = np.isfinite(x_all) & np.isfinite(y_all)
        x, y = x_all[keep], y_all[keep]
        enough = len(x) >= 2
        tau = kendall_tau_b(x, y) if enough else math.nan
        slope, intercept, r2, rmse = least_squares(x, y)
        rows.append(
            {
                "metric": metric,
                "n": int(keep.sum()),
                "kendall_tau": tau,
                "spearman_rho": spearman_rho(x, y) if enough else math.nan,
                "pearson_r": pearson_r(x, y) if enough else math.nan,
                "slope": slope,
                "intercept": intercept,
                "r2": r2,
                "rmse": rmse,
                "expected_sign": sign,
                "agrees": None
                if math.isnan(sign) or math.isnan(tau) or tau == 0
                else bool(np.sign(tau) == sign),
            }
        )
    return pd.DataFrame(rows).set_index("metric")


# -- inputs ------------------------------------------------------------------------------------


def _is_report_path(model: Any) -> bool:
    return isinstance(model, (str, os.PathLike)) and Path(model).suffix.lower() in REPORT_SUFFIXES


def _read_report(path: Path) -> Report:
    if not path.is_file():
        raise SourceError(path, "no such saved report")
    if path.suffix.lower() == ".parquet":
        from htsr._optional import import_optional

        import_optional("pyarrow", extra="parquet", caller="htsr.compare")
        layers = layers_frame(pd.read_parquet(path).to_dict("records"))
        return Report(layers, summarize(layers), str(path))
    try:
        return load_report(path)
    except (ValueError, KeyError) as e:
        raise SourceError(path, f"not a saved htsr report ({type(e).__name__}: {e})") from e


def _default_name(model: Any, i: int) -> str:
    if isinstance(model, (str, os.PathLike)):
        path = Path(model)
        return path.stem if path.suffix else path.name
    return f"model_{i}"


def _default_names(values: list[Any]) -> list[str]:
    """File stems (``model_<i>`` for objects); the whole path where two stems collide."""
    stems = [_default_name(m, i) for i, m in enumerate(values)]
    return [
        str(m) if stems.count(stem) > 1 and isinstance(m, (str, os.PathLike)) else stem
        for stem, m in zip(stems, values, strict=True)
    ]


def _names_iv(models: Any, names: Sequence[str] | None) -> tuple[list[str], list[Any]]:
    if isinstance(models, Mapping):
        if names is not None:
            raise ValueError(
                "`names` must be None when `models` is a dict (its keys are the names)"
            )
        items = [str(k) for k in models], list(models.values())
    else:
        if isinstance(models, (str, os.PathLike)) or not isinstance(models, Iterable):
            raise TypeError(
                f"`models` must be a list or a dict of models; got {type(models).__name__}"
            )
        values = list(models)
        given = _default_names(values) if names is None else list(names)
        if len(given) != len(values):
            raise ValueError(
                f"`names` must name each of the {len(values)} models; got {len(given)} names"
            )
        items = [str(n) for n in given], values
    if len(items[0]) < 2:
        raise ValueError(f"`models` must hold at least 2 models to compare; got {len(items[0])}")
    duplicated = sorted({n for n in items[0] if items[0].count(n) > 1})
    if duplicated:
        raise ValueError(
            f"model names must be unique; repeated: {', '.join(duplicated)} (pass `names=`)"
        )
    return items


def read_accuracies(accuracies: Mapping[str, float] | str | os.PathLike[str]) -> dict[str, float]:
    """Accuracies as a mapping, or read from a CSV file with columns ``model,accuracy``.

    Raises
    ------
    SourceError
        If the file is missing, has no ``model`` and ``accuracy`` columns, or a value is not
        a number.
    """
    if isinstance(accuracies, Mapping):
        return {str(k): float(v) for k, v in accuracies.items()}
    path = Path(accuracies)
    if not path.is_file():
        raise SourceError(path, "no such accuracy file")
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or not {"model", "accuracy"} <= set(reader.fieldnames):
            raise SourceError(
                path, f"accuracy file needs columns model,accuracy; got {reader.fieldnames}"
            )
        out = {}
        for line, row in enumerate(reader, start=2):
            try:
                out[str(row["model"]).strip()] = float(row["accuracy"])
            except (TypeError, ValueError) as e:
                raise SourceError(
                    path, f"line {line}: accuracy {row['accuracy']!r} is not a number"
                ) from e
    return out


def _accuracies_iv(accuracies: dict[str, float], names: list[str]) -> None:
    unknown = [n for n in accuracies if n not in names]
    missing = [n for n in names if n not in accuracies]
    problems = []
    if unknown:
        problems.append(f"names models that are not compared: {', '.join(unknown)}")
    if missing:
        problems.append(f"has no accuracy for: {', '.join(missing)}")
    if problems:
        raise ValueError(f"`accuracies` {'; and '.join(problems)} (compared: {', '.join(names)})")


def _layer_names(model: Any) -> set[str]:
    """Tensor names of a model or a saved report, read from metadata only."""
    if isinstance(model, Report):
        return set(model.layers["name"])
    from htsr.sources import open_model

    return {ref.name for ref in open_model(model).refs}


def _common_layers_iv(names: list[str], models: list[Any]) -> None:
    """Every pair of models must share at least one tensor name."""
    layer_names = [_layer_names(m) for m in models]
    for i in range(len(models)):
        for j in range(i + 1, len(models)):
            if not layer_names[i] & layer_names[j]:
                raise HtsrError(
                    f"models {names[i]!r} and {names[j]!r} have no layer in common "
                    "(no tensor name in both); they cannot be compared layer by layer"
                )


# -- model-level metrics -----------------------------------------------------------------------


def _kept_layers(
    layers: pd.DataFrame, *, first_layer: bool, last_layer: bool, kinds: frozenset[str] | None
) -> pd.DataFrame:
    """The rows averaged: analysed layers of the wanted kinds, without the first/last."""
    rows = layers
    if kinds is not None:
        rows = rows[rows["kind"].astype(str).isin(kinds)]
    ok = np.flatnonzero((rows["status"] == "ok").to_numpy())
    drop = []
    if not first_layer and len(ok):
        drop.append(ok[0])
    if not last_layer and len(ok):
        drop.append(ok[-1])
    return rows.drop(index=rows.index[sorted(set(drop))])


def compare(
    models: Sequence[Any] | Mapping[str, Any],
    *,
    names: Sequence[str] | None = None,
    accuracies: Mapping[str, float] | str | os.PathLike[str] | None = None,
    first_layer: bool = True,
    last_layer: bool = True,
    kinds: Iterable[str] | None = None,
    **analyze_options: Any,
) -> Comparison:
    """Analyse several models one at a time and compare their model-level metrics.

    Parameters
    ----------
    models : list or dict
        Anything :func:`htsr.analyze` accepts, a :class:`~htsr.report.Report`, or a saved report
        (``.json`` from ``Report.to_json``, ``.parquet`` from ``Report.to_parquet``, ``.csv``
        from ``Report.to_csv``: compared without recomputing). A dict maps names to models.
    names : sequence of str, optional
        Names of a list of models (default: file stem, else ``model_<i>``).
    accuracies : mapping or path, optional
        Test accuracy of each model (name -> value), or a CSV file with columns
        ``model,accuracy``; must name exactly the compared models.
    first_layer, last_layer : bool, default True
        Include the first / last analysed layer in the averages (the papers sometimes leave
        them out: the first layer sees raw input, the last is the classifier).
    kinds : iterable of str, optional
        Average only over layers of these kinds (``dense``, ``conv2d``, ...); the per-layer
        table keeps every row.
    **analyze_options
        Passed to :func:`htsr.analyze` for each model that is not a saved report.

    Returns
    -------
    Comparison

    Raises
    ------
    HtsrError
        If two models have no layer (tensor name) in common (the message names both).
    ValueError
        If the accuracies name a model that is not compared, or miss one (it names them).
    SourceError
        If a model or a saved report cannot be read.

    Notes
    -----
    Model-level metrics are means over analysed layers (:func:`htsr.report.summarize`):
    ``alpha``, ``alpha_weighted`` (``alpha log10 s_max^2``), ``log_norm`` (``log10 ||W||_F^2``),
    ``log_spectral_norm`` (``log10 s_max^2``), ``log_alpha_norm``
    (``log10 sum_i s_i^(2 alpha)``), ``stable_rank``, ``mp_softrank``, ``entropy``; layers
    whose fit failed are left out of the fit-based means. Models are analysed one after the
    other (each on the executor given in ``analyze_options``), each once; only the reports'
    tables and ESDs are kept.

    References
    ----------
    .. [1] C. H. Martin, T. S. Peng, M. W. Mahoney, Nature Communications 12, 4122 (2021),
       Table 1.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> models = {k: {"fc": rng.standard_normal((200, 100)) * k} for k in (1, 2, 3)}
    >>> cmp = compare(models, accuracies={"1": 0.9, "2": 0.8, "3": 0.7})
    >>> round(float(cmp.correlations.loc["log_norm", "kendall_tau"]), 6)
    -1.0
    """
    names_list, values = _names_iv(models, names)
    acc = None if accuracies is None else read_accuracies(accuracies)
    if acc is not None:
        _accuracies_iv(acc, names_list)
    kind_set = None if kinds is None else frozenset([kinds] if isinstance(kinds, str) else kinds)
    values = [_read_report(Path(m)) if _is_report_path(m) else m for m in values]
    _common_layers_iv(names_list, values)
    reports: dict[str, Report] = {}
    rows, frames = [], []
    for name, model in zip(names_list, values, strict=True):
        if isinstance(model, Report):
            report = model
        else:
            from htsr.analysis import analyze

            report = analyze(model, **analyze_options)
        reports[name] = report
        kept = _kept_layers(
            report.layers, first_layer=first_layer, last_layer=last_layer, kinds=kind_set
        )
        rows.append({"model": name} | summarize(kept))
        frames.append(report.layers.assign(model=name))
    table = pd.DataFrame(rows).set_index("model")
    if acc is not None:
        table["accuracy"] = [acc[n] for n in names_list]
    layers = pd.concat(frames, ignore_index=True)
    layers = layers[["model", *[c for c in layers.columns if c != "model"]]]
    corr = correlations(table) if acc is not None else None
    return Comparison(table, layers, corr, reports)


__all__ = [
    "EXPECTED_SIGN",
    "Comparison",
    "compare",
    "correlations",
    "kendall_tau_b",
    "least_squares",
    "pearson_r",
    "read_accuracies",
    "spearman_rho",
]
