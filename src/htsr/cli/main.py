"""``htsr`` entry point and the ``analyze`` / ``describe`` commands.

Exit codes: 0 success; 2 bad input (missing, corrupt or unsupported model, bad option), with
a one-line message naming the file and the problem on stderr.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from htsr.errors import HtsrError, MissingExtraError


class BadInput(click.ClickException):
    """A one-line error with exit code 2."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"htsr: error: {self.format_message()}", err=True)


@contextmanager
def bad_input_exits() -> Iterator[None]:
    """Turn htsr's input errors into a one-line message and exit code 2."""
    try:
        yield
    except (HtsrError, ValueError, TypeError, KeyError) as e:
        if isinstance(e, MissingExtraError):
            raise BadInput(str(e)) from e
        raise BadInput(str(e).strip("'\"")) from e


@contextmanager
def progress_bar(enabled: bool) -> Iterator[Callable[[int, int, str], None] | None]:
    """A rich progress bar on stderr (only when stderr is a terminal and ``enabled``)."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("analysing", total=None)

        def update(done: int, total: int, name: str) -> None:
            bar.update(task, completed=done, total=total, description=name[-48:] or "done")

        yield update


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="htsr")
def main() -> None:
    """Heavy-Tailed Self-Regularization: how well trained is a network, from its weights."""


_model_arg = click.argument("model", type=click.Path(path_type=Path))


@main.command()
@_model_arg
@click.option("--layers", help="Regex: analyse only tensors whose name matches.")
@click.option("--exclude", help="Regex: skip tensors whose name matches.")
@click.option("--kind", "kinds", multiple=True, help="Only this layer kind (repeatable).")
@click.option(
    "--min-evals", default=10, show_default=True, help="Skip layers with fewer eigenvalues."
)
@click.option("--no-pool", is_flag=True, help="One row per convolution slice.")
@click.option(
    "--solver",
    type=click.Choice(["float64", "float32"]),
    default="float64",
    show_default=True,
    help="Eigensolver precision.",
)
@click.option(
    "--conv-layout",
    type=click.Choice(["auto", "channels_first", "channels_last"]),
    default="auto",
    show_default=True,
)
@click.option("--csv", "csv_path", type=click.Path(path_type=Path), help="Write the table as CSV.")
@click.option(
    "--json", "json_path", type=click.Path(path_type=Path), help="Write the report as JSON."
)
@click.option(
    "--html",
    "html_path",
    type=click.Path(path_type=Path),
    help="Write a self-contained HTML report (needs htsr[plot]).",
)
@click.option(
    "--plots",
    "plots_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write model.png and layers/<layer>.png here (needs htsr[plot]).",
)
@click.option("--randomize", is_flag=True, help="Also analyse element-shuffled matrices (traps).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of --randomize.")
@click.option("--jobs", type=click.IntRange(min=1), help="Analyse layers in N processes.")
@click.option("--all", "show_all", is_flag=True, help="Also show 1-D tensors in the table.")
@click.option("--quiet", is_flag=True, help="Print nothing but errors.")
def analyze(
    model: Path,
    layers: str | None,
    exclude: str | None,
    kinds: tuple[str, ...],
    min_evals: int,
    no_pool: bool,
    solver: str,
    conv_layout: str,
    csv_path: Path | None,
    json_path: Path | None,
    html_path: Path | None,
    plots_dir: Path | None,
    randomize: bool,
    seed: int,
    jobs: int | None,
    show_all: bool,
    quiet: bool,
) -> None:
    """Analyse every weight matrix of MODEL (file or directory) and print the table."""
    from htsr.analysis import analyze as run
    from htsr.report.display import report_renderable

    with bad_input_exits(), progress_bar(not quiet) as progress:
        report = run(
            model,
            layers=layers,
            exclude=exclude,
            kinds=kinds or None,
            min_evals=min_evals,
            pool=not no_pool,
            solver_dtype=solver,
            conv_layout=conv_layout,
            randomize=randomize,
            rng=seed,
            executor=jobs,
            progress=progress,
        )
    if csv_path is not None:
        report.to_csv(csv_path)
    if json_path is not None:
        report.to_json(json_path)
    with bad_input_exits():
        if html_path is not None:
            report.to_html(html_path)
        if plots_dir is not None:
            from htsr.plots import save_figures

            save_figures(report, plots_dir)
    if not quiet:
        from rich.console import Console

        width = None if sys.stdout.isatty() else 220  # a pipe or a file: room for every column
        Console(width=width).print(report_renderable(report, show_all=show_all))


@main.command()
@_model_arg
@click.option("--min-evals", default=10, show_default=True)
@click.option("--csv", "csv_path", type=click.Path(path_type=Path), help="Write the table as CSV.")
def describe(model: Path, min_evals: int, csv_path: Path | None) -> None:
    """List the tensors of MODEL with shapes only (no tensor data read where possible)."""
    from htsr.analysis import describe as shapes

    with bad_input_exits():
        frame = shapes(model, min_evals=min_evals)
    if csv_path is not None:
        frame.to_csv(csv_path, index=False)
    from rich.console import Console
    from rich.table import Table

    from htsr.report.display import format_value

    table = Table(title=f"htsr describe: {model}")
    for c in frame.columns:
        table.add_column(c, overflow="fold")
    for _, row in frame.iterrows():
        table.add_row(*(format_value(v) for v in row.tolist()))
    Console(width=max(Console().width, 140)).print(table)


def _register_subcommands() -> None:
    from htsr.cli.experiment import experiment
    from htsr.cli.history import history
    from htsr.cli.rmt import rmt

    main.add_command(rmt)
    main.add_command(experiment)
    main.add_command(history)


_register_subcommands()

__all__ = ["main"]
