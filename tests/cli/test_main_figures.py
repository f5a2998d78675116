"""``htsr analyze MODEL --html FILE --plots DIR`` (the figure options of the analyze command)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib  # noqa: F401  (an extra CI installs)
import numpy as np
import pytest
from click.testing import CliRunner
from safetensors.numpy import save_file

from htsr.cli import main


@pytest.fixture
def small_model(tmp_path: Path) -> Path:
    rng = np.random.default_rng(7)
    path = tmp_path / "small.safetensors"
    save_file(
        {
            "enc.0/q.weight": rng.standard_normal((64, 32)).astype(np.float32),
            "enc.0/q.bias": np.zeros(64, np.float32),
            "head.weight": rng.standard_normal((10, 64)).astype(np.float32),
        },
        path,
    )
    return path


def test_html_and_plots(small_model: Path, tmp_path: Path) -> None:
    html, plots = tmp_path / "report.html", tmp_path / "figs"
    result = CliRunner().invoke(
        main, ["analyze", str(small_model), "--quiet", "--html", str(html), "--plots", str(plots)]
    )
    assert result.exit_code == 0, result.output
    page = html.read_text(encoding="utf-8")
    data = json.loads(page.split('id="htsr-data">', 1)[1].split("</script>", 1)[0])
    assert [s["name"] for s in data["layers"]] == ["enc.0/q.weight", "head.weight"]
    assert (plots / "model.png").is_file()
    assert sorted(p.name for p in (plots / "layers").iterdir()) == [
        "enc.0_q.weight.png",
        "head.weight.png",
    ]


def test_plots_format_and_dpi(small_model: Path, tmp_path: Path) -> None:
    plots = tmp_path / "figs"
    args = ["analyze", str(small_model), "--quiet", "--plots", str(plots), "--format", "svg"]
    result = CliRunner().invoke(main, [*args, "--dpi", "50"])
    assert result.exit_code == 0, result.output
    assert (plots / "model.svg").read_text().lstrip().startswith("<?xml")
    assert sorted(p.suffix for p in (plots / "layers").iterdir()) == [".svg", ".svg"]
    result = CliRunner().invoke(main, [*args[:-1], "jpg"])
    assert result.exit_code == 2 and "'jpg' is not one of 'png', 'svg', 'pdf'" in result.output


def test_missing_extra_is_one_line(small_model: Path, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    result = CliRunner().invoke(
        main, ["analyze", str(small_model), "--quiet", "--plots", str(tmp_path / "figs")]
    )
    assert result.exit_code == 2
    assert "pip install 'htsr[plot]'" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_html_needs_no_extra(small_model: Path, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    result = CliRunner().invoke(
        main, ["analyze", str(small_model), "--quiet", "--html", str(tmp_path / "r.html")]
    )
    assert result.exit_code == 0, result.output
