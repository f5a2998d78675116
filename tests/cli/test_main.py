"""The ``htsr`` command line: analyze, describe, exit codes, golden table output."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
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
            "fc1.weight": rng.standard_normal((64, 32)).astype(np.float32),
            "fc1.bias": np.zeros(64, np.float32),
            "fc2.weight": rng.standard_normal((10, 64)).astype(np.float32),
        },
        path,
    )
    return path


def test_analyze_prints_table_and_writes_files(small_model: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        [
            "analyze",
            str(small_model),
            "--csv",
            str(tmp_path / "t.csv"),
            "--json",
            str(tmp_path / "t.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "fc1.weight" in result.output and "num_analysed" in result.output
    table = pd.read_csv(tmp_path / "t.csv")
    assert table.name.tolist() == ["fc1.bias", "fc1.weight", "fc2.weight"]
    payload = json.loads((tmp_path / "t.json").read_text())
    assert payload["summary"]["num_analysed"] == 2


def test_describe_golden(small_model: Path, golden, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(small_model.parent)  # a relative path keeps the title stable
    result = CliRunner().invoke(main, ["describe", small_model.name], terminal_width=140)
    assert result.exit_code == 0, result.output
    golden("describe_small.txt", result.output)


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("missing", "no such file or directory"),
        ("corrupt", "corrupt or truncated safetensors file"),
        ("unsupported", "unsupported file type '.txt'"),
    ],
)
def test_bad_input_exit_code_2(tmp_path: Path, small_model: Path, setup: str, message: str) -> None:
    path = {
        "missing": tmp_path / "nope.safetensors",
        "corrupt": small_model,
        "unsupported": tmp_path / "weights.txt",
    }[setup]
    if setup == "corrupt":
        path.write_bytes(path.read_bytes()[:200])
    if setup == "unsupported":
        path.write_text("hello")
    result = CliRunner().invoke(main, ["analyze", str(path)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("htsr: error: ")
    assert str(path) in lines[0] and message in lines[0]


def test_bad_option_exit_code_2(small_model: Path) -> None:
    result = CliRunner().invoke(main, ["analyze", str(small_model), "--layers", "("])
    assert result.exit_code == 2 and "`layers` must be a valid regular expression" in result.output


def test_python_dash_m(small_model: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "htsr", "describe", str(small_model)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "fc2.weight" in proc.stdout


def test_randomize_and_jobs(small_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "t.csv"
    args = ["analyze", str(small_model), "--randomize", "--seed", "3", "--csv", str(out), "--quiet"]
    assert CliRunner().invoke(main, [*args, "--jobs", "2"]).exit_code == 0
    parallel = pd.read_csv(out)
    assert CliRunner().invoke(main, args).exit_code == 0
    pd.testing.assert_frame_equal(parallel, pd.read_csv(out))
    assert parallel.rand_log_w1.notna().sum() == 2


def test_verdict_first_then_table_then_summary(small_model: Path) -> None:
    result = CliRunner().invoke(main, ["analyze", str(small_model)], terminal_width=80)
    assert result.exit_code == 0, result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert lines[0].startswith("htsr: ")
    assert "of 2 analysed layers have alpha" in lines[1]  # the verdict
    header = next(i for i, ln in enumerate(lines) if ln.startswith("name "))
    assert header > 1 and lines[-1].startswith("summary: num_analysed: 2")


def test_columns_option(small_model: Path) -> None:
    result = CliRunner().invoke(main, ["analyze", str(small_model), "--columns", "lambda_max,Q"])
    assert result.exit_code == 0, result.output
    header = next(ln for ln in result.output.splitlines() if ln.startswith("name "))
    assert header.split() == ["name", "lambda_max", "[W]", "Q"]
    bad = CliRunner().invoke(main, ["analyze", str(small_model), "--columns", "alpha,nope"])
    assert bad.exit_code == 2 and "unknown column(s) nope" in bad.output


def test_csv_and_json_to_stdout(small_model: Path) -> None:
    import io

    result = CliRunner().invoke(main, ["analyze", str(small_model), "--csv", "-", "--quiet"])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(io.StringIO(result.stdout))
    assert frame.name.tolist() == ["fc1.bias", "fc1.weight", "fc2.weight"]
    result = CliRunner().invoke(main, ["analyze", str(small_model), "--json", "-"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)  # the table went to stderr
    assert payload["summary"]["num_analysed"] == 2
    assert payload["provenance"]["options"]["min_evals"] == 10
    assert "name " in result.stderr


@pytest.mark.parametrize(
    ("option", "target", "message"),
    [
        ("--csv", "missing_dir/t.csv", "directory missing_dir does not exist"),
        ("--json", ".", "is a directory"),
        ("--html", "missing_dir/r.html", "does not exist"),
        ("--plots", "file.txt", "exists and is not a directory"),
    ],
)
def test_output_paths_checked_before_the_analysis(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, option: str, target: str, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "file.txt").write_text("x")
    # the model does not exist either: the output path is reported, so it was checked first
    result = CliRunner().invoke(main, ["analyze", "nope.safetensors", option, target])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"htsr: error: {option} {target}: ")
    assert message in lines[0]


def test_warning_is_one_readable_line(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    bad = rng.standard_normal((40, 20)).astype(np.float32)
    bad[0, 0] = np.nan
    path = tmp_path / "m.safetensors"
    save_file({"good.weight": rng.standard_normal((40, 20)).astype(np.float32), "bad": bad}, path)
    result = CliRunner().invoke(main, ["analyze", str(path), "--quiet"])
    assert result.exit_code == 0, result.output
    warning_lines = result.stderr.strip().splitlines()
    assert len(warning_lines) == 1, result.stderr
    assert warning_lines[0].startswith("htsr: warning: ") and "1 layer(s) failed" in result.stderr
    assert ".py:" not in result.stderr


def test_base_analyses_the_fine_tune_update(small_model: Path, tmp_path: Path) -> None:
    """``--base``: the rows are the updates W - W_base (their norms are the update's)."""
    from safetensors.numpy import load_file

    weights = load_file(small_model)
    update = np.random.default_rng(3).standard_normal((64, 32)).astype(np.float32) * 0.01
    tuned = dict(weights) | {"fc1.weight": weights["fc1.weight"] + update}
    tuned["extra.weight"] = np.ones((20, 20), np.float32)  # not in the base
    tuned_path = tmp_path / "tuned.safetensors"
    save_file(tuned, tuned_path)
    args = ["analyze", str(tuned_path), "--base", str(small_model), "--csv", "-", "--quiet"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(io.StringIO(result.stdout)).set_index("name")
    dW = tuned["fc1.weight"].astype(np.float64) - weights["fc1.weight"]
    # log10 ||dW||_F^2 of the update itself, not of the tuned weights
    assert table.loc["fc1.weight", "log_norm"] == pytest.approx(np.log10(np.sum(dW**2)), rel=1e-9)
    assert table.loc["extra.weight", "status"] == "skipped: not in base"
    # unchanged by the fine-tune: dW = 0, nothing to analyse and not a failure
    assert table.loc["fc2.weight", "status"] == "skipped: unchanged from base (W = W_base)"
    assert "failed" not in result.stderr


def test_plots_without_matplotlib_fails_before_the_analysis(
    small_model: Path, tmp_path: Path
) -> None:
    """A missing extra is named at once (exit 2, one line), not after the analysis."""
    code = (
        "import sys; sys.modules['matplotlib'] = None; "  # as if the plot extra were missing
        "from htsr.cli import main; main()"
    )
    args = ["analyze", str(small_model), "--plots", str(tmp_path / "figs")]
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=False
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        "htsr: error: --plots needs the optional dependency 'matplotlib'; "
        "install it with: pip install 'htsr[plot]'"
    ]
    assert "fc1.weight" not in done.stdout  # nothing was analysed or printed
