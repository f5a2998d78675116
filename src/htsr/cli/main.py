"""``htsr`` entry point and the ``analyze`` / ``describe`` commands.

Exit codes: 0 success; 2 bad input (missing, corrupt or unsupported model, bad option, an
output path that cannot be written), with a one-line message naming the file and the problem
on stderr; 130 interrupted (Ctrl-C), leaving no half-written output file.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from htsr.cli._common import (
    BadInput,
    HtsrGroup,
    bad_input_exits,
    check_output_dir,
    check_output_file,
    progress_bar,
)

if TYPE_CHECKING:
    from htsr.report.report import Report

#: Width of the table when standard output is not a terminal (a pipe, a file).
PIPE_WIDTH = 200


@click.group(cls=HtsrGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="htsr")
def main() -> None:
    """Heavy-Tailed Self-Regularization: how well trained is a network, from its weights."""


_model_arg = click.argument("model", type=click.Path(path_type=Path))


def parse_columns(value: str | None) -> list[str] | None:
    """``--columns a,b,c`` -> registered column names (exit 2 naming an unknown one)."""
    if value is None:
        return None
    from htsr.report.columns import COLUMNS_BY_NAME

    names = [c.strip() for c in value.split(",") if c.strip()]
    unknown = [c for c in names if c not in COLUMNS_BY_NAME]
    if unknown or not names:
        raise BadInput(
            f"--columns: unknown column(s) {', '.join(unknown) or '(none given)'}; "
            f"known: {', '.join(COLUMNS_BY_NAME)}"
        )
    return names


def print_report(
    report: Report, *, columns: list[str] | None, show_all: bool, to_stderr: bool = False
) -> None:
    """The verdict, the table fitted to the terminal width, and the summary highlights."""
    from rich.console import Console

    from htsr.report.display import report_renderable

    stream = sys.stderr if to_stderr else sys.stdout
    # a terminal (or COLUMNS) sets the width; a pipe or a file gets room for every column
    fitted = stream.isatty() or "COLUMNS" in os.environ
    console = Console(file=stream, width=None if fitted else PIPE_WIDTH)
    missing = [c for c in columns or [] if c not in report.layers.columns]
    if missing:
        click.echo(
            f"htsr: warning: --columns: not computed in this run: {', '.join(missing)}", err=True
        )
        columns = [c for c in columns or [] if c not in missing] or None
    console.print(
        report_renderable(report, width=console.width, columns=columns, show_all=show_all)
    )


# -- analyze ---------------------------------------------------------------------------------
# Options by group, so that a new option is one line in the right list.

_SELECTION: list[Callable[[Any], Any]] = [
    click.option("--layers", help="Regex: analyse only tensors whose name matches."),
    click.option("--exclude", help="Regex: skip tensors whose name matches."),
    click.option("--kind", "kinds", multiple=True, help="Only this layer kind (repeatable)."),
    click.option(
        "--min-evals", default=10, show_default=True, help="Skip layers with fewer eigenvalues."
    ),
    click.option("--no-pool", is_flag=True, help="One row per convolution slice."),
]
_COMPUTATION: list[Callable[[Any], Any]] = [
    click.option(
        "--base",
        type=click.Path(path_type=Path),
        help="Analyse the updates MODEL - BASE of a fine-tune (or a LoRA adapter's, with the "
        "merged layers too).",
    ),
    click.option(
        "--solver",
        type=click.Choice(["float64", "float32"]),
        default="float64",
        show_default=True,
        help="Eigensolver precision.",
    ),
    click.option(
        "--conv-layout",
        type=click.Choice(["auto", "channels_first", "channels_last"]),
        default="auto",
        show_default=True,
    ),
    click.option(
        "--randomize",
        is_flag=True,
        help="Also analyse element-shuffled matrices (adds the trap columns).",
    ),
    click.option("--seed", type=int, default=0, show_default=True, help="Seed of --randomize."),
    click.option("--jobs", type=click.IntRange(min=1), help="Analyse layers in N processes."),
    click.option(
        "--dask",
        "dask_address",
        metavar="ADDRESS",
        help="Run the layers on an existing Dask cluster (scheduler address; needs htsr[dask]).",
    ),
    click.option(
        "--device",
        type=click.Choice(["auto", "cpu", "cuda"] + [f"cuda:{i}" for i in range(16)]),
        help="Eigensolver on this torch device (auto: CUDA if present, else NumPy).",
    ),
    click.option(
        "--cache",
        "cache_dir",
        type=click.Path(file_okay=False, path_type=Path),
        help="Keep finished layers here; a rerun resumes from them.",
    ),
    click.option(
        "--max-evals", type=click.IntRange(min=1), help="Skip layers with more eigenvalues."
    ),
    click.option("--max-n", "max_n", type=click.IntRange(min=1), help="Skip layers with larger N."),
]
_OUTPUT: list[Callable[[Any], Any]] = [
    click.option(
        "--csv",
        "csv_path",
        type=click.Path(path_type=Path),
        help="Write the table as CSV ('-': standard output).",
    ),
    click.option(
        "--json",
        "json_path",
        type=click.Path(path_type=Path),
        help="Write the report as JSON ('-': standard output).",
    ),
    click.option(
        "--html",
        "html_path",
        type=click.Path(path_type=Path),
        help="Write a self-contained HTML report (charts drawn by the browser).",
    ),
    click.option(
        "--plots",
        "plots_dir",
        type=click.Path(path_type=Path),
        help="Write model.<format> and layers/<layer>.<format> here (needs htsr[plot]).",
    ),
    click.option(
        "--format",
        "plot_format",
        type=click.Choice(["png", "svg", "pdf"]),
        default="png",
        show_default=True,
        help="File format of --plots.",
    ),
    click.option(
        "--dpi",
        type=click.IntRange(min=10),
        default=100,
        show_default=True,
        help="Resolution of --plots.",
    ),
]
_DISPLAY: list[Callable[[Any], Any]] = [
    click.option(
        "--columns",
        "columns",
        help="Comma-separated table columns (default: those that fit the terminal).",
    ),
    click.option("--all", "show_all", is_flag=True, help="Also show skipped tensors."),
    click.option("--quiet", is_flag=True, help="Print nothing but errors."),
]


_F = TypeVar("_F", bound=Callable[..., Any])


def _options(*groups: list[Callable[[_F], _F]]) -> Callable[[_F], _F]:
    """Apply groups of click options in the order listed (as if stacked as decorators)."""

    def decorate(f: _F) -> _F:
        for group in reversed(groups):
            for option in reversed(group):
                f = option(f)
        return f

    return decorate


@contextmanager
def _executor(jobs: int | None, dask_address: str | None) -> Iterator[Any]:
    """``--jobs N`` processes, or a Dask cluster's executor for ``--dask ADDRESS``."""
    if dask_address is None:
        yield jobs
        return
    from htsr._optional import import_optional

    distributed = import_optional("distributed", extra="dask", caller="--dask")
    try:
        client = distributed.Client(dask_address, timeout="10s")
    except (OSError, TimeoutError, ValueError) as e:
        raise BadInput(f"--dask {dask_address}: cannot connect to the scheduler ({e})") from e
    try:
        yield client.get_executor()
    finally:
        client.close()


