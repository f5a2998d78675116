"""Several models compared: model table, ranking, correlations with accuracy."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.stats

import htsr
from htsr.compare import (
    EXPECTED_SIGN,
    correlations,
    kendall_tau_b,
    least_squares,
    pearson_r,
    spearman_rho,
)
from htsr.errors import HtsrError, SourceError

#: Our statistics against scipy's: the same formulas, float64 round-off only.
STAT_TOL = 1e-12


def _model(rng: np.random.Generator, scale: float) -> dict[str, np.ndarray]:
    return {
        "l0.weight": scale * rng.standard_normal((120, 60)),
        "l1.weight": scale * rng.standard_normal((100, 50)),
        "l2.weight": 2 * scale * rng.standard_normal((80, 40)),
        "l2.bias": rng.standard_normal(80),
    }


@pytest.fixture
def models(rng: np.random.Generator) -> dict[str, dict[str, np.ndarray]]:
    return {f"m{i}": _model(rng, scale) for i, scale in enumerate((0.5, 1.0, 2.0, 4.0))}


@pytest.mark.parametrize("ties", [False, True])
def test_against_scipy(global_random_seed: int, ties: bool) -> None:
    rng = np.random.default_rng(global_random_seed)
    x = rng.standard_normal(12)
    y = -0.5 * x + rng.standard_normal(12)
    if ties:
        x, y = np.round(x), np.round(y * 2) / 2
    assert kendall_tau_b(x, y) == pytest.approx(
        scipy.stats.kendalltau(x, y).statistic, abs=STAT_TOL
    )
    assert spearman_rho(x, y) == pytest.approx(scipy.stats.spearmanr(x, y).statistic, abs=STAT_TOL)
    assert pearson_r(x, y) == pytest.approx(scipy.stats.pearsonr(x, y).statistic, abs=STAT_TOL)
    slope, intercept, r2, rmse = least_squares(x, y)
    fit = scipy.stats.linregress(x, y)
    assert (slope, intercept) == pytest.approx((fit.slope, fit.intercept), abs=STAT_TOL)
    assert r2 == pytest.approx(fit.rvalue**2, abs=STAT_TOL)
    residual = y - (fit.intercept + fit.slope * x)
    assert rmse == pytest.approx(np.sqrt(np.mean(residual**2)), abs=STAT_TOL)


def test_constant_input_gives_nan() -> None:
    x, y = np.ones(5), np.arange(5.0)
    assert math.isnan(kendall_tau_b(x, y))
    assert math.isnan(pearson_r(x, y))
    assert all(math.isnan(v) for v in least_squares(x, y))


def test_compare_models_table_and_correlations(models: dict) -> None:
    acc = {"m0": 0.9, "m1": 0.85, "m2": 0.7, "m3": 0.6}
    cmp = htsr.compare(models, accuracies=acc)
    assert list(cmp.models.index) == ["m0", "m1", "m2", "m3"]
    # the model table holds each report's summary, unchanged with the default options
    for name, report in cmp.reports.items():
        for key, value in report.summary.items():
            assert cmp.models.loc[name, key] == pytest.approx(value, nan_ok=True)
    assert list(cmp.models["accuracy"]) == [0.9, 0.85, 0.7, 0.6]
    assert {"num_heavy_tailed", "num_random_like"} <= set(cmp.models.columns)
    assert list(cmp.layers.columns[:2]) == ["model", "name"]
    assert len(cmp.layers) == 4 * 4
    corr = cmp.correlations
    assert corr is not None
    assert set(corr.columns) >= {"kendall_tau", "spearman_rho", "pearson_r", "r2", "rmse"}
    assert set(corr.index) <= set(EXPECTED_SIGN)
    # the weights grow by 2x per model while accuracy falls: log_norm is perfectly discordant
    assert corr.loc["log_norm", "kendall_tau"] == pytest.approx(-1.0)
    assert corr.loc["log_norm", "agrees"]
    assert corr.loc["log_norm", "expected_sign"] == -1


def test_ranking(models: dict) -> None:
    cmp = htsr.compare(models)
    assert cmp.correlations is None
    ranked = cmp.ranking("log_norm")
    assert list(ranked.index) == ["m0", "m1", "m2", "m3"]  # smaller log norm is better
    assert list(ranked["rank"]) == [1, 2, 3, 4]
    assert list(cmp.ranking("log_norm", ascending=False).index) == ["m3", "m2", "m1", "m0"]
    with pytest.raises(ValueError, match="`metric` must be a column"):
        cmp.ranking("accuracy")


def test_first_last_layer_and_kinds(models: dict) -> None:
    full = htsr.compare(models)
    inner = htsr.compare(models, first_layer=False, last_layer=False)
    for name in models:
        only_l1 = full.reports[name].layers.set_index("name").loc["l1.weight"]
        assert inner.models.loc[name, "log_norm"] == pytest.approx(only_l1["log_norm"])
        assert inner.models.loc[name, "num_analysed"] == 1
    dense = htsr.compare(models, kinds=["embedding"])
    assert (dense.models["num_analysed"] == 0).all()


def test_saved_reports_compare_without_recomputing(models: dict, tmp_path: Path) -> None:
    cmp = htsr.compare(models)
    paths = []
    for i, (name, report) in enumerate(cmp.reports.items()):
        path = tmp_path / (f"{name}.json" if i % 2 else f"{name}.parquet")
        report.to_json(path) if i % 2 else report.to_parquet(path)
        paths.append(path)
    again = htsr.compare(paths, names=list(models))
    pd.testing.assert_frame_equal(again.models, cmp.models, check_dtype=False)
    with pytest.raises(SourceError, match="no such saved report"):
        htsr.compare([tmp_path / "nope.json", paths[0]])


def test_default_names(models: dict, tmp_path: Path) -> None:
    cmp = htsr.compare(models)
    paths = []
    for name in ("run_a", "run_b"):
        (tmp_path / name).mkdir()
        paths.append(tmp_path / name / "model.json")
        cmp.reports["m0"].to_json(paths[-1])
    assert list(htsr.compare(paths).models.index) == [str(p) for p in paths]  # stems collide
    mixed = htsr.compare([paths[0], models["m1"]])
    assert list(mixed.models.index) == ["model", "model_1"]


def test_accuracy_csv(models: dict, tmp_path: Path) -> None:
    path = tmp_path / "acc.csv"
    path.write_text("model,accuracy\nm0,0.9\nm1,0.8\nm2,0.7\nm3,0.1\n")
    cmp = htsr.compare(models, accuracies=path)
    assert cmp.models.loc["m3", "accuracy"] == 0.1
    assert cmp.correlations is not None


def test_compare_iv(models: dict, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="names models that are not compared: m9"):
        htsr.compare(models, accuracies={"m0": 1, "m1": 1, "m2": 1, "m3": 1, "m9": 1})
    with pytest.raises(ValueError, match="has no accuracy for: m2, m3"):
        htsr.compare(models, accuracies={"m0": 1, "m1": 1})
    other = {"x.weight": np.ones((30, 20))}
    with pytest.raises(HtsrError, match="models 'm0' and 'other' have no layer in common"):
        htsr.compare({"m0": models["m0"], "other": other})
    with pytest.raises(ValueError, match="at least 2 models"):
        htsr.compare([models["m0"]])
    with pytest.raises(ValueError, match="`names` must name each of the 2 models"):
        htsr.compare([models["m0"], models["m1"]], names=["a"])
    with pytest.raises(ValueError, match="repeated: a"):
        htsr.compare([models["m0"], models["m1"]], names=["a", "a"])
    bad = tmp_path / "acc.csv"
    bad.write_text("name,acc\nm0,1\n")
    with pytest.raises(SourceError, match="needs columns model,accuracy"):
        htsr.compare(models, accuracies=bad)
    bad.write_text("model,accuracy\nm0,high\n")
    with pytest.raises(SourceError, match="line 2: accuracy 'high' is not a number"):
        htsr.compare(models, accuracies=bad)


def test_correlations_skip_non_finite() -> None:
    table = pd.DataFrame(
        {"alpha": [2.0, 3.0, np.nan, 4.0], "accuracy": [0.9, 0.8, 0.7, 0.6]},
        index=["a", "b", "c", "d"],
    )
    corr = correlations(table)
    assert corr.loc["alpha", "n"] == 3
    assert corr.loc["alpha", "kendall_tau"] == pytest.approx(-1.0)
