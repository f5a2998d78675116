"""The HTML report: self-contained, one row per layer, one lazily decoded figure per layer."""

from __future__ import annotations

import base64
import io
import re

import jinja2  # noqa: F401  (an extra CI installs)
import numpy as np
import pytest

import htsr
from htsr.html import figure_data_uri, report_html, table_frame
from htsr.rmt import gaussian_matrix, pareto_matrix

#: Budget per layer figure (base64 PNG, 640 x 448, 64 colours): ~22 kB measured; a regression
#: to full-colour PNGs (~75 kB) or a higher dpi would exceed it.
MAX_LAYER_IMAGE = 40_000


@pytest.fixture(scope="module")
def report() -> htsr.Report:
    return htsr.analyze(
        {
            "enc.<b>0</b>.weight": gaussian_matrix(300, 100, rng=0),
            "enc.1.weight": pareto_matrix(400, 100, 2.0, rng=1),
            "enc.1.bias": np.zeros(100),
            "tiny.weight": gaussian_matrix(4, 3, rng=2),  # skipped: too few eigenvalues
        }
    )


@pytest.fixture(scope="module")
def page(report) -> str:  # type: ignore[no-untyped-def]
    return report_html(report)


def _tbody_rows(page: str) -> list[str]:
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr\b[^>]*>", body)


def test_self_contained(page: str) -> None:
    # every src and href is inline data or an in-page anchor; the CSP forbids anything else
    for attr, value in re.findall(r'\b(src|href|data-src)="([^"]*)"', page):
        assert value.startswith(("data:", "#")), (attr, value[:60])
    assert "default-src 'none'" in page
    assert '<link rel="stylesheet"' not in page and "<script src" not in page
    assert "http://" not in page and "https://" not in page


def test_one_row_per_layer_and_one_section_per_analysed_layer(page, report) -> None:  # type: ignore[no-untyped-def]
    rows = _tbody_rows(page)
    assert len(rows) == len(table_frame(report)) == 3  # the bias is not a layer
    assert page.count('<details class="layer"') == len(report.analysed) == 2
    assert "1 1-D tensors (biases, norms) are not listed" in page
    # the skipped layer is listed, without a link to a section
    assert 'class="skipped"' in page


def test_names_are_escaped(page: str) -> None:
    assert "enc.<b>0</b>.weight" not in page
    assert "enc.&lt;b&gt;0&lt;/b&gt;.weight" in page


def test_sort_keys_are_numbers(page, report) -> None:  # type: ignore[no-untyped-def]
    header = page.split("<thead>", 1)[1].split("</thead>", 1)[0]
    names = re.findall(r">([A-Za-z_]+)</th>", header)
    assert "alpha" in names and names[0] == "name"
    col = names.index("alpha")
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    keys = [re.findall(r'data-v="([^"]*)"', tr)[col] for tr in body.split("</tr>")[:-1]]
    frame = table_frame(report)
    for key, alpha in zip(keys, frame["alpha"], strict=True):
        if np.isfinite(alpha):
            assert float(key) == pytest.approx(alpha, rel=1e-15)
        else:
            assert key == ""


def test_layer_images_are_lazy_small_pngs(page) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image

    lazy = re.findall(r'<img class="lazy"[^>]*data-src="data:image/png;base64,([^"]+)"', page)
    assert len(lazy) == 2
    for b64 in lazy:
        assert len(b64) < MAX_LAYER_IMAGE
        image = Image.open(io.BytesIO(base64.b64decode(b64)))
        assert image.size == (640, 448)  # 10 x 7 inches at dpi 64
    assert 'id="model-figure" src="data:image/png;base64,' in page


def test_without_figures(report) -> None:  # type: ignore[no-untyped-def]
    page = report_html(report, figures=False)
    assert "<img" not in page
    assert len(_tbody_rows(page)) == 3


def test_figure_data_uri_palette() -> None:
    from matplotlib.figure import Figure
    from PIL import Image

    fig = Figure(figsize=(2, 1))
    fig.add_subplot().plot([0, 1], [0, 1])
    for colors, mode in ((16, "P"), (None, "RGBA")):
        uri = figure_data_uri(fig, dpi=50, colors=colors)
        image = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
        assert (image.size, image.mode) == ((100, 50), mode)


def test_to_html_writes_the_file(report, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = report.to_html(tmp_path / "r.html", figures=False)
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_notebook_repr_is_compact(report) -> None:  # type: ignore[no-untyped-def]
    snippet = report._repr_html_()
    assert "<table>" in snippet and "enc.1.weight" in snippet
    assert "<img" not in snippet and len(snippet) < 20_000
