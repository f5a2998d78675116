"""Output files are written whole or not at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from htsr._io import atomic_path, open_text_output


def test_atomic_path_renames_on_success(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    with atomic_path(target) as tmp:
        tmp.write_text("new")
        assert target.read_text() == "old"  # untouched until the block ends
    assert target.read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["out.txt"]


@pytest.mark.parametrize("error", [KeyboardInterrupt, RuntimeError])
def test_interrupted_write_leaves_nothing(tmp_path: Path, error: type[BaseException]) -> None:
    target = tmp_path / "out.csv"

    def write_then_fail() -> None:
        with open_text_output(target) as stream:
            stream.write("half")
            raise error

    with pytest.raises(error):
        write_then_fail()
    assert list(tmp_path.iterdir()) == []


def test_dash_is_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    with open_text_output("-") as stream:
        stream.write("to stdout")
    assert capsys.readouterr().out == "to stdout"