@main.command()
@_model_arg
@_options(_SELECTION, _COMPUTATION, _OUTPUT, _DISPLAY)
def analyze(
    model: Path,
    layers: str | None,
    exclude: str | None,
    kinds: tuple[str, ...],
    min_evals: int,
    no_pool: bool,
    base: Path | None,
    solver: str,
    conv_layout: str,
    randomize: bool,
    seed: int,
    jobs: int | None,
    dask_address: str | None,
    device: str | None,
    cache_dir: Path | None,
    max_evals: int | None,
    max_n: int | None,
    csv_path: Path | None,
    json_path: Path | None,
    html_path: Path | None,
    plots_dir: Path | None,
    plot_format: str,
    dpi: int,
    columns: str | None,
    show_all: bool,
    quiet: bool,
) -> None:
    """Analyse every weight matrix of MODEL (file or directory): print the verdict, then the
    table, then the summary."""
    from htsr.analysis import analyze as run

    check_output_file(csv_path, "--csv")
    check_output_file(json_path, "--json")
    check_output_file(html_path, "--html")
    check_output_dir(plots_dir, "--plots")
    if plots_dir is not None:  # the figures need matplotlib: say so before the analysis
        from htsr._optional import import_optional

        with bad_input_exits():
            import_optional("matplotlib", extra="plot", caller="--plots")
    if str(csv_path) == "-" and str(json_path) == "-":
        raise BadInput("--csv - and --json - both write to standard output; choose one")
    chosen = parse_columns(columns)
    if jobs is not None and dask_address is not None:
        raise BadInput("--jobs and --dask cannot be used together")
    with (
        bad_input_exits(),
        progress_bar(not quiet) as progress,
        _executor(jobs, dask_address) as executor,
    ):
        report = run(
            model,
            layers=layers,
            exclude=exclude,
            kinds=kinds or None,
            min_evals=min_evals,
            pool=not no_pool,
            base=base,
            solver_dtype=solver,
            conv_layout=conv_layout,
            randomize=randomize,
            rng=seed,
            executor=executor,
            progress=progress,
            device=device,
            cache=cache_dir,
            max_evals=max_evals,
            max_N=max_n,
        )
    if csv_path is not None:
        report.to_csv(csv_path)
    if json_path is not None:
        report.to_json(json_path)
    if html_path is not None:
        with bad_input_exits(), progress_bar(not quiet) as progress:
            report.to_html(html_path, progress=progress)
    if plots_dir is not None:
        from htsr.plots import save_figures

        with bad_input_exits(), progress_bar(not quiet) as progress:
            save_figures(report, plots_dir, fmt=plot_format, dpi=dpi, progress=progress)
    data_on_stdout = "-" in (str(csv_path), str(json_path))
    if not quiet:
        print_report(report, columns=chosen, show_all=show_all, to_stderr=data_on_stdout)


