"""``htsr compare``: ranked table, correlations, CSV and HTML, exit code 2 on bad input."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from safetensors.numpy import load_file, save_file

from htsr.cli import main


@pytest.fixture
def three_models(tmp_path: Path) -> list[Path]:
    rng = np.random.default_rng(11)
    paths = []
    for i, scale in enumerate((0.5, 1.0, 2.0)):
        path = tmp_path / f"m{i}.safetensors"
        tensors = {
            "fc1.weight": scale * rng.standard_normal((96, 48)),
            "fc2.weight": scale * rng.standard_normal((64, 32)),
        }
        save_file({k: v.astype(np.float32) for k, v in tensors.items()}, path)
        paths.append(path)
    (tmp_path / "acc.csv").write_text("model,accuracy\nb,0.8\na,0.9\nc,0.6\n")
    return paths


def test_compare_ranks_correlates_and_writes(three_models: list[Path], tmp_path: Path) -> None:
    args = ["compare", *map(str, three_models), "--names", "a,b,c", "--metric", "log_norm"]
    out_csv, out_html = tmp_path / "cmp.csv", tmp_path / "cmp.html"
    result = CliRunner().invoke(
        main,
        [
            *args,
            "--accuracy",
            str(tmp_path / "acc.csv"),
            "--csv",
            str(out_csv),
            "--html",
            str(out_html),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "models ranked by log_norm" in result.output
    assert "correlation with accuracy" in result.output
    table = pd.read_csv(out_csv, index_col="model")
    assert list(table.index) == ["a", "b", "c"]  # smaller log norm first
    assert list(table["rank"]) == [1, 2, 3]
    assert table.loc["b", "accuracy"] == 0.8
    page = out_html.read_text()
    for gid in ("scatter-log_norm", "layer-alpha", "phase-counts"):
        assert f"id='{gid}'" in page
    assert page.count("<svg") == 2 + 8  # 8 metric scatters, layer alpha, phase counts
    assert not re.search(r"(src|href)=['\"]https?:", page)  # self-contained
    # the log_norm scatter is drawn first and carries its fitted line
    first = page[page.index("id='scatter-") :]
    assert first.startswith("id='scatter-log_norm'")
    assert 'id="fit"' in first[: first.index("</figure>")]


def test_compare_updates_against_a_base(three_models: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "updates.csv"
    args = ["compare", *map(str, three_models[1:]), "--base", str(three_models[0])]
    result = CliRunner().invoke(main, [*args, "--metric", "log_norm", "--csv", str(out)])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out, index_col="model")
    tensors = [load_file(p) for p in three_models]
    for i, name in ((1, "m1"), (2, "m2")):
        # the mean over fc1, fc2 of log10 ||W - W_base||_F^2, from the files themselves
        expected = np.mean(
            [
                np.log10(np.sum((tensors[i][k].astype(np.float64) - tensors[0][k]) ** 2))
                for k in ("fc1.weight", "fc2.weight")
            ]
        )
        assert table.loc[name, "log_norm"] == pytest.approx(expected, rel=1e-10)


def test_compare_csv_to_stdout(three_models: list[Path]) -> None:
    result = CliRunner().invoke(main, ["compare", *map(str, three_models), "--csv", "-"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(io.StringIO(result.stdout), index_col="model")  # the tables go to stderr
    assert list(table["rank"]) == [1, 2, 3]
    assert "models ranked by alpha" in result.stderr


def test_compare_without_accuracy(three_models: list[Path]) -> None:
    result = CliRunner().invoke(main, ["compare", *map(str, three_models), "--quiet"])
    assert result.exit_code == 0, result.output
    assert result.output == ""


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--names", "a,b"], "`names` must name each of the 3 models"),
        (["--metric", "nope"], "`metric` must be a column"),
        (["--accuracy", "missing.csv"], "missing.csv: no such accuracy file"),
    ],
)
def test_compare_bad_input_exit_2(
    three_models: list[Path], extra: list[str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(three_models[0].parent)
    result = CliRunner().invoke(main, ["compare", *map(str, three_models), *extra])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]


def test_compare_accuracy_names_unknown_and_missing(
    three_models: list[Path], tmp_path: Path
) -> None:
    acc = tmp_path / "bad.csv"
    acc.write_text("model,accuracy\nm0,0.9\nzz,0.5\n")
    result = CliRunner().invoke(main, ["compare", *map(str, three_models), "--accuracy", str(acc)])
    assert result.exit_code == 2
    assert "names models that are not compared: zz" in result.output
    assert "has no accuracy for: m1, m2" in result.output


def test_compare_no_common_layer(three_models: list[Path], tmp_path: Path) -> None:
    other = tmp_path / "other.safetensors"
    save_file({"conv.weight": np.ones((8, 4, 3, 3), np.float32)}, other)
    result = CliRunner().invoke(main, ["compare", str(three_models[0]), str(other)])
    assert result.exit_code == 2
    assert "models 'm0' and 'other' have no layer in common" in result.output
