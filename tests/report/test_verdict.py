"""The warning column and the verdict, on generated matrices of known kind."""

from __future__ import annotations

import math

import pandas as pd
import pytest

import htsr
from htsr.report.verdict import (
    OVER_TRAINED_ALPHA,
    UNDER_TRAINED_ALPHA,
    layer_warning,
    summary_highlights,
    verdict,
)
from htsr.rmt.ensembles import gaussian_matrix, low_rank_matrix, pareto_matrix


@pytest.mark.parametrize(
    ("alpha", "phase", "expected"),
    [
        (1.99, "heavy_tailed", "over-trained"),
        (OVER_TRAINED_ALPHA, "heavy_tailed", ""),
        (UNDER_TRAINED_ALPHA, "heavy_tailed", ""),
        (6.01, "bulk_decay", "under-trained"),
        (3.0, "rank_collapse", "rank-collapsed"),
        (8.0, "random_like", "under-trained, random-like"),
        (math.nan, "random_like", "random-like"),
        (math.nan, None, ""),
    ],
)
def test_layer_warning_thresholds(alpha: float, phase: str | None, expected: str) -> None:
    assert layer_warning(alpha, phase) == expected


@pytest.fixture(scope="module")
def known() -> htsr.Report:
    """One matrix of each kind; what each should be called is known from theory."""
    return htsr.analyze(
        {
            "gauss": gaussian_matrix(400, 200, rng=0),  # i.i.d.: MP law, no tail
            "pareto": pareto_matrix(400, 200, mu=1.0, rng=1),  # alpha = 1 + mu/2 = 1.5
            "lowrank": low_rank_matrix(400, 200, rank=20, rng=3),  # 90% of the ESD at zero
        }
    )


def test_warnings_of_known_matrices(known: htsr.Report) -> None:
    warning = dict(zip(known.layers["name"], known.layers["warning"], strict=True))
    assert "random-like" in warning["gauss"]
    assert warning["pareto"] == "over-trained"
    assert "rank-collapsed" in warning["lowrank"]


def test_verdict_names_the_layers_to_look_at(known: htsr.Report) -> None:
    text = known.summary["verdict"]
    assert text == known.verdict and text.startswith("Needs a look: ")
    assert "1 over-trained (pareto)" in text and "1 rank-collapsed (lowrank)" in text
    assert "random-like (gauss)" in text
    assert known.summary["num_over_trained"] == 1
    assert known.summary["num_warnings"] == 3
    assert set(summary_highlights(known.summary)) >= {"verdict", "num_analysed", "alpha"}


def test_verdict_when_all_is_well_and_when_nothing_was_analysed() -> None:
    rows = pd.DataFrame(
        {"name": ["a", "b"], "status": ["ok", "ok"], "alpha": [3.0, 4.0], "warning": ["", ""]}
    )
    assert (
        verdict(rows)
        == "Well trained: 2 of 2 analysed layers have alpha 2-6. No layer has a warning."
    )
    assert verdict(rows.assign(status="skipped: x")).startswith("No layer was analysed")


def test_verdict_names_at_most_three_per_warning() -> None:
    names = [f"l{i}" for i in range(5)]
    rows = pd.DataFrame({"name": names, "status": "ok", "alpha": 7.0, "warning": "under-trained"})
    assert "5 under-trained (l0, l1, l2 and 2 more)" in verdict(rows)
