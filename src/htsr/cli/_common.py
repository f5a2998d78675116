"""What every ``htsr`` command shares: one-line errors (exit 2), one-line warnings, Ctrl-C
(exit 130), output-path checks before any work, and the progress bar.

Subcommands import from here, never from :mod:`htsr.cli.main` (which imports them).
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from htsr.errors import HtsrError, MissingExtraError

#: Exit code of a run stopped by Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130


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


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    text = " ".join(str(message).split())
    click.echo(f"htsr: warning: {text}", err=True)


@contextmanager
def one_line_warnings() -> Iterator[None]:
    """Show warnings as ``htsr: warning: <message>`` on stderr (no file:line, no source)."""
    previous = warnings.showwarning
    warnings.showwarning = _show_warning
    try:
        yield
    finally:
        warnings.showwarning = previous


class HtsrGroup(click.Group):
    """The ``htsr`` group: Ctrl-C ends any command with exit code 130 and one line."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with one_line_warnings():
                return super().invoke(ctx)
        except KeyboardInterrupt:
            click.echo("htsr: interrupted", err=True)
            ctx.exit(EXIT_INTERRUPTED)


def check_output_file(path: Path | None, option: str) -> None:
    """Fail now (exit 2, naming ``path``) if an output file could not be written later.

    ``-`` (standard output) is always fine. The file need not exist; its directory must,
    and must be writable; the path must not be a directory.
    """
    if path is None or str(path) == "-":
        return
    if path.is_dir():
        raise BadInput(f"{option} {path}: is a directory")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise BadInput(f"{option} {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise BadInput(f"{option} {path}: not writable")


def check_output_dir(path: Path | None, option: str) -> None:
    """Fail now (exit 2, naming ``path``) if an output directory could not be created or
    written later."""
    if path is None:
        return
    if path.exists():
        if not path.is_dir():
            raise BadInput(f"{option} {path}: exists and is not a directory")
        if not os.access(path, os.W_OK):
            raise BadInput(f"{option} {path}: not writable")
        return
    existing = next((p for p in path.absolute().parents if p.exists()), None)
    if existing is None or not existing.is_dir():
        raise BadInput(f"{option} {path}: cannot be created ({existing} is not a directory)")
    if not os.access(existing, os.W_OK):
        raise BadInput(f"{option} {path}: cannot be created ({existing} is not writable)")


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


__all__ = [
    "EXIT_INTERRUPTED",
    "BadInput",
    "HtsrGroup",
    "bad_input_exits",
    "check_output_dir",
    "check_output_file",
    "one_line_warnings",
    "progress_bar",
]
