from __future__ import annotations

import click
import pandas as pd
import pytest
import torch  # noqa: F401  (an extra CI installs)
from click.testing import CliRunner

from fixtures.cifar import write_cifar
from htsr.cli.experiment import experiment, parse_floats, parse_seeds

TINY = [
    "--data",
    "digits",
    "--model",
    "mlp1d",
    "--epochs",
    "1",
    "--seeds",
    "1",
    "--max-train",
    "64",
    "--max-test",
    "32",
    "--threads",
    "1",
    "--layers",
    "fc1",
]


def test_parse_helpers_iv():
    assert parse_floats("0, 1e-4", param="--l2") == (0.0, 1e-4)
    assert parse_seeds("2") == (0, 1) and parse_seeds("5,3") == (5, 3)
    with pytest.raises(click.BadParameter, match="expected a comma list of numbers; got 'a,b'"):
        parse_floats("a,b", param="--l2")
    with pytest.raises(click.BadParameter, match="expected a count >= 1 or a comma list"):
        parse_seeds("0")


def test_batch_size_command_writes_results_plots_and_summary(tmp_path):
    import sklearn  # noqa: F401  (an extra CI installs)

    out = tmp_path / "bs"
    result = CliRunner().invoke(
        experiment, ["batch-size", *TINY, "--batch-sizes", "4,64", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out / "results.csv")
    assert sorted(set(frame["batch_size"])) == [4, 64]
    # the headline only; the markdown summary goes to its file
    assert "# htsr experiment" not in result.output
    assert "2 run(s) trained, 0 already done" in result.output
    assert "fc1.weight: Spearman rho(batch size, mean alpha)" in result.output
    assert f"summary: {out / 'summary.md'}" in result.output
    assert "# htsr experiment: batch_size sweep" in (out / "summary.md").read_text()
    import matplotlib  # noqa: F401  (an extra CI installs)

    assert (out / "alpha_vs_batch_size.png").is_file()
    assert (out / "accuracy_vs_batch_size.png").is_file()
    assert (out / "esd_fc1.weight.png").is_file()
    assert len(result.output.strip().splitlines()) == 2  # no line per run
    again = CliRunner().invoke(
        experiment, ["batch-size", *TINY, "--batch-sizes", "4,64", "--out", str(out), "--no-plots"]
    )
    assert "0 run(s) trained, 2 already done" in again.output


def test_regularization_command(tmp_path):
    import sklearn  # noqa: F401  (an extra CI installs)

    out = tmp_path / "l2"
    result = CliRunner().invoke(
        experiment,
        [
            "regularization",
            *TINY,
            "--l2",
            "0,0.1",
            "--l2-layers",
            "fc1",
            "--batch-size",
            "16",
            "--out",
            str(out),
            "--no-plots",
        ],
    )
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out / "results.csv")
    assert sorted(set(frame["l2"])) == [0.0, 0.1]
    assert "## Rank collapse" in (out / "summary.md").read_text()
    assert "fc1.weight: " in result.output and "rank collapse" in result.output


def test_quick_and_paper_exclude_each_other(tmp_path):
    result = CliRunner().invoke(
        experiment, ["batch-size", "--quick", "--paper", "--out", str(tmp_path / "x")]
    )
    assert result.exit_code == 2 and "--quick and --paper exclude each other" in result.output


def test_missing_cifar_path_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(
        experiment,
        [
            "batch-size",
            "--model",
            "minialexnet",
            "--data",
            "cifar10",
            "--data-path",
            str(tmp_path / "nope"),
            "--out",
            str(tmp_path / "o"),
            "--epochs",
            "1",
        ],
    )
    assert result.exit_code == 2
    assert "expected the CIFAR-10 python version" in result.output


def test_wrong_format_cifar_is_a_clear_error(tmp_path):
    folder = write_cifar(tmp_path)
    (folder / "test_batch").write_bytes(b"garbage")
    result = CliRunner().invoke(
        experiment,
        [
            "batch-size",
            "--model",
            "minialexnet",
            "--data",
            "cifar10",
            "--data-path",
            str(folder),
            "--out",
            str(tmp_path / "o"),
            "--epochs",
            "1",
        ],
    )
    assert result.exit_code == 2
    assert "test_batch is not a CIFAR-10 batch" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["batch-size", "--batch-sizes", "2,x"], "expected a comma list of numbers"),
        (["batch-size", "--batch-sizes", "2.5"], "batch sizes must be ints >= 1"),
        (["regularization", "--l2", "-1"], "L2 strengths must be >= 0"),
        (["batch-size", "--model", "vgg"], "unknown model 'vgg'"),
        (["batch-size", "--data", "imagenet"], "unknown data set 'imagenet'"),
    ],
)
def test_bad_options(tmp_path, args, message):
    result = CliRunner().invoke(experiment, [*args, "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert message in result.output
