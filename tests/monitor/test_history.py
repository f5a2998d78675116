from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from htsr.errors import SourceError
from htsr.monitor import history as history_mod
from htsr.monitor.history import History, infer_format, load_history

FORMATS = ["h.sqlite", "h.parquet"]


def _rows(n: int = 2, **extra: object) -> pd.DataFrame:
    data = {"name": [f"fc{i}.weight" for i in range(1, n + 1)], "stable_rank": [1.5] * n}
    data.update({k: [v] * n for k, v in extra.items()})
    return pd.DataFrame(data)


@pytest.mark.parametrize("name", FORMATS)
def test_roundtrip_and_completed_epochs(tmp_path, name):
    h = History(tmp_path / name)
    assert not h.exists() and h.completed_epochs("a") == []
    for epoch in (0, 1, 2):
        h.append_epoch(_rows(test_acc=0.1 * epoch), run="a", epoch=epoch)
    h.append_epoch(_rows(), run="b/seed=0", epoch=0)
    assert h.completed_epochs("a") == [0, 1, 2]
    assert h.completed_epochs("b/seed=0") == [0]
    assert h.runs() == ["a", "b/seed=0"]
    frame = load_history(tmp_path / name)
    assert list(frame.columns[:3]) == ["run", "epoch", "name"]
    assert len(frame) == 8
    a = frame[frame["run"] == "a"]
    assert a["epoch"].tolist() == [0, 0, 1, 1, 2, 2]
    assert a["name"].tolist()[:2] == ["fc1.weight", "fc2.weight"]
    np.testing.assert_allclose(a["test_acc"], [0, 0, 0.1, 0.1, 0.2, 0.2])
    only_b = load_history(tmp_path / name, run="b/seed=0")
    assert set(only_b["run"]) == {"b/seed=0"}


@pytest.mark.parametrize("name", FORMATS)
def test_columns_added_later_read_back_as_nan(tmp_path, name):
    # The fits land in analyze() later: a history must take new columns mid-run.
    h = History(tmp_path / name)
    h.append_epoch(_rows(), run="a", epoch=0)
    h.append_epoch(_rows(alpha=3.25, phase="heavy_tailed"), run="a", epoch=1)
    frame = h.to_frame()
    assert math.isnan(frame.loc[0, "alpha"])
    assert frame.loc[2, "alpha"] == 3.25
    assert frame["alpha"].dtype == np.float64
    assert frame.loc[2, "phase"] == "heavy_tailed"


@pytest.mark.parametrize("name", FORMATS)
def test_rewriting_an_epoch_replaces_it(tmp_path, name):
    h = History(tmp_path / name)
    h.append_epoch(_rows(test_acc=0.1), run="a", epoch=1)
    h.append_epoch(_rows(test_acc=0.9), run="a", epoch=1)
    frame = h.to_frame()
    assert len(frame) == 2
    assert frame["test_acc"].tolist() == [0.9, 0.9]


@pytest.mark.parametrize("name", FORMATS)
def test_meta(tmp_path, name):
    h = History(tmp_path / name)
    assert h.get_meta("config", "none") == "none"
    h.set_meta("config", {"lr": 0.01, "layers": ["fc1"]})
    assert History(tmp_path / name).get_meta("config") == {"lr": 0.01, "layers": ["fc1"]}


def test_sqlite_crash_mid_epoch_loses_only_that_epoch(tmp_path, monkeypatch):
    h = History(tmp_path / "h.sqlite")
    h.append_epoch(_rows(), run="a", epoch=1)
    real = history_mod._sql_value

    def failing(value):
        if value == "boom":
            raise RuntimeError("killed mid-write")
        return real(value)

    monkeypatch.setattr(history_mod, "_sql_value", failing)
    bad = _rows()
    bad.loc[1, "name"] = "boom"
    with pytest.raises(RuntimeError, match="killed"):
        h.append_epoch(bad, run="a", epoch=2)
    assert h.completed_epochs("a") == [1]
    assert h.to_frame()["epoch"].tolist() == [1, 1]


def test_parquet_crash_leaves_no_partial_epoch(tmp_path, monkeypatch):
    h = History(tmp_path / "h.parquet")
    h.append_epoch(_rows(), run="a", epoch=1)

    def failing(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", failing)
    with pytest.raises(OSError, match="disk full"):
        h.append_epoch(_rows(), run="a", epoch=2)
    monkeypatch.undo()
    assert h.completed_epochs("a") == [1]
    assert len(h.to_frame()) == 2


def test_infer_format_iv():
    assert infer_format("x.db") == "sqlite"
    assert infer_format("x.sqlite3") == "sqlite"
    assert infer_format("x.parquet") == "parquet"
    assert infer_format("x.csv", "sqlite") == "sqlite"
    with pytest.raises(ValueError, match=r"must end in one of"):
        infer_format("x.csv")
    with pytest.raises(ValueError, match=r"`format` must be one of"):
        infer_format("x.db", "feather")


def test_append_iv(tmp_path):
    with pytest.raises(ValueError, match="need a 'name' column"):
        History(tmp_path / "h.db").append_epoch(pd.DataFrame({"x": [1]}), run="a", epoch=0)


def test_load_history_iv(tmp_path):
    with pytest.raises(SourceError, match="no such history"):
        load_history(tmp_path / "missing.sqlite")
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database, just text" * 10)
    with pytest.raises(SourceError, match="not a htsr SQLite history"):
        load_history(junk)
    afile = tmp_path / "f.parquet"
    afile.write_text("x")
    with pytest.raises(SourceError, match="directory"):
        load_history(afile)
