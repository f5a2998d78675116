"""Writing output files whole or not at all: write to a temporary file, then rename.

Every writer of a user-visible file (reports, figures, HTML) goes through :func:`atomic_path`,
so an interrupted run (Ctrl-C, a crash) never leaves a half-written file behind.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path``, renamed onto it when the block ends without error.

    The temporary file is removed on any error or interrupt (KeyboardInterrupt included);
    ``path`` is then untouched.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("done")
    >>> target.read_text()
    'done'
    """
    path = Path(path)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent or ".")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def is_stdout(path: str | Path) -> bool:
    """Whether ``path`` is ``-`` (write to standard output)."""
    return str(path) == "-"


@contextlib.contextmanager
def open_text_output(path: str | Path) -> Iterator[TextIO]:
    """A text stream for ``path``: standard output for ``-``, else an atomically written file."""
    if is_stdout(path):
        yield sys.stdout
        sys.stdout.flush()
        return
    with atomic_path(path) as tmp, tmp.open("w", encoding="utf-8", newline="") as stream:
        yield stream


__all__ = ["atomic_path", "is_stdout", "open_text_output"]
