from __future__ import annotations

import math

import numpy as np
import pandas as pd

from htsr.experiments.config import SweepConfig
from htsr.experiments.summary import (
    PHASE_ORDER,
    collapse_onset,
    correlation_table,
    headline,
    phase_rank,
    setting_table,
    spearman_by_seed,
    spearman_of_means,
    summary_markdown,
    widest_layer,
)
from htsr.phases import Phase


def _results() -> pd.DataFrame:
    rows = []
    phases = {2: "heavy_tailed", 8: "bulk_decay", 32: "bulk_spikes", 128: "random_like"}
    for seed in (0, 1, 2):
        for i, bs in enumerate((2, 8, 32, 128)):
            # alpha rises with batch size; seed 2 swaps the two largest (rho 0.8)
            alpha = 2.0 + i if not (seed == 2 and i >= 2) else 2.0 + (5 - i)
            rows.append(
                {
                    "name": "fc1.weight",
                    "batch_size": bs,
                    "seed": seed,
                    "alpha": alpha,
                    "phase": phases[bs],
                    "test_acc": 0.9 - 0.1 * i,
                    "train_acc": 1.0,
                    "gap": 0.1 + 0.1 * i,
                    "stable_rank": 10.0,
                    "mp_softrank": 0.2 * i,
                    "spike_fraction": 0.0,
                    "rank_collapse_fraction": 0.0,
                }
            )
    return pd.DataFrame(rows)


def test_phase_rank():
    assert tuple(p.value for p in Phase) == PHASE_ORDER
    assert phase_rank("random_like") == 0 and phase_rank("rank_collapse") == 5
    assert math.isnan(phase_rank(None)) and math.isnan(phase_rank("nonsense"))


def test_spearman_by_seed():
    rho = spearman_by_seed(_results(), "batch_size", "alpha", "fc1.weight")
    # ranks (1,2,4,3) against (1,2,3,4): rho = 1 - 6*2/(4*15) = 0.8
    np.testing.assert_allclose(rho.to_numpy(), [1.0, 1.0, 0.8])
    constant = spearman_by_seed(_results(), "batch_size", "stable_rank", "fc1.weight")
    assert constant.isna().all()
    phase = spearman_by_seed(_results(), "batch_size", "phase_rank", "fc1.weight")
    np.testing.assert_allclose(phase.to_numpy(), [-1.0, -1.0, -1.0])


def test_correlation_table_and_setting_table():
    corr = correlation_table(_results(), "batch_size")
    alpha = corr[corr["metric"] == "alpha"].iloc[0]
    np.testing.assert_allclose(alpha["rho_mean"], (1 + 1 + 0.8) / 3)
    np.testing.assert_allclose(alpha["rho_std"], np.std([1, 1, 0.8]))
    table = setting_table(_results(), "batch_size", "fc1.weight")
    assert table["batch_size"].tolist() == [2, 8, 32, 128]
    assert table.loc[0, "phases"] == "heavy_tailed x3"
    np.testing.assert_allclose(table["test_acc_mean"], [0.9, 0.8, 0.7, 0.6])


def test_summary_markdown_verdicts():
    config = SweepConfig(kind="batch_size", values=(2, 8, 32, 128), seeds=(0, 1, 2), epochs=3)
    text = summary_markdown(_results(), config)
    assert "alpha: paper's sign in 3/3 seeds, strictly monotone in 2 (rho +0.93 ± 0.09)" in text
    assert "phase_rank: paper's sign in 3/3 seeds, strictly monotone in 3 (rho -1.00" in text
    assert "test_acc: paper's sign in 3/3 seeds, strictly monotone in 3" in text


def test_spearman_of_means():
    # seed means of alpha: 2, 3, (4+4+3)/3, (5+5+2)/3 -> 2, 3, 3.67, 4: rho +1
    assert spearman_of_means(_results(), "batch_size", "alpha", "fc1.weight") == 1.0
    frame = _results()
    frame.loc[frame["batch_size"] == 128, "alpha"] = 0.0  # the largest batch: smallest alpha
    # mean ranks (2, 3, 4, 1) against (1, 2, 3, 4): rho = 1 - 6 * 12 / (4 * 15) = -0.2
    np.testing.assert_allclose(spearman_of_means(frame, "batch_size", "alpha", "fc1.weight"), -0.2)
    assert math.isnan(spearman_of_means(_results(), "batch_size", "stable_rank", "fc1.weight"))
    corr = correlation_table(_results(), "batch_size")
    assert corr.loc[corr["metric"] == "alpha", "rho_of_means"].iloc[0] == 1.0


def test_widest_layer_and_headline():
    frame = pd.concat([_results().assign(M=300), _results().assign(name="fc1", M=40)])
    assert widest_layer(frame) == "fc1.weight"
    assert widest_layer(frame.iloc[:0]) is None
    config = SweepConfig(kind="batch_size", values=(2, 8, 32, 128), seeds=(0, 1, 2), epochs=3)
    line = headline(frame, config)
    assert line.startswith("fc1.weight: Spearman rho(batch size, mean alpha) +1.00; 4 phases")
    assert "4 phases seen (4 as a setting's majority)" in line
    assert "batch_size 2: heavy_tailed x3 ... 128: random_like x3" in line
    # a phase seen in one seed of three is seen, but no setting's majority
    frame.loc[(frame["batch_size"] == 8) & (frame["seed"] == 0), "phase"] = "bleeding_out"
    frame.loc[(frame["batch_size"] == 8) & (frame["seed"] > 0), "phase"] = "heavy_tailed"
    assert "4 phases seen (3 as a setting's majority)" in headline(frame, config)


def test_collapse_onset():
    frame = pd.DataFrame(
        {
            "name": ["fc1"] * 6,
            "l2": [0, 0, 1e-3, 1e-3, 5e-3, 5e-3],
            "seed": [0, 1] * 3,
            # the fraction below 1e-4 lambda_max is not a criterion: only the phase counts
            "rank_collapse_fraction": [0.0, 0.0, 0.3, 0.3, 0.5, 0.6],
            "phase": ["random_like"] * 3 + ["rank_collapse"] * 3,
        }
    )
    assert collapse_onset(frame, "l2", "fc1") == 5e-3  # 1e-3 collapses in one seed only
    frame["phase"] = "heavy_tailed"
    assert math.isnan(collapse_onset(frame, "l2", "fc1"))
    config = SweepConfig(kind="l2", values=(0, 1e-3, 5e-3), seeds=(0, 1), epochs=3)
    assert headline(frame, config).startswith("fc1: no rank collapse at any strength tried")
