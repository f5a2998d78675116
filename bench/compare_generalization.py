"""Do htsr's model-level metrics rank models by test accuracy? A worked example of htsr.compare.

Trains a small MLP (:func:`htsr.experiments.mlp1d`, 64 -> 256 -> 128 -> 10 on scikit-learn's
8 x 8 digits) with the paper's SGD settings (:class:`htsr.experiments.TrainConfig`: lr 0.01,
momentum 0.9, lr x 0.95 per epoch) under several batch sizes and L2 strengths and seeds, then
compares the trained models with :func:`htsr.compare` against their test accuracies: Kendall
tau, Spearman rho, Pearson r, R^2 and RMSE of each metric (Martin, Peng & Mahoney, Nat. Commun.
2021, Table 1). Everything on CPU with one thread; a few minutes on 2 cores.

Writes ``bench/results/compare_generalization.md`` and ``.json`` (the model table and the
correlations, for all layers and without the first and last layer).

    nice python bench/compare_generalization.py [--epochs 15] [--seeds 0 1]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd
import torch
from threadpoolctl import threadpool_limits

import htsr
from htsr.experiments import TrainConfig, load_digits, mlp1d, train_model

OUT = Path(__file__).parent / "results"
#: (batch size, L2 on every layer's weight): a batch-size sweep without L2, then L2 at batch 32.
SETTINGS = (
    (8, 0.0),
    (32, 0.0),
    (128, 0.0),
    (512, 0.0),
    (32, 1e-4),
    (32, 1e-3),
    (32, 1e-2),
)
LAYERS = ("fc1", "fc2", "fc3")


def markdown(frame: pd.DataFrame, digits: int = 4) -> str:
    """A pipe table (no dependency on ``tabulate``)."""

    def cell(v: object) -> str:
        if isinstance(v, float):
            return f"{v:.{digits}g}"
        return str(v)

    head = [str(frame.index.name or ""), *map(str, frame.columns)]
    rows = [" | ".join(head), " | ".join("---" for _ in head)]
    for index, row in frame.iterrows():
        rows.append(" | ".join([str(index), *(cell(v) for v in row.tolist())]))
    return "\n".join(f"| {r} |" for r in rows)


def train_all(epochs: int, seeds: list[int]) -> tuple[dict[str, dict], dict[str, float], dict]:
    data = load_digits(rng=0)
    models, accuracies, settings = {}, {}, {}
    for seed in seeds:
        for batch, l2 in SETTINGS:
            name = f"b{batch}_l2{l2:g}_s{seed}"
            torch.manual_seed(seed)
            model = mlp1d(in_features=64, hidden=(256, 128))
            config = TrainConfig(
                epochs=epochs, batch_size=batch, l2=l2, l2_layers=LAYERS, seed=seed, device="cpu"
            )
            start = time.perf_counter()
            result = train_model(model, data, config)
            state = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
            models[name], accuracies[name] = state, result.test_acc
            settings[name] = {"batch_size": batch, "l2": l2, "seed": seed}
            print(f"{name}: test acc {result.test_acc:.4f} ({time.perf_counter() - start:.1f} s)")
    return models, accuracies, settings


class Snapshots:
    """A training monitor (the ``observe`` protocol of :func:`train_model`) keeping a copy of
    the weights and the test accuracy after every epoch."""

    def __init__(self) -> None:
        self.models: dict[str, dict] = {}
        self.accuracies: dict[str, float] = {}

    def observe(self, model: torch.nn.Module, *, epoch: int, test_acc: float, **_: object) -> None:
        if epoch >= 1:  # the initialisation is not a trained model
            name = f"epoch{epoch:02d}"
            self.models[name] = {
                k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()
            }
            self.accuracies[name] = float(test_acc)


def one_run(epochs: int, batch: int = 16, seed: int = 0) -> Snapshots:
    snapshots = Snapshots()
    torch.manual_seed(seed)
    model = mlp1d(in_features=64, hidden=(256, 128))
    config = TrainConfig(epochs=epochs, batch_size=batch, seed=seed, device="cpu")
    train_model(model, load_digits(rng=0), config, monitor=snapshots)  # type: ignore[arg-type]
    return snapshots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    with threadpool_limits(limits=1):
        models, accuracies, settings = train_all(args.epochs, args.seeds)
        trained = time.perf_counter() - start
        full = htsr.compare(models, accuracies=accuracies)
        inner = htsr.compare(
            {k: full.reports[k] for k in models},
            accuracies=accuracies,
            first_layer=False,
            last_layer=False,
        )
        run = one_run(args.epochs)
        epochs = htsr.compare(run.models, accuracies=run.accuracies)
    total = time.perf_counter() - start
    table = full.models.join(pd.DataFrame(settings).T)
    columns = [
        "batch_size",
        "l2",
        "seed",
        "accuracy",
        "alpha",
        "alpha_weighted",
        "log_norm",
        "log_spectral_norm",
        "log_alpha_norm",
        "stable_rank",
        "mp_softrank",
    ]
    corr_cols = [
        "n",
        "kendall_tau",
        "spearman_rho",
        "pearson_r",
        "r2",
        "rmse",
        "expected_sign",
        "agrees",
    ]
    lines = [
        "# htsr.compare on trained MLPs (digits)",
        "",
        f"Command: `nice python bench/compare_generalization.py --epochs {args.epochs} --seeds "
        f"{' '.join(map(str, args.seeds))}`; {len(models)} models trained in {trained:.0f} s, "
        f"{total:.0f} s in all (CPU, 1 thread, loaded 2-core machine).",
        "",
        "## Models",
        "",
        markdown(table[columns]),
        "",
        "## Correlation with test accuracy, all layers",
        "",
        markdown(full.correlations[corr_cols], 3),  # type: ignore[index]
        "",
        "## Correlation with test accuracy, first and last layer left out (FC2 only)",
        "",
        markdown(inner.correlations[corr_cols], 3),  # type: ignore[index]
        "",
        f"## Epochs 1-{args.epochs} of one run (batch 16, no L2, seed 0), all layers",
        "",
        markdown(epochs.models[["accuracy", *columns[4:]]]),
        "",
        markdown(epochs.correlations[corr_cols], 3),  # type: ignore[index]
        "",
    ]
    OUT.mkdir(exist_ok=True)
    (OUT / "compare_generalization.md").write_text("\n".join(lines))
    payload = {
        "command": vars(args),
        "seconds": total,
        "models": json.loads(table.to_json(orient="index")),
        "correlations": json.loads(full.correlations.to_json(orient="index")),  # type: ignore[union-attr]
        "correlations_inner": json.loads(inner.correlations.to_json(orient="index")),  # type: ignore[union-attr]
        "epochs": json.loads(epochs.models.to_json(orient="index")),
        "correlations_epochs": json.loads(epochs.correlations.to_json(orient="index")),  # type: ignore[union-attr]
    }
    (OUT / "compare_generalization.json").write_text(json.dumps(payload, indent=1))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
