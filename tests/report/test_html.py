"""The HTML report: self-contained, strict CSP, the data its charts draw, linear size."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import re
import subprocess
import sys

import numpy as np
import pytest

import htsr
from htsr.report.html import page_data, report_html
from htsr.rmt import gaussian_matrix, pareto_matrix, spiked_matrix

#: Most bytes of embedded chart data per layer, whatever the layer's size: histograms of at
#: most 60 bins, a CCDF of at most 240 points and two fitted curves (about 6 kB measured).
MAX_LAYER_BYTES = 12_000
#: Embedded numbers keep 5 significant digits (relative error <= 5e-5 each, a few times that
#: through x^-alpha).
RTOL_5_DIGITS = 5e-4


@pytest.fixture(scope="module")
def report() -> htsr.Report:
    return htsr.analyze(
        {
            "enc.<b>0</b>.weight": gaussian_matrix(300, 100, rng=0),
            "enc.1.weight": pareto_matrix(400, 100, 2.0, rng=1),
            "enc.1.bias": np.zeros(100),
            "spiked.weight": spiked_matrix(256, 128, [4.0, 8.0], rng=2),
            "tiny.weight": gaussian_matrix(4, 3, rng=2),  # skipped: too few eigenvalues
        },
        randomize=True,
        rng=0,
    )


@pytest.fixture(scope="module")
def page(report) -> str:  # type: ignore[no-untyped-def]
    return report_html(report)


def _data(page: str) -> dict:  # type: ignore[type-arg]
    block = page.split('<script type="application/json" id="htsr-data">', 1)[1]
    return json.loads(block.split("</script>", 1)[0])  # type: ignore[no-any-return]


def _sha(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_self_contained_with_strict_csp(page: str) -> None:
    for attr, value in re.findall(r'\b(src|href)="([^"]*)"', page):
        assert value.startswith(("data:", "#")), (attr, value[:60])
    assert '<link rel="stylesheet"' not in page and "<script src" not in page
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', page)
    assert csp is not None
    policy = dict(p.strip().split(" ", 1) for p in csp.group(1).split(";"))
    assert policy["default-src"] == "'none'"
    assert "unsafe-inline" not in csp.group(1)
    # every executable inline script and the style are allowed by their hash, nothing else
    scripts = re.findall(r"<script>(.*?)</script>", page, flags=re.S)
    styles = re.findall(r"<style>(.*?)</style>", page, flags=re.S)
    assert len(scripts) == 2 and len(styles) == 1
    assert sorted(policy["script-src"].split()) == sorted(_sha(s) for s in scripts)
    assert policy["style-src"] == _sha(styles[0])


def test_one_row_per_matrix_and_one_section_per_analysed_layer(page, report) -> None:  # type: ignore[no-untyped-def]
    data = _data(page)
    matrices = report.layers[report.layers["kind"] != "vector"]
    assert len(data["rows"]) == len(matrices) == 4  # the bias is not a layer
    assert data["num_hidden"] == 1
    assert [s["name"] for s in data["layers"]] == list(report.analysed["name"])
    assert data["status"].count("skipped") == 1
    names = [c["name"] for c in data["columns"]]
    assert names[0] == "name" and "alpha" in names


def test_names_are_escaped(page: str) -> None:
    assert "enc.<b>0</b>.weight" not in page
    assert "enc.\\u003cb>0\\u003c/b>.weight" in page  # inside the JSON block
    assert _data(page)["layers"][0]["name"] == "enc.<b>0</b>.weight"


def test_sort_keys_are_the_numbers(page, report) -> None:  # type: ignore[no-untyped-def]
    data = _data(page)
    col = [c["name"] for c in data["columns"]].index("alpha")
    matrices = report.layers[report.layers["kind"] != "vector"]
    for row, alpha in zip(data["rows"], matrices["alpha"], strict=True):
        if np.isfinite(alpha):
            assert row["keys"][col] == alpha  # full precision; the cell shows 4 digits
        else:
            assert row["keys"][col] is None and row["cells"][col] == "-"


def test_power_law_curve_is_the_fit(page, report) -> None:  # type: ignore[no-untyped-def]
    section = next(s for s in _data(page)["layers"] if s["name"] == "enc.1.weight")
    pl, fit = section["fig"]["pl"], report.result("enc.1.weight").power_law
    evals = report.esd("enc.1.weight")
    x = np.asarray(pl["x"])
    scale = fit.n_tail / evals.size
    # density on the histogram and CCDF, both scaled by the tail's share of all eigenvalues;
    # x and y carry 5 significant digits: x off by 5e-6 relative moves x^-alpha by ~alpha times
    np.testing.assert_allclose(pl["pdf"], scale * fit.pdf(x), rtol=RTOL_5_DIGITS)
    np.testing.assert_allclose(pl["ccdf"], scale * fit.ccdf(x), rtol=RTOL_5_DIGITS)
    assert pl["xmin"] == fit.xmin and pl["alpha"] == fit.alpha


def test_histogram_and_ccdf_are_densities(page, report) -> None:  # type: ignore[no-untyped-def]
    for section in _data(page)["layers"]:
        evals = report.esd(section["name"])
        hist, ccdf = section["fig"]["hist"], section["fig"]["ccdf"]
        edges = np.asarray(hist["x"])
        dens = np.nan_to_num(np.asarray(hist["esd"][:-1], dtype=float))
        # the log-binned density integrates to the share of positive eigenvalues
        assert np.sum(dens * np.diff(edges)) == pytest.approx(np.mean(evals > 0), rel=1e-3)
        assert "rand" in hist  # randomize=True: the shuffled ESD on the same bins
        # CCDF P(lambda >= x): 1/n at the largest eigenvalue, decreasing
        assert ccdf["y"][-1] == pytest.approx(1 / evals.size, rel=1e-4)
        assert ccdf["x"][-1] == pytest.approx(evals[-1], rel=1e-4)
        assert np.all(np.diff(ccdf["y"]) < 0)


def test_spikes_are_above_the_threshold(page, report) -> None:  # type: ignore[no-untyped-def]
    section = next(s for s in _data(page)["layers"] if s["name"] == "spiked.weight")
    mp, fit = section["fig"]["mp"], report.result("spiked.weight").mp
    evals = report.esd("spiked.weight")
    assert mp["threshold"] == fit.threshold and mp["lambda_plus"] == fit.lambda_plus
    np.testing.assert_allclose(mp["spikes"], evals[evals > fit.threshold], rtol=1e-4)
    assert len(mp["spikes"]) == fit.num_spikes >= 2  # the two planted spikes


def test_size_per_layer_is_bounded() -> None:
    big = htsr.analyze({"w": pareto_matrix(2000, 1000, 2.0, rng=3)})
    layer = page_data(big)["layers"][0]
    assert len(json.dumps(layer)) < MAX_LAYER_BYTES  # 1000 eigenvalues, a few hundred sent


def test_verdict_and_summary_at_the_top(report) -> None:  # type: ignore[no-untyped-def]
    summary = dict(report.summary) | {"verdict": "2 of 3 layers heavy-tailed."}
    data = page_data(dataclasses.replace(report, summary=summary))
    assert data["verdict"] == "2 of 3 layers heavy-tailed."
    main = dict(data["summary"])
    assert main["num_analysed"] == "3" and "verdict" not in main
    # counts of left-out values go to the details
    details = dict(data["details"])
    assert "num_alpha_left_out" in details and "num_alpha_left_out" not in main


def test_without_figures(report) -> None:  # type: ignore[no-untyped-def]
    data = page_data(report, figures=False)
    assert data["figures"] is False and all("fig" not in s for s in data["layers"])
    assert len(report_html(report, figures=False)) < len(report_html(report))


def test_to_html_writes_the_file_and_reports_progress(report, tmp_path) -> None:  # type: ignore[no-untyped-def]
    calls: list[tuple[int, int, str]] = []
    path = report.to_html(tmp_path / "r.html", progress=lambda *a: calls.append(a))
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [c[:2] for c in calls] == [(i, 3) for i in (1, 2, 3)]


def test_needs_no_matplotlib_nor_jinja(tmp_path) -> None:  # type: ignore[no-untyped-def]
    code = (
        "import sys; sys.modules['matplotlib'] = None; sys.modules['jinja2'] = None\n"
        "import htsr\n"
        "from htsr.rmt import gaussian_matrix\n"
        "r = htsr.analyze({'w': gaussian_matrix(100, 50, rng=0)})\n"
        f"r.to_html({str(tmp_path / 'r.html')!r})\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    assert (tmp_path / "r.html").stat().st_size > 50_000  # uPlot is inlined


def test_reloaded_reports(report, tmp_path) -> None:  # type: ignore[no-untyped-def]
    report.to_json(tmp_path / "r.json", include_esd=True)
    again = page_data(htsr.load_report(tmp_path / "r.json"))
    first = page_data(report)
    # rebuilt from the saved ESDs: the same charts, less the randomized ESD (not saved)
    for a, b in zip(again["layers"], first["layers"], strict=True):
        assert a["fig"]["pl"] == b["fig"]["pl"] and a["fig"]["mp"] == b["fig"]["mp"]
    report.to_csv(tmp_path / "r.csv")
    table_only = page_data(htsr.load_report(tmp_path / "r.csv"))
    assert len(table_only["rows"]) == len(first["rows"])
    assert all("fig" not in s and "has no ESD" in s["note"] for s in table_only["layers"])
