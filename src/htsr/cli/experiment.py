"""``htsr experiment ...``: the paper's batch-size and L2 sweeps (thin over
:mod:`htsr.experiments`).

Exit codes: 0 success; 2 bad input (unknown model or data, a CIFAR path missing or in the
wrong format, an output directory holding a different sweep).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from htsr.cli._common import bad_input_exits

if TYPE_CHECKING:
    from htsr.experiments.config import SweepConfig


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
        click.option(
            "--model", help="mlp_wide, mlp1d, mlp3, lenet5 or minialexnet [quick: mlp_wide]."
        ),
        click.option("--data", help="mnist1d, digits or cifar10 [quick: mnist1d]."),
        click.option(
            "--data-path",
            type=click.Path(path_type=Path),
            help="Local CIFAR-10: cifar-10-python.tar.gz or cifar-10-batches-py (no download).",
        ),
        click.option(
            "--epochs", type=click.IntRange(min=1), help="Epochs per run [20; the preset's]."
        ),
        click.option("--seeds", help="Number of seeds (0..S-1) or a comma list [3]."),
        click.option(
            "--out",
            type=click.Path(file_okay=False, path_type=Path),
            required=True,
            help="Output directory (resumed if it holds the same sweep).",
        ),
        click.option(
            "--quick",
            is_flag=True,
            help="Quick preset (under 10 min on 2 CPU cores): see docs/experiments.md.",
        ),
        click.option(
            "--paper",
            is_flag=True,
            help="The paper's settings: 100 epochs, 10 seeds, batch sizes 2..1024.",
        ),
        click.option(
            "--min-steps",
            type=click.IntRange(min=0),
            help="Fewest optimizer steps per run (large batches train more epochs) [0].",
        ),
        click.option("--lr", type=float, help="SGD learning rate [paper: 0.01]."),
        click.option("--momentum", type=float, help="SGD momentum [paper: 0.9]."),
        click.option(
            "--lr-decay", type=float, help="Learning-rate factor per epoch [paper: 0.95]."
        ),
        click.option("--num-samples", type=click.IntRange(min=20), help="MNIST-1D samples [5000]."),
        click.option(
            "--record-every", type=click.IntRange(min=1), help="Analyse every K epochs [1]."
        ),
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


def _preset(kind: str, opts: dict[str, Any]) -> SweepConfig | None:
    from htsr.experiments.config import PAPER, QUICK

    if opts["quick"] and opts["paper"]:
        raise click.UsageError("--quick and --paper exclude each other")
    if opts["quick"]:
        return QUICK[kind]
    if opts["paper"]:
        return PAPER[kind]
    return None


def _progress_bar() -> tuple[Callable[[float, float, str], None], Callable[[], None]]:
    """A rich progress bar over the runs (ETA from the work done) on stderr when it is a
    terminal; nothing otherwise. Returns (update, stop)."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True)
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        disable=not console.is_terminal,
        transient=False,
        # runs and epochs can be minutes apart: estimate the speed over the whole sweep
        speed_estimate_period=24 * 3600,
    )
    task = bar.add_task("runs", total=None)
    bar.start()

    def update(done: float, total: float, label: str) -> None:
        bar.update(task, completed=done, total=total, description=f"{label:<26}")

    return update, bar.stop


def _run(kind: str, values: tuple[float, ...] | None, opts: dict[str, Any], **fixed: Any) -> None:
    from htsr.experiments.config import BATCH_SIZES, L2_VALUES, SweepConfig, with_values
    from htsr.experiments.summary import headline
    from htsr.experiments.sweeps import run_sweep

    preset = _preset(kind, opts)
    defaults = BATCH_SIZES if kind == "batch_size" else L2_VALUES
    base = preset or SweepConfig(kind=kind, values=tuple(map(float, values or defaults)))
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
        min_steps=opts["min_steps"],
        record_every=opts["record_every"],
        device=opts["device"],
        threads=opts["threads"],
        **fixed,
    )
    update, stop = _progress_bar()
    try:
        with bad_input_exits():
            result = run_sweep(
                config,
                opts["out"],
                overwrite=opts["overwrite"],
                plots=not opts["no_plots"],
                progress=update,
            )
    finally:
        stop()
    click.echo(
        f"{len(result.ran)} run(s) trained, {len(result.skipped)} already done, "
        f"{result.seconds:.0f} s. {headline(result.results, config)}"
    )
    summary = result.files.get("summary")
    if summary is not None:
        click.echo(f"summary: {summary}")


def _layers(spec: str | None) -> tuple[str, ...] | None:
    return None if spec is None else tuple(x.strip() for x in spec.split(",") if x.strip())


@click.group(name="experiment")
def experiment() -> None:
    """The paper's experiments: batch-size sweep (phases) and L2 sweep (rank collapse).

    Defaults are the paper's settings: SGD, learning rate 0.01, momentum 0.9, learning rate
    x0.95 per epoch, cross-entropy loss. Training uses the GPU when available.
    """


@experiment.command(name="batch-size")
@click.option("--batch-sizes", help="Comma list of batch sizes [2,4,...,1024 (powers of two)].")
@click.option("--l2", "l2", type=click.FloatRange(min=0), help="L2 strength on --l2-layers [0].")
@click.option("--l2-layers", help="Comma list of layers [the preset's, else fc1].")
@_common
def batch_size(
    batch_sizes: str | None, l2: float | None, l2_layers: str | None, **opts: Any
) -> None:
    """Train one run per batch size and seed; write DIR/results.csv, plots and summary.md."""
    values = parse_floats(batch_sizes, param="--batch-sizes") if batch_sizes else None
    if values is not None and any(v < 1 or v != int(v) for v in values):
        raise click.BadParameter(
            f"batch sizes must be ints >= 1; got {batch_sizes!r}", param_hint="--batch-sizes"
        )
    layers = _layers(l2_layers)
    _run("batch_size", values, opts, l2=l2, l2_layers=layers)


@experiment.command(name="regularization")
@click.option(
    "--l2",
    "l2_values",
    help="Comma list of L2 strengths, penalty l2 * ||W||_F^2 on --l2-layers "
    "[0,1e-3,2e-3,5e-3,2e-2,5e-2,0.1,0.2: the paper's 1e-3..5e-3, then stronger].",
)
@click.option("--l2-layers", help="Comma list of layers [the preset's, else fc1].")
@click.option("--batch-size", type=click.IntRange(min=1), help="Batch size [32; the preset's].")
@_common
def regularization(
    l2_values: str | None, l2_layers: str | None, batch_size: int | None, **opts: Any
) -> None:
    """Train one run per L2 strength and seed; report where rank collapse appears."""
    values = None if l2_values is None else parse_floats(l2_values, param="--l2")
    if values is not None and any(v < 0 for v in values):
        raise click.BadParameter(f"L2 strengths must be >= 0; got {l2_values!r}", param_hint="--l2")

    layers = _layers(l2_layers)
    _run("l2", values, opts, l2_layers=layers, batch_size=batch_size)


__all__ = ["batch_size", "experiment", "parse_floats", "parse_seeds", "regularization"]
