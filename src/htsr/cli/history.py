"""``htsr history PATH``: print and plot the trajectories of a training history."""

from __future__ import annotations

from pathlib import Path

import click

from htsr.cli._common import bad_input_exits


@click.command(name="history")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--run", help="Only this run (see the run column).")
@click.option("--layers", help="Regex: only layers whose name matches.")
@click.option("--metric", default="alpha", show_default=True, help="Metric to summarise and plot.")
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Figure file [PATH stem + _trajectories.<format> beside PATH].",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["png", "svg", "pdf"]),
    default="png",
    show_default=True,
    help="Figure format (when --plot has no suffix).",
)
@click.option("--dpi", type=click.IntRange(min=10), default=110, show_default=True)
@click.option(
    "--max-layers",
    type=click.IntRange(min=1),
    default=12,
    show_default=True,
    help="Panels: the layers whose metric changed most.",
)
@click.option("--no-plot", is_flag=True, help="Print the table only.")
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the whole history as CSV.",
)
def history(
    path: Path,
    run: str | None,
    layers: str | None,
    metric: str,
    plot_path: Path | None,
    fmt: str,
    dpi: int,
    max_layers: int,
    no_plot: bool,
    csv_path: Path | None,
) -> None:
    """Trajectories of a history written by the training monitor (SQLite or Parquet):
    a table per run and layer (metric first/last/min/max, phase path) and a figure with one
    panel per layer (the metric over epochs, points coloured by phase)."""
    from htsr.monitor.history import load_history
    from htsr.monitor.trajectories import summarize_history

    with bad_input_exits():
        frame = load_history(path, run=run)
        if frame.empty:
            where = f" for run {run!r} (see the run column)" if run else ""
            raise ValueError(f"{path}: no rows{where}")
        if layers is not None:
            frame = frame[frame["name"].str.contains(layers, regex=True)]
            if frame.empty:
                raise ValueError(f"no layer matches --layers {layers!r} (see the name column)")
        if metric not in frame.columns:
            raise ValueError(
                f"no column {metric!r} in the history; columns: {', '.join(frame.columns)}"
            )
    if csv_path is not None:
        frame.to_csv(csv_path, index=False)
    table = summarize_history(frame, metric=metric)
    from rich.console import Console
    from rich.table import Table

    from htsr.report.display import format_value

    out = Table(title=f"htsr history: {path} ({frame['run'].nunique()} runs)")
    for col in table.columns:
        out.add_column(col, overflow="fold")
    for _, row in table.iterrows():
        out.add_row(*(format_value(v) for v in row.tolist()))
    Console(width=max(Console().width, 140)).print(out)
    if no_plot:
        return
    from htsr.plots.history import plot_history

    with bad_input_exits():
        fig = plot_history(frame, metric=metric, max_layers=max_layers)
        target = plot_path or path.with_name(f"{path.stem}_trajectories.{fmt}")
        fig.savefig(target, dpi=dpi, format=target.suffix[1:] if target.suffix else fmt)
    click.echo(f"plot: {target}")


__all__ = ["history"]
