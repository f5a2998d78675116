from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner

from htsr.cli.history import history
from htsr.monitor.history import History


@pytest.fixture
def history_file(tmp_path):
    path = tmp_path / "run.sqlite"
    store = History(path)
    for epoch, (alpha, phase) in enumerate(
        [(6.0, "random_like"), (4.5, "bulk_decay"), (3.0, "heavy_tailed")]
    ):
        rows = pd.DataFrame(
            {
                "name": ["fc1.weight", "fc2.weight"],
                "alpha": [alpha, alpha + 1],
                "phase": [phase, "random_like"],
                "stable_rank": [5.0, 6.0],
            }
        )
        store.append_epoch(rows, run="r", epoch=epoch)
    return path


def test_history_prints_table_and_plots(history_file, tmp_path):
    import matplotlib  # noqa: F401  (an extra CI installs)

    result = CliRunner().invoke(history, [str(history_file), "--csv", str(tmp_path / "h.csv")])
    assert result.exit_code == 0, result.output
    assert "random_like@0 -> bulk_decay@1 -> heavy_tailed@2" in result.output
    assert (tmp_path / "run_trajectories.png").is_file()
    assert len(pd.read_csv(tmp_path / "h.csv")) == 6


def test_history_options(history_file, tmp_path):
    result = CliRunner().invoke(
        history, [str(history_file), "--layers", "fc2", "--metric", "stable_rank", "--no-plot"]
    )
    assert result.exit_code == 0, result.output
    assert "fc1.weight" not in result.output and "stable_rank_last" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--metric", "nope"], "no column 'nope' in the history"),
        (["--layers", "conv"], "no layer matches --layers 'conv'"),
        (["--run", "other"], "no rows for run 'other'"),
    ],
)
def test_history_iv(history_file, args, message):
    result = CliRunner().invoke(history, [str(history_file), *args, "--no-plot"])
    assert result.exit_code == 2
    assert message in result.output


def test_history_missing_file(tmp_path):
    result = CliRunner().invoke(history, [str(tmp_path / "none.sqlite")])
    assert result.exit_code == 2
    assert "no such history file or directory" in result.output


def test_history_svg_and_dpi(history_file, tmp_path):
    result = CliRunner().invoke(history, [str(history_file), "--format", "svg", "--dpi", "50"])
    assert result.exit_code == 0, result.output
    svg = tmp_path / "run_trajectories.svg"
    assert svg.read_text().lstrip().startswith("<?xml")


def test_history_does_not_touch_pyplot(history_file):
    import matplotlib

    backend = matplotlib.get_backend()
    result = CliRunner().invoke(history, [str(history_file)])
    assert result.exit_code == 0, result.output
    assert matplotlib.get_backend() == backend
