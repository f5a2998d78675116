"""Tests of the ``htsr rmt`` click group, invoked directly with click's CliRunner."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import htsr.rmt.calibration as calmod
from htsr.cli.rmt import parse_mu, rmt


def fake_alpha(N, M, mu, *, rng=None):
    """The papers' relations exactly: 1 + mu/2 (mu < 2), 0.8 mu + 0.4 above."""
    return 1 + mu / 2 if mu < 2 else 0.8 * mu + 0.4


def test_parse_mu():
    assert parse_mu("0.5:6:0.25")[:3] == [0.5, 0.75, 1.0]
    assert len(parse_mu("0.5:6:0.25")) == 23  # 0.5, 0.75, ..., 6.0
    assert parse_mu("0.5:6:0.25")[-1] == 6.0
    assert parse_mu("1,2.5") == [1.0, 2.5]


def test_calibrate_prints_and_saves(monkeypatch, tmp_path):
    monkeypatch.setattr(calmod, "pareto_alpha", fake_alpha)
    out = tmp_path / "cal.csv"
    res = CliRunner().invoke(
        rmt,
        [
            "calibrate",
            "--N",
            "200",
            "--M",
            "100",
            "--mu",
            "0.5:3.5:0.5",
            "--reps",
            "2",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "N=200, M=100, 2 reps per mu" in res.output
    assert "0 < mu < 2: alpha = 0.500 mu + 1.000" in res.output
    assert "2 < mu < 4: alpha = 0.800 mu + 0.400" in res.output
    assert calmod.AlphaMuRelation(2.0, -3.5, 2, 4, 3, 0.0).formula() == "alpha = 2.000 mu - 3.500"
    lines = out.read_text().splitlines()
    assert lines[0] == "N,M,Q,mu,reps,n_ok,alpha_mean,alpha_std,alpha_median"
    assert len(lines) == 1 + 7
    assert lines[2].startswith("200,100,2,1,2,2,1.5,0,1.5")  # mu = 1: 1 + 1/2
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["relations"]["very_heavy"]["slope"] == pytest.approx(0.5)
    assert meta["seed"] == 0


def test_calibrate_default_out(monkeypatch, tmp_path):
    monkeypatch.setattr(calmod, "pareto_alpha", fake_alpha)
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(
        rmt, ["calibrate", "--N", "50", "--M", "20", "--mu", "1", "--reps", "1"]
    )
    assert res.exit_code == 0, res.output
    assert "saved calibration_N50_M20.csv" in res.output
    assert (tmp_path / "calibration_N50_M20.csv").exists()


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--mu", "1:0:0.5"], "expected start:stop:step"),
        (["--mu", "a,b"], "expected start:stop:step"),
        (["--mu", "-1,2"], "mu values must be > 0"),
        (["--N", "10", "--M", "20"], "N must be >= M"),
        (["--reps", "0"], "0 is not in the range x>=1"),
    ],
)
def test_calibrate_iv(args, match):
    res = CliRunner().invoke(rmt, ["calibrate", *args])
    assert res.exit_code == 2
    assert match in res.output


def test_calibrate_real_fit(tmp_path):
    import htsr.fit.powerlaw  # noqa: F401  (an extra CI installs)

    out = tmp_path / "c.csv"
    res = CliRunner().invoke(
        rmt,
        ["calibrate", "--N", "400", "--M", "200", "--mu", "1,3", "--reps", "1", "--out", str(out)],
    )
    assert res.exit_code == 0, res.output
    alpha = np.loadtxt(out, delimiter=",", skiprows=1, usecols=6)
    assert alpha[0] < alpha[1]  # heavier element tails give heavier ESD tails (smaller alpha)
