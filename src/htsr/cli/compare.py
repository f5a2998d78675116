"""``htsr compare A B C``: rank models by a metric; correlations with accuracies; HTML."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import click

from htsr.cli._common import bad_input_exits, progress_bar

_CORR_SHOWN = (
    "n",
    "kendall_tau",
    "spearman_rho",
    "pearson_r",
    "r2",
    "rmse",
    "expected_sign",
    "agrees",
)


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, (bool, str)):
        return str(value)
    if isinstance(value, (int,)) or (
        isinstance(value, float) and value.is_integer() and abs(value) < 1e6
    ):
        return str(int(value))
    return f"{value:.4g}"


def _print_table(
    title: str, frame: Any, columns: tuple[str, ...], index_name: str, *, to_stderr: bool
) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    table.add_column(index_name, overflow="fold")
    shown = [c for c in columns if c in frame.columns]
    for c in shown:
        table.add_column(c, justify="right")
    for index, row in frame.iterrows():
        table.add_row(str(index), *(_fmt(row[c]) for c in shown))
    stream = sys.stderr if to_stderr else sys.stdout
    Console(file=stream, width=None if stream.isatty() else 200).print(table)


@click.command(name="compare")
@click.argument("models", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--names", help="Comma-separated model names [file stems].")
@click.option(
    "--accuracy",
    "accuracy_path",
    type=click.Path(path_type=Path),
    help="CSV with columns model,accuracy: adds the correlations.",
)
@click.option("--metric", default="alpha", show_default=True, help="Metric to rank models by.")
@click.option("--skip-first", is_flag=True, help="Leave the first analysed layer out of averages.")
@click.option("--skip-last", is_flag=True, help="Leave the last analysed layer out of averages.")
@click.option("--kind", "kinds", multiple=True, help="Average only this layer kind (repeatable).")
@click.option(
    "--base",
    type=click.Path(path_type=Path),
    help="Compare the updates MODEL - BASE (fine-tunes or LoRA adapters of one base).",
)
@click.option("--jobs", type=click.IntRange(min=1), help="Analyse layers in N processes.")
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(path_type=Path),
    help="Write the ranked model table ('-': standard output).",
)
@click.option(
    "--html",
    "html_path",
    type=click.Path(path_type=Path),
    help="Write a self-contained HTML comparison (needs htsr[plot]).",
)
@click.option("--quiet", is_flag=True, help="Print nothing but errors.")
def compare(
    models: tuple[Path, ...],
    names: str | None,
    accuracy_path: Path | None,
    metric: str,
    skip_first: bool,
    skip_last: bool,
    kinds: tuple[str, ...],
    base: Path | None,
    jobs: int | None,
    csv_path: Path | None,
    html_path: Path | None,
    quiet: bool,
) -> None:
    """Compare MODELS (model files, directories, or saved .json/.parquet/.csv reports):
    a table ranked by --metric (best first: smaller is better for alpha and the log norms)
    and, with --accuracy, each metric's Kendall tau, Spearman rho, Pearson r, R^2 and RMSE
    against the accuracies."""
    from htsr.compare import EXPECTED_SIGN
    from htsr.compare import compare as compare_models

    with bad_input_exits():
        name_list = None if names is None else [n.strip() for n in names.split(",")]
        with progress_bar(not quiet) as progress:
            result = compare_models(
                list(models),
                names=name_list,
                accuracies=accuracy_path,
                first_layer=not skip_first,
                last_layer=not skip_last,
                kinds=kinds or None,
                base=base,
                executor=jobs,
                progress=progress,
            )
        ranked = result.ranking(metric)
        to_stdout = csv_path is not None and str(csv_path) == "-"
        if csv_path is not None:
            ranked.to_csv(sys.stdout if to_stdout else csv_path)
        if html_path is not None:
            result.to_html(html_path, metric=metric)
    if quiet:
        return
    title = f"models ranked by {metric} (best first)"
    # the compared metrics (one home: htsr.compare.EXPECTED_SIGN), when present
    shown = ("rank", "accuracy", *EXPECTED_SIGN, "num_analysed")
    _print_table(title, ranked, shown, "model", to_stderr=to_stdout)
    if result.correlations is not None:
        corr = result.correlations
        _print_table("correlation with accuracy", corr, _CORR_SHOWN, "metric", to_stderr=to_stdout)


__all__ = ["compare"]
