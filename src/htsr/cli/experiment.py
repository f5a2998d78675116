"""``htsr experiment ...``: the paper's batch-size and L2 sweeps (thin over
:mod:`htsr.experiments`).

Exit codes: 0 success; 2 bad input (unknown model or data, a CIFAR path missing or in the
wrong format, an output directory holding a different sweep).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from htsr.cli._common import bad_input_exits


def parse_floats(spec: str, *, param: str) -> tuple[float, ...]:
    """``"0,1e-4,1e-3"`` -> ``(0.0, 0.0001, 0.001)``.

    Examples
    --------
    >>> parse_floats("2,8, 32", param="--batch-sizes")
    (2.0, 8.0, 32.0)
    """
    try:
        values = tuple(float(x) for x in spec.split(",") if x.strip())
    except ValueError:
        values = ()
    if not values:
        raise click.BadParameter(
            f"expected a comma list of numbers; got {spec!r}", param_hint=param
        )
    return values


def parse_seeds(spec: str) -> tuple[int, ...]:
    """``"3"`` -> ``(0, 1, 2)`` (a count); ``"0,5,7"`` -> those seeds.

    Examples
    --------
    >>> parse_seeds("3"), parse_seeds("4,2")
    ((0, 1, 2), (4, 2))
    """
    try:
        if "," in spec:
            return tuple(int(x) for x in spec.split(",") if x.strip())
        count = int(spec)
    except ValueError:
        count = 0
    if count < 1:
        raise click.BadParameter(
            f"expected a count >= 1 or a comma list of seeds; got {spec!r}", param_hint="--seeds"
        )
    return tuple(range(count))


def _common(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--model", help="mlp1d, mlp3, lenet5 or minialexnet [quick: mlp1d]."),
        click.option("--data", help="mnist1d, digits or cifar10 [quick: mnist1d]."),
        click.option(
            "--data-path",
            type=click.Path(path_type=Path),
            help="Local CIFAR-10: cifar-10-python.tar.gz or cifar-10-batches-py (no download).",
        ),
        click.option(
            "--epochs", type=click.IntRange(min=1), help="Epochs per run [20; quick: 12]."
        ),
        click.option("--seeds", help="Number of seeds (0..S-1) or a comma list [3]."),
        click.option(
            "--out",
            type=click.Path(file_okay=False, path_type=Path),
            required=True,
            help="Output directory (resumed if it holds the same sweep).",
        ),
        click.option(
            "--quick", is_flag=True, help="Quick preset: MNIST-1D, small MLP, 12 epochs, 3 seeds."
        ),
        click.option("--lr", type=float, help="SGD learning rate [paper: 0.01]."),
        click.option("--momentum", type=float, help="SGD momentum [paper: 0.9]."),
        click.option(
            "--lr-decay", type=float, help="Learning-rate factor per epoch [paper: 0.95]."
        ),
        click.option("--num-samples", type=click.IntRange(min=20), help="MNIST-1D samples [5000]."),
        click.option(
            "--max-train", type=click.IntRange(min=1), help="Keep the first N train samples."
        ),
        click.option(
            "--max-test", type=click.IntRange(min=1), help="Keep the first N test samples."
        ),
        click.option("--layers", help="Regex: monitor only these tensors."),
        click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda."),
        click.option("--threads", type=click.IntRange(min=1), help="torch threads [quick: 1]."),
        click.option("--overwrite", is_flag=True, help="Start again instead of resuming."),
        click.option("--no-plots", is_flag=True, help="Write the tables and summary only."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _run(kind: str, values: tuple[float, ...], opts: dict[str, Any], **fixed: Any) -> None:
    from htsr.experiments.sweeps import QUICK, SweepConfig, run_sweep, with_values

    base = QUICK[kind] if opts["quick"] else SweepConfig(kind=kind, values=values)
    seeds = parse_seeds(opts["seeds"]) if opts["seeds"] else None
    config = with_values(
        base,
        values=values,
        model=opts["model"],
        data=opts["data"],
        data_path=str(opts["data_path"]) if opts["data_path"] else None,
        epochs=opts["epochs"],
        seeds=seeds,
        lr=opts["lr"],
        momentum=opts["momentum"],
        lr_decay=opts["lr_decay"],
        num_samples=opts["num_samples"],
        max_train=opts["max_train"],
        max_test=opts["max_test"],
        layers=opts["layers"],
        device=opts["device"],
        threads=opts["threads"],
        **fixed,
    )
    with bad_input_exits():
        result = run_sweep(
            config,
            opts["out"],
            overwrite=opts["overwrite"],
            plots=not opts["no_plots"],
            echo=lambda s: click.echo(s, err=True),
        )
    click.echo(
        f"{len(result.ran)} run(s) trained, {len(result.skipped)} already done, "
        f"{result.seconds:.0f} s; wrote:"
    )
    for path in result.files.values():
        click.echo(f"  {path}")
    summary = result.files.get("summary")
    if summary is not None:
        click.echo("")
        click.echo(summary.read_text())


@click.group(name="experiment")
def experiment() -> None:
    """The paper's experiments: batch-size sweep (phases) and L2 sweep (rank collapse).

    Defaults are the paper's settings: SGD, learning rate 0.01, momentum 0.9, learning rate
    x0.95 per epoch, cross-entropy loss. Training uses the GPU when available.
    """


@experiment.command(name="batch-size")
@click.option("--batch-sizes", help="Comma list of batch sizes [2,8,32,128,512].")
@click.option("--l2", "l2", type=click.FloatRange(min=0), help="L2 strength on --l2-layers [0].")
@click.option("--l2-layers", default="fc1", show_default=True, help="Comma list of layers.")
@_common
def batch_size(batch_sizes: str | None, l2: float | None, l2_layers: str, **opts: Any) -> None:
    """Train one run per batch size and seed; write DIR/results.csv, plots and summary.md."""
    batch_sizes = batch_sizes or "2,8,32,128,512"
    values = parse_floats(batch_sizes, param="--batch-sizes")
    if any(v < 1 or v != int(v) for v in values):
        raise click.BadParameter(
            f"batch sizes must be ints >= 1; got {batch_sizes!r}", param_hint="--batch-sizes"
        )
    layers = tuple(x.strip() for x in l2_layers.split(",") if x.strip())
    _run("batch_size", values, opts, l2=l2, l2_layers=layers)


@experiment.command(name="regularization")
@click.option(
    "--l2",
    "l2_values",
    help="Comma list of L2 strengths, penalty l2 * ||W||_F^2 on --l2-layers "
    "[0,1e-4,1e-3,5e-3; quick: also 2e-2].",
)
@click.option("--l2-layers", default="fc1", show_default=True, help="Comma list of layers.")
@click.option("--batch-size", type=click.IntRange(min=1), help="Batch size [32; quick: 16].")
@_common
def regularization(
    l2_values: str | None, l2_layers: str, batch_size: int | None, **opts: Any
) -> None:
    """Train one run per L2 strength and seed; report where rank collapse appears."""
    from htsr.experiments.sweeps import QUICK

    if l2_values is None:
        values = QUICK["l2"].values if opts["quick"] else (0.0, 1e-4, 1e-3, 5e-3)
    else:
        values = parse_floats(l2_values, param="--l2")
    if any(v < 0 for v in values):
        raise click.BadParameter(f"L2 strengths must be >= 0; got {l2_values!r}", param_hint="--l2")

    layers = tuple(x.strip() for x in l2_layers.split(",") if x.strip())
    _run("l2", values, opts, l2_layers=layers, batch_size=batch_size)


__all__ = ["batch_size", "experiment", "parse_floats", "parse_seeds", "regularization"]
