"""Write a report's figures to a directory (``htsr analyze MODEL --plots DIR``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from htsr.plots.layer import plot_layer
from htsr.plots.model import model_frame, plot_model
from htsr.plots.naming import unique_filenames

if TYPE_CHECKING:
    from htsr.report import Report

#: Formats matplotlib writes without extra dependencies.
FORMATS = ("png", "svg", "pdf")


def save_figures(
    report: Report,
    directory: str | Path,
    *,
    fmt: str = "png",
    dpi: int = 100,
    progress: Callable[[int, int, str], None] | None = None,
) -> dict[str, Path]:
    """Save the model figure and one figure per analysed layer.

    Files are ``model.<fmt>`` and ``layers/<safe layer name>.<fmt>`` (names from
    :func:`~htsr.plots.naming.unique_filenames`, valid on every OS and distinct also on
    case-insensitive file systems). The directory is created if needed.

    Parameters
    ----------
    report : Report
    directory : str or path
    fmt : {"png", "svg", "pdf"}, default "png"
    dpi : int, default 100
    progress : callable, optional
        Called as ``progress(done, total, file_name)`` after each figure (about 0.5 s each).

    Returns
    -------
    dict
        ``{"model": path, <layer name>: path, ...}``.
    """
    if fmt not in FORMATS:
        raise ValueError(f"`fmt` must be one of {FORMATS}; got {fmt!r}")
    if not isinstance(dpi, int) or isinstance(dpi, bool) or dpi < 1:
        raise ValueError(f"`dpi` must be an int >= 1; got {dpi!r}")
    out = Path(directory)
    (out / "layers").mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    fig = plot_model(report)
    written["model"] = out / f"model.{fmt}"
    fig.savefig(written["model"], dpi=dpi)
    names = list(model_frame(report)["name"])
    total = len(names) + 1
    if progress is not None:
        progress(1, total, written["model"].name)
    for done, (name, file) in enumerate(unique_filenames(names, suffix=f".{fmt}").items(), start=2):
        fig = plot_layer(report.result(name), name=name)
        written[name] = out / "layers" / file
        fig.savefig(written[name], dpi=dpi)
        if progress is not None:
            progress(done, total, file)
    return written


__all__ = ["FORMATS", "save_figures"]
