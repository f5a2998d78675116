"""Report: summary, ESD access, export and reload, display protocols."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import htsr
from fixtures import zoo
from htsr.report import load_report
from htsr.report.columns import COLUMNS, columns_page


@pytest.fixture(scope="module")
def report() -> htsr.Report:
    return htsr.analyze(zoo.convs())


def test_every_column_is_registered_with_formula_and_source(report: htsr.Report) -> None:
    registered = {c.name: c for c in COLUMNS}
    for col in report.layers.columns:
        assert col in registered, f"column {col!r} missing from htsr.report.columns.COLUMNS"
        assert registered[col].formula and registered[col].source, col


def test_docs_columns_page_is_current() -> None:
    page = Path(__file__).parents[2] / "docs" / "columns.md"
    assert page.read_text() == columns_page(), "regenerate docs/columns.md (see its header)"


def test_esd_access(report: htsr.Report) -> None:
    evals = report.esd("1.weight")
    assert evals.shape == (144,) and np.all(np.diff(evals) >= 0)
    evals[:] = -1  # a copy: the report is unchanged
    assert report.esd("1.weight")[0] >= 0
    with pytest.raises(KeyError, match="has no ESD \\(skipped: 1-D"):
        report.esd("1.bias")
    with pytest.raises(KeyError, match="no layer named 'nope'"):
        report.esd("nope")


def test_json_round_trip(report: htsr.Report, tmp_path: Path) -> None:
    report.to_json(tmp_path / "r.json", include_esd=True)
    back = load_report(tmp_path / "r.json")
    pd.testing.assert_frame_equal(back.layers, report.layers, check_dtype=False)
    np.testing.assert_array_equal(back.esd("1.weight"), report.esd("1.weight"))
    assert back.summary == pytest.approx(report.summary, nan_ok=True)


def test_csv_round_trip(report: htsr.Report, tmp_path: Path) -> None:
    report.to_csv(tmp_path / "r.csv")
    back = load_report(tmp_path / "r.csv")
    pd.testing.assert_frame_equal(back.layers, report.layers, check_dtype=False)


def test_parquet(report: htsr.Report, tmp_path: Path) -> None:
    report.to_parquet(tmp_path / "r.parquet")
    assert pd.read_parquet(tmp_path / "r.parquet").shape == report.layers.shape


def test_summary_counts(report: htsr.Report) -> None:
    s = report.summary
    assert s["num_tensors"] == len(report.layers) == 8
    assert s["num_analysed"] + s["num_skipped"] + s["num_errors"] == 8
    assert s["stable_rank"] == pytest.approx(report.analysed.stable_rank.mean())


def test_display_protocols(report: htsr.Report) -> None:
    from rich.console import Console

    console = Console(record=True, width=200)
    console.print(report)
    text = console.export_text()
    assert "1.weight" in text and "num_analysed" in text
    html = report._repr_html_()
    assert html.count("<tr>") >= 4 and "conv2d" in html


def test_provenance_saved_and_read_back(report: htsr.Report, tmp_path: Path) -> None:
    prov = report.provenance
    assert prov["htsr_version"] == htsr.__version__ and prov["options"]["min_evals"] == 10
    assert prov["source"] == report.source and "seed" in prov
    report.to_json(tmp_path / "r.json")
    assert load_report(tmp_path / "r.json").provenance == prov
    report.to_parquet(tmp_path / "r.parquet")
    back = load_report(tmp_path / "r.parquet")
    assert back.provenance == prov and back.source == report.source
    pd.testing.assert_frame_equal(back.layers, report.layers, check_dtype=False)


def test_result_rebuilt_from_a_reloaded_report(report: htsr.Report, tmp_path: Path) -> None:
    report.to_json(tmp_path / "r.json", include_esd=True)
    back = load_report(tmp_path / "r.json")
    original, rebuilt = report.result("1.weight"), back.result("1.weight")
    assert rebuilt.spectrum is not None and original.spectrum is not None
    np.testing.assert_array_equal(rebuilt.spectrum.evals, original.spectrum.evals)
    assert (rebuilt.spectrum.N, rebuilt.spectrum.M) == (original.spectrum.N, original.spectrum.M)
    assert rebuilt.power_law is not None and original.power_law is not None
    assert rebuilt.power_law.alpha == original.power_law.alpha
    assert rebuilt.row["phase"] == original.row["phase"]
    report.to_json(tmp_path / "no_esd.json")
    with pytest.raises(KeyError, match="has no ESD"):
        load_report(tmp_path / "no_esd.json").result("1.weight")


def test_reloaded_phase_reads_the_saved_weight_measures(tmp_path: Path) -> None:
    # a Pareto mu = 3 matrix whose phase needs the entries' tail and the eigenvector
    # localization (rule 4): the eigenvalues alone give bleeding_out
    rng = np.random.default_rng(0)
    w = (rng.choice([-1.0, 1.0], (600, 300)) * (rng.pareto(3.0, (600, 300)) + 1)).astype(np.float32)
    report = htsr.analyze({"w.weight": w})
    assert report.layers["phase"].iloc[0] == "heavy_tailed"
    assert report.layers["localization"].iloc[0] > 10
    report.to_json(tmp_path / "r.json", include_esd=True)
    rebuilt = load_report(tmp_path / "r.json").result("w.weight").phase
    assert rebuilt is not None
    assert rebuilt.phase == "heavy_tailed"
    assert rebuilt.as_row() == pytest.approx(report.result("w.weight").phase.as_row(), nan_ok=True)


def test_load_report_names_a_bad_file(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(htsr.SourceError, match=r"x\.json: not an htsr report"):
        load_report(tmp_path / "x.json")
    with pytest.raises(htsr.SourceError, match="no such file"):
        load_report(tmp_path / "missing.json")


def test_summary_trap_count() -> None:
    rng = np.random.default_rng(0)
    weights = {"a": rng.standard_normal((120, 60)), "b": rng.standard_normal((100, 50))}
    report = htsr.analyze(weights, randomize=True, rng=0)
    traps = report.analysed["num_traps"]
    assert report.summary["num_traps"] == int(traps.sum())
    assert report.summary["num_layers_with_traps"] == int((traps > 0).sum())
