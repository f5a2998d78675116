"""Re-analyse the final checkpoint of every run of a sweep with this htsr; compare with the sweep.

For a sweep directory written by ``htsr experiment batch-size|regularization --out DIR``: loads
each run's last checkpoint (``DIR/checkpoints/<run>/epoch-*.pt``), analyses one layer of it with
the installed ``htsr.analyze``, and compares phase and alpha with what the sweep recorded in
``DIR/results.csv`` (so a change of the phase rules or the engine can be checked against trained
networks without training again). Prints the changed phases, the largest change of alpha, the
Spearman rho of the setting against the seeds' mean alpha and the phases per setting; writes
``DIR/reanalysed_<layer>.csv``.

    python bench/reanalyse_sweep.py runs/bs batch_size
    python bench/reanalyse_sweep.py runs/l2 l2
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr

import htsr
from htsr.experiments.config import run_file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("sweep", type=Path, help="the sweep's --out directory")
    parser.add_argument("setting", help="the swept column of results.csv (batch_size, l2)")
    parser.add_argument("--layer", default="fc2.weight")
    args = parser.parse_args()
    recorded = pd.read_csv(args.sweep / "results.csv")
    recorded = recorded[recorded["name"] == args.layer]
    rows = []
    for _, run in recorded.iterrows():
        last = sorted((args.sweep / "checkpoints" / run_file(run["run"])).glob("epoch-*.pt"))[-1]
        state = torch.load(last, map_location="cpu", weights_only=True)["model"]
        layer = htsr.analyze({args.layer: state[args.layer].numpy()}).layers.iloc[0]
        rows.append(
            {
                args.setting: run[args.setting],
                "seed": run["seed"],
                "recorded_phase": run["phase"],
                "phase": layer["phase"],
                "recorded_alpha": run["alpha"],
                "alpha": layer["alpha"],
                "reason": layer["phase_reason"],
            }
        )
    frame = pd.DataFrame(rows)
    frame.to_csv(args.sweep / f"reanalysed_{args.layer}.csv", index=False)
    changed = frame[frame["recorded_phase"] != frame["phase"]]
    print(f"changed phases: {len(changed)} of {len(frame)}")
    if len(changed):
        print(changed[[args.setting, "seed", "recorded_phase", "phase", "reason"]].to_string())
    print(
        "largest |alpha change|:",
        float(np.nanmax(np.abs(frame["alpha"] - frame["recorded_alpha"]))),
    )
    means = frame.groupby(args.setting)["alpha"].mean()
    print(
        "Spearman rho of the seeds' means:", float(spearmanr(means.index, means.values).statistic)
    )
    phases = frame.groupby(args.setting)["phase"].agg(
        lambda s: ", ".join(f"{k} x{v}" for k, v in s.value_counts().items())
    )
    print(phases.to_string())


if __name__ == "__main__":
    main()