# -- show -----------------------------------------------------------------------------------


@main.command()
@click.argument("report_path", metavar="REPORT", type=click.Path(path_type=Path))
@_options(_DISPLAY[:2])
def show(report_path: Path, columns: str | None, show_all: bool) -> None:
    """Print a saved report (from --json, --csv or Report.to_parquet) as analyze does."""
    from htsr.report.report import load_report

    chosen = parse_columns(columns)
    with bad_input_exits():
        report = load_report(report_path)
    print_report(report, columns=chosen, show_all=show_all)


# -- describe --------------------------------------------------------------------------------


@main.command()
@_model_arg
@click.option("--min-evals", default=10, show_default=True)
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(path_type=Path),
    help="Write the table as CSV ('-': standard output).",
)
def describe(model: Path, min_evals: int, csv_path: Path | None) -> None:
    """List the tensors of MODEL with shapes only (no tensor data read where possible)."""
    from htsr._io import open_text_output
    from htsr.analysis import describe as shapes

    check_output_file(csv_path, "--csv")
    with bad_input_exits():
        frame = shapes(model, min_evals=min_evals)
    if csv_path is not None:
        with open_text_output(csv_path) as stream:
            frame.to_csv(stream, index=False)
        if str(csv_path) == "-":
            return
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
    from htsr.cli.compare import compare
    from htsr.cli.experiment import experiment
    from htsr.cli.history import history
    from htsr.cli.rmt import rmt

    main.add_command(rmt)
    main.add_command(experiment)
    main.add_command(history)
    main.add_command(compare)


_register_subcommands()

__all__ = ["main", "parse_columns", "print_report"]
