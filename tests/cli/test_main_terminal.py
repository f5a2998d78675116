"""``htsr analyze`` in a real terminal (tmux) at 80, 120 and 200 columns, and Ctrl-C there.

The real MiniLM weights are analysed once, at 80 columns (the narrowest supported width);
the 120- and 200-column runs print the report that run saved (``htsr show``, the same
rendering code), to keep the suite's CPU budget.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

HEADER_START = "name "


class Terminal:
    """A detached tmux session of a given size running bash, driven by send-keys."""

    def __init__(self, width: int, cwd: Path) -> None:
        self.socket = f"htsr-test-{uuid.uuid4().hex[:8]}"
        self.width = width
        env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
        self._tmux(
            "-f", "/dev/null", "new-session", "-d", "-s", "t", "-x", str(width), "-y", "50",
            "-c", str(cwd), "bash --norc --noprofile",
            env=env,
        )  # fmt: skip
        self._tmux("set-option", "-g", "history-limit", "10000")

    def _tmux(self, *args: str, env: dict[str, str] | None = None) -> str:
        return subprocess.run(
            ["tmux", "-L", self.socket, *args],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        ).stdout

    def run(self, command: str) -> None:
        self._tmux("send-keys", "-t", "t", command, "Enter")

    def keys(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", "t", *keys)

    def screen(self) -> str:
        """Everything printed so far, as the terminal shows it (wrapped lines stay wrapped)."""
        return self._tmux("capture-pane", "-p", "-t", "t", "-S", "-10000")

    def wait_for(self, text: str, timeout: float = 300) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.2)
        pytest.fail(f"{text!r} not shown within {timeout} s; screen:\n{self.screen()}")

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], check=False)


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[callable]:  # type: ignore[valid-type]
    opened: list[Terminal] = []

    def open_terminal(width: int) -> Terminal:
        opened.append(Terminal(width, tmp_path))
        return opened[-1]

    yield open_terminal
    for t in opened:
        t.close()


def htsr_command(*args: str | Path) -> str:
    src = Path(__file__).parents[2] / "src"
    return (
        f"PYTHONPATH={shlex.quote(str(src))} {shlex.quote(sys.executable)} -m htsr "
        + " ".join(shlex.quote(str(a)) for a in args)
        + '; echo "DO""NE rc=$?"'
    )


def check_table(screen: str, width: int, names: list[str]) -> None:
    """Every row on one line, no cell cut, verdict above the table."""
    lines = screen.splitlines()
    assert all(len(line) <= width for line in lines)
    start = next(i for i, line in enumerate(lines) if line.startswith(HEADER_START))
    header = lines[start].split()
    assert "alpha" in header and "warning" in header, header
    assert "analysed layers have alpha" in " ".join(lines[:start])  # the verdict, first
    rows = []
    for line in lines[start + 2 :]:
        if (
            not line.strip()
            or line.startswith(("summary:", "DONE", "skipped"))
            or "skipped" in line
        ):
            break
        rows.append(line)
    assert len(rows) == len(names), "\n".join(rows)
    alpha_at = header.index("alpha")
    for row, name in zip(rows, names, strict=True):
        cells = row.split()
        shown = cells[0]
        assert shown == name or "…" in shown or "." in shown, (shown, name)
        assert shown.split(".")[-1] == name.split(".")[-1]  # the last part is kept
        float(cells[alpha_at])  # a whole number, never folded onto the next line


@pytest.mark.slow
def test_minilm_table_at_80_120_200_columns(terminal, minilm_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import htsr

    saved = tmp_path / "minilm.json"
    t80 = terminal(80)
    t80.run(htsr_command("analyze", minilm_dir, "--json", saved))
    screen = t80.wait_for("DONE rc=", timeout=600)
    assert "DONE rc=0" in screen, screen
    names = htsr.load_report(saved).analysed["name"].tolist()
    assert len(names) == 39
    check_table(screen, 80, names)
    for width in (120, 200):
        t = terminal(width)
        t.run(htsr_command("show", saved))
        screen = t.wait_for("DONE rc=")
        assert "DONE rc=0" in screen, screen
        check_table(screen, width, names)
        if width == 200:  # wide enough for every name in full
            assert all(name in screen for name in names)


@pytest.mark.slow
def test_ctrl_c_exits_130_leaving_no_output(terminal, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(2)
    model = tmp_path / "many.npz"
    np.savez(model, **{f"l{i}": rng.standard_normal((200, 100)) for i in range(400)})
    out = tmp_path / "out.csv"
    t = terminal(100)
    t.run(htsr_command("analyze", model, "--csv", out))
    t.wait_for("/400", timeout=300)  # the progress bar: the analysis is under way
    t.keys("C-c")
    screen = t.wait_for("DONE rc=")
    assert "DONE rc=130" in screen and "htsr: interrupted" in screen, screen
    assert "Traceback" not in screen and "Aborted!" not in screen
    assert sorted(p.name for p in tmp_path.iterdir()) == ["many.npz"]
