"""Pilot runs of batch-size sweep designs: one line per (batch size, seed) with FC2's phase.

Trains ``mlp_wide`` (FC2 400 x 300) on MNIST-1D with the paper's SGD (momentum 0.9, lr x0.95
per epoch) and prints the final train/test accuracy and the analysis of FC2 (alpha, phase,
spike fraction, MP soft rank, the phase rule's reason). Used to choose the quick preset of
``htsr experiment batch-size`` (docs/experiments.md, "How the design was chosen"):

    # the paper's constant learning rate, 10 epochs (the quick preset's budget)
    python bench/experiment_designs.py --bs 2,8,64,512,1024 --lr 0.05
    # a fixed number of optimizer steps for every batch size (1 nominal epoch: ~constant lr)
    python bench/experiment_designs.py --bs 2,8,64,512 --epochs 1 --min-steps 1000
    # linear learning-rate scaling, lr = 0.01 * B / 32
    python bench/experiment_designs.py --bs 2,8,64,512,1024 --scale linear:32
    # twice the training: 2x the learning rate, or 2x the samples (the quick preset's data)
    python bench/experiment_designs.py --bs 1024,724,512,362,3,2 --lr 0.02 --seeds 0,1
    python bench/experiment_designs.py --bs 1024,861,724,609,512,362,2,3,4 --n 5000 --seeds 0,1

One torch thread; CPU seconds per run are printed. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import time


def main() -> None:
    import torch

    import htsr
    from htsr.experiments.data import load_data
    from htsr.experiments.models import make_model
    from htsr.experiments.train import TrainConfig, train_model

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bs", default="2,8,64,512,1024", help="comma list of batch sizes")
    p.add_argument("--lr", type=float, default=0.01, help="learning rate (at --scale's B0)")
    p.add_argument("--scale", default="const", help="const, linear:B0 or sqrt:B0")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--min-steps", type=int, default=0)
    p.add_argument("--n", type=int, default=2500, help="MNIST-1D samples (80%% train)")
    p.add_argument("--seeds", default="0")
    a = p.parse_args()
    torch.set_num_threads(1)
    data = load_data("mnist1d", num_samples=a.n)
    for b in map(int, a.bs.split(",")):
        lr = a.lr
        if a.scale.startswith("linear:"):
            lr = a.lr * b / float(a.scale.split(":")[1])
        elif a.scale.startswith("sqrt:"):
            lr = a.lr * (b / float(a.scale.split(":")[1])) ** 0.5
        for seed in map(int, a.seeds.split(",")):
            t = time.process_time()
            model = make_model(
                "mlp_wide", input_shape=data.input_shape, num_classes=data.num_classes, seed=seed
            )
            config = TrainConfig(
                epochs=a.epochs,
                batch_size=b,
                lr=lr,
                seed=seed,
                device="cpu",
                min_steps=a.min_steps,
                record_every=10**6,
            )
            r = train_model(model, data, config)
            row = htsr.analyze({"fc2": model.fc2.weight.detach().numpy()}).layers.iloc[0]
            print(
                f"bs {b:5d} lr {lr:.4g} seed {seed} train {r.train_acc:.3f} "
                f"test {r.test_acc:.3f} alpha {row['alpha']:.2f} phase {row['phase']:12s} "
                f"spikes {row['spike_fraction']:.3f} softrank {row['mp_softrank']:.3f} "
                f"cpu {time.process_time() - t:.1f}s | {row['phase_reason']}",
                flush=True,
            )


if __name__ == "__main__":
    main()
