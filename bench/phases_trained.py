"""Phases of trained layers: a batch-size sweep and an L2 sweep on scikit-learn's digits (CPU).

A small stand-in for the paper's MiniAlexNet / CIFAR-10 experiments (JMLR 2021, Sections 7-8),
small enough for a laptop core: an MLP 64 -> 1024 -> 512 -> 10 (:func:`htsr.experiments.mlp1d`)
trained with the paper's SGD settings (:class:`htsr.experiments.TrainConfig`: lr 0.01, momentum
0.9, lr x 0.95 per epoch). FC2 (a 1024 x 512 weight, Q = 2, 512 eigenvalues) is the layer
classified. The batch-size sweep has no L2; the L2 sweep puts ``l2 ||W||_F^2`` on FC2 at batch
size 32. Writes ``bench/results/phases_trained.md`` and ``.json``.

    nice python bench/phases_trained.py [--epochs 20] [--seeds 0 1]
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections import Counter
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from htsr.experiments import TrainConfig, load_digits, mlp1d, train_model
from htsr.fit.mp import fit_mp
from htsr.fit.powerlaw import PIPELINE_FIT
from htsr.metrics import element_tail_index
from htsr.phases import classify_layer
from htsr.spectrum import esd

OUT = Path(__file__).parent / "results"
BATCH_SIZES = (4, 8, 16, 32, 64, 128, 256, 512)
L2S = (1e-3, 5e-3, 2e-2, 1e-1)


def classify(model: object, layer: str) -> dict[str, object]:
    w = getattr(model, layer).weight.detach().cpu().numpy()
    s = esd(w)
    mp = fit_mp(s.evals, s.N, s.M)
    pl = PIPELINE_FIT.fit(s.evals)
    r = classify_layer(s, mp=mp, power_law=pl, element_mu=element_tail_index(w))
    return {
        "phase": str(r.phase),
        "universality": str(r.universality),
        "alpha": pl.alpha,
        "mu": r.mu,
        "element_mu": r.element_mu,
        "spike_fraction": r.spike_fraction,
        "softrank": mp.softrank,
        "tail_alpha": r.tail_alpha,
        "collapse_gap": r.collapse_gap,
        "collapse_fraction": r.collapse_fraction,
        "reason": r.reason,
    }


def one_run(
    data: object, *, batch_size: int, l2: float, seed: int, epochs: int
) -> dict[str, object]:
    import torch

    torch.manual_seed(seed)
    model = mlp1d(in_features=64, hidden=(1024, 512))
    cfg = TrainConfig(
        epochs=epochs, batch_size=batch_size, l2=l2, l2_layers=("fc2",), seed=seed, device="cpu"
    )
    res = train_model(model, data, cfg)  # type: ignore[arg-type]
    row: dict[str, object] = {
        "batch_size": batch_size,
        "l2": l2,
        "seed": seed,
        "train_acc": res.train_acc,
        "test_acc": res.test_acc,
    }
    row |= classify(model, "fc2")
    return row


def _fmt(x: object) -> str:
    if isinstance(x, float):
        return "nan" if not math.isfinite(x) else f"{x:.3g}"
    return str(x)


def table(rows: list[dict[str, object]], key: str) -> list[str]:
    lines = [
        f"| {key} | phases (seeds) | spike fraction | soft rank | alpha | tail alpha | test acc |",
        "|---|---|---|---|---|---|---|",
    ]
    for v in sorted({r[key] for r in rows}):  # type: ignore[type-var]
        sub = [r for r in rows if r[key] == v]
        ph = Counter(str(r["phase"]) for r in sub)

        def med(c: str, sub: list[dict[str, object]] = sub) -> float:
            v = np.array([float(r[c]) for r in sub])  # type: ignore[arg-type]
            return float(np.median(v[np.isfinite(v)])) if np.isfinite(v).any() else math.nan

        lines.append(
            f"| {v:g} | {', '.join(f'{p} x{n}' for p, n in ph.most_common())} | "
            f"{med('spike_fraction'):.3f} | {med('softrank'):.2f} | {med('alpha'):.2f} | "
            f"{_fmt(med('tail_alpha'))} | {med('test_acc'):.3f} |"
        )
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    data = load_digits(rng=0)
    t0 = time.perf_counter()
    bs_rows, l2_rows = [], []
    with threadpool_limits(1):
        import torch

        torch.set_num_threads(1)
        for seed in args.seeds:
            for bs in BATCH_SIZES:
                bs_rows.append(one_run(data, batch_size=bs, l2=0.0, seed=seed, epochs=args.epochs))
                print(json.dumps(bs_rows[-1]), flush=True)
            for l2 in L2S:
                l2_rows.append(one_run(data, batch_size=32, l2=l2, seed=seed, epochs=args.epochs))
                print(json.dumps(l2_rows[-1]), flush=True)
    seconds = time.perf_counter() - t0
    lines = [
        "# Phases of a trained MLP on scikit-learn digits (FC2, 1024 x 512)",
        "",
        f"`nice python bench/phases_trained.py --epochs {args.epochs} --seeds "
        f"{' '.join(map(str, args.seeds))}`: {seconds:.0f} s on one core. Medians over seeds.",
        "",
        "## Batch size (no L2)",
        "",
        *table(bs_rows, "batch_size"),
        "",
        "## L2 on FC2 (batch size 32)",
        "",
        *table(l2_rows, "l2"),
        "",
    ]
    text = "\n".join(lines)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "phases_trained.md").write_text(text)
    (args.out / "phases_trained.json").write_text(
        json.dumps({"seconds": seconds, "batch_size": bs_rows, "l2": l2_rows}, indent=1)
    )


if __name__ == "__main__":
    main()
