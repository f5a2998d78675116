"""Run history: per-epoch, per-layer rows saved incrementally to SQLite or Parquet.

A history is one flat table, one row per (run, epoch, layer), holding whatever columns
:func:`htsr.analyze` returned plus the epoch's scalars (accuracies, losses, settings).
Each epoch is written in one atomic step, so a crash loses at most the epoch in progress:

- SQLite (``.sqlite``, ``.sqlite3``, ``.db``; the default, stdlib ``sqlite3``): one
  transaction per epoch. Columns that appear later (a new metric) are added with
  ``ALTER TABLE``; older rows read back as NaN for them.
- Parquet (``.parquet``, needs ``pip install 'htsr[monitor]'``): a directory with one file per
  (run, epoch), written to a temporary name and renamed into place.

Run settings (for resuming) go into a small key/value ``meta`` store beside the rows.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import numpy as np
import pandas as pd

from htsr.errors import SourceError

#: Columns identifying a row; every history has them.
KEY_COLUMNS = ("run", "epoch", "name")
#: Suffixes of each format.
SQLITE_SUFFIXES = (".sqlite", ".sqlite3", ".db")
PARQUET_SUFFIXES = (".parquet",)
FORMATS = ("sqlite", "parquet")


def infer_format(path: str | Path, format: str | None = None) -> str:
    """The storage format of a history path: ``format`` if given, else from the suffix.

    Raises
    ------
    ValueError
        If ``format`` is unknown or the suffix is neither SQLite nor Parquet.
    """
    if format is not None:
        if format not in FORMATS:
            raise ValueError(f"`format` must be one of {FORMATS}; got {format!r}")
        return format
    suffix = Path(path).suffix.lower()
    if suffix in SQLITE_SUFFIXES:
        return "sqlite"
    if suffix in PARQUET_SUFFIXES:
        return "parquet"
    raise ValueError(
        f"history path {str(path)!r} must end in one of "
        f"{SQLITE_SUFFIXES + PARQUET_SUFFIXES} (or pass format=)"
    )


def _sql_type(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_integer_dtype(series):
        return "INTEGER"
    if pd.api.types.is_float_dtype(series):
        return "REAL"
    return "TEXT"


def _sql_value(value: Any) -> Any:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, np.integer):
        return int(value)
    return value if isinstance(value, (int, str)) else str(value)


class History:
    """An incremental store of per-epoch, per-layer rows.

    Parameters
    ----------
    path : str or path
        A ``.sqlite``/``.sqlite3``/``.db`` file or a ``.parquet`` directory; created on the
        first write.
    format : {"sqlite", "parquet"}, optional
        Overrides the format the suffix implies.

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> h = History(tempfile.mkdtemp() + "/h.sqlite")
    >>> h.append_epoch(pd.DataFrame({"name": ["fc1.weight"], "alpha": [3.1]}), run="a", epoch=1)
    >>> h.completed_epochs("a"), h.to_frame()[["run", "epoch", "name", "alpha"]].values.tolist()
    ([1], [['a', 1, 'fc1.weight', 3.1]])
    """

    def __init__(self, path: str | Path, *, format: str | None = None) -> None:
        self.path = Path(path)
        self.format = infer_format(path, format)

    def __repr__(self) -> str:
        return f"History({str(self.path)!r}, format={self.format!r})"

    # -- writing -------------------------------------------------------------------------------

    def append_epoch(self, rows: pd.DataFrame, *, run: str, epoch: int) -> None:
        """Write one epoch's rows of one run atomically (replacing that epoch if present)."""
        frame = rows.copy()
        frame.insert(0, "epoch", int(epoch))
        frame.insert(0, "run", str(run))
        if "name" not in frame.columns:
            raise ValueError("history rows need a 'name' column (the layer)")
        frame = frame[[*KEY_COLUMNS, *[c for c in frame.columns if c not in KEY_COLUMNS]]]
        if self.format == "sqlite":
            self._sqlite_append(frame, run, int(epoch))
        else:
            self._parquet_append(frame, run, int(epoch))

    def set_meta(self, key: str, value: Any) -> None:
        """Store a JSON-serialisable value under ``key`` (run settings, for resuming)."""
        text = json.dumps(value, sort_keys=True)
        if self.format == "sqlite":
            with self._connect() as con:
                con.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, text))
        else:
            meta = self._parquet_meta()
            meta[key] = value
            self.path.mkdir(parents=True, exist_ok=True)
            _atomic_write_text(self.path / "meta.json", json.dumps(meta, sort_keys=True))

    # -- reading -------------------------------------------------------------------------------

    def exists(self) -> bool:
        """Whether anything was written yet."""
        return self.path.exists()

    def get_meta(self, key: str, default: Any = None) -> Any:
        """The value stored under ``key``, or ``default``."""
        if not self.exists():
            return default
        if self.format == "parquet":
            return self._parquet_meta().get(key, default)
        with self._connect() as con:
            found = con.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if found is None else json.loads(found[0])

    def completed_epochs(self, run: str) -> list[int]:
        """The epochs of ``run`` fully written, in increasing order."""
        if not self.exists():
            return []
        if self.format == "sqlite":
            with self._connect() as con:
                found = con.execute(
                    "SELECT epoch FROM epochs WHERE run = ? ORDER BY epoch", (run,)
                ).fetchall()
            return [int(e) for (e,) in found]
        prefix = f"{quote(run, safe='')}__e"
        return sorted(
            int(p.stem.removeprefix(prefix))
            for p in self.path.glob("*.parquet")
            if p.stem.startswith(prefix)
        )

    def runs(self) -> list[str]:
        """The runs with at least one epoch written, in order of first write."""
        if not self.exists():
            return []
        if self.format == "sqlite":
            with self._connect() as con:
                found = con.execute(
                    "SELECT run FROM epochs GROUP BY run ORDER BY MIN(rowid)"
                ).fetchall()
            return [r for (r,) in found]
        runs = [unquote(p.stem.rsplit("__e", 1)[0]) for p in sorted(self.path.glob("*.parquet"))]
        return list(dict.fromkeys(runs))

    def to_frame(self, run: str | None = None) -> pd.DataFrame:
        """All rows (of one run if given), ordered by run, epoch and layer order."""
        if not self.exists():
            raise SourceError(self.path, "no such history (nothing was written here)")
        if self.format == "sqlite":
            return self._sqlite_frame(run)
        return self._parquet_frame(run)

    # -- SQLite --------------------------------------------------------------------------------

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            con = sqlite3.connect(self.path, timeout=30)
        except sqlite3.Error as e:
            raise SourceError(self.path, f"cannot open SQLite history ({e})") from e
        with closing(con):
            try:
                con.execute(
                    "CREATE TABLE IF NOT EXISTS history "
                    "(run TEXT NOT NULL, epoch INTEGER NOT NULL, name TEXT NOT NULL)"
                )
                con.execute(
                    "CREATE TABLE IF NOT EXISTS epochs "
                    "(run TEXT NOT NULL, epoch INTEGER NOT NULL, PRIMARY KEY (run, epoch))"
                )
                con.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            except sqlite3.DatabaseError as e:
                raise SourceError(self.path, f"not a htsr SQLite history ({e})") from e
            with con:  # one transaction: committed on success, rolled back on error
                yield con

    def _sqlite_append(self, frame: pd.DataFrame, run: str, epoch: int) -> None:
        with self._connect() as con:
            have = {row[1] for row in con.execute("PRAGMA table_info(history)")}
            for col in frame.columns:
                if col not in have:
                    quoted = col.replace('"', '""')
                    con.execute(
                        f'ALTER TABLE history ADD COLUMN "{quoted}" {_sql_type(frame[col])}'
                    )
            con.execute("DELETE FROM history WHERE run = ? AND epoch = ?", (run, epoch))
            cols = ", ".join('"{}"'.format(c.replace('"', '""')) for c in frame.columns)
            marks = ", ".join("?" * len(frame.columns))
            records = [
                tuple(_sql_value(v) for v in row)
                for row in frame.itertuples(index=False, name=None)
            ]
            con.executemany(f"INSERT INTO history ({cols}) VALUES ({marks})", records)
            con.execute("INSERT OR REPLACE INTO epochs (run, epoch) VALUES (?, ?)", (run, epoch))

    def _sqlite_frame(self, run: str | None) -> pd.DataFrame:
        query = "SELECT * FROM history"
        params: tuple[Any, ...] = ()
        if run is not None:
            query += " WHERE run = ?"
            params = (run,)
        with self._connect() as con:
            frame = pd.read_sql_query(query + " ORDER BY rowid", con, params=params)
            declared = {row[1]: row[2] for row in con.execute("PRAGMA table_info(history)")}
            order = con.execute(
                "SELECT run FROM epochs GROUP BY run ORDER BY MIN(rowid)"
            ).fetchall()
        for col, sql_type in declared.items():
            if sql_type == "REAL" and col in frame and frame[col].dtype == object:
                numeric = pd.to_numeric(frame[col], errors="coerce")
                if numeric.notna().sum() == frame[col].notna().sum():  # nothing lost
                    frame[col] = numeric.astype("float64")
        return _order(frame, [r for (r,) in order])

    # -- Parquet -------------------------------------------------------------------------------

    def _parquet_file(self, run: str, epoch: int) -> Path:
        return self.path / f"{quote(run, safe='')}__e{epoch:06d}.parquet"

    def _parquet_meta(self) -> dict[str, Any]:
        meta = self.path / "meta.json"
        return json.loads(meta.read_text()) if meta.is_file() else {}

    def _parquet_append(self, frame: pd.DataFrame, run: str, epoch: int) -> None:
        from htsr._optional import import_optional

        import_optional("pyarrow", extra="monitor", caller="History (Parquet format)")
        if self.path.exists() and not self.path.is_dir():
            raise SourceError(self.path, "a Parquet history is a directory; this is a file")
        self.path.mkdir(parents=True, exist_ok=True)
        target = self._parquet_file(run, epoch)
        tmp = target.with_name(target.name + ".tmp")
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, target)

    def _parquet_frame(self, run: str | None) -> pd.DataFrame:
        from htsr._optional import import_optional

        import_optional("pyarrow", extra="monitor", caller="History (Parquet format)")
        if not self.path.is_dir():
            raise SourceError(self.path, "a Parquet history is a directory of .parquet files")
        runs = self.runs() if run is None else [run]
        frames = [
            pd.read_parquet(self._parquet_file(r, e))
            for r in runs
            for e in self.completed_epochs(r)
        ]
        frames = [f for f in frames if len(f)]
        if not frames:
            return pd.DataFrame(columns=list(KEY_COLUMNS))
        return _order(pd.concat(frames, ignore_index=True), runs)


def _order(frame: pd.DataFrame, runs: list[str]) -> pd.DataFrame:
    """Rows sorted by run (first-write order), epoch, then layer order within an epoch."""
    if frame.empty:
        return frame
    rank = {r: i for i, r in enumerate(runs)}
    frame = frame.assign(_run=frame["run"].map(rank), _pos=range(len(frame)))
    frame = frame.sort_values(["_run", "epoch", "_pos"], kind="stable")
    frame = frame.drop(columns=["_run", "_pos"]).reset_index(drop=True)
    frame["epoch"] = frame["epoch"].astype("int64")
    return frame


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def load_history(path: str | Path, *, run: str | None = None) -> pd.DataFrame:
    """Reload a history written by :class:`History` or :class:`~htsr.monitor.SpectralMonitor`.

    Parameters
    ----------
    path : str or path
        The ``.sqlite``/``.db`` file or ``.parquet`` directory.
    run : str, optional
        Only this run's rows.

    Returns
    -------
    pandas.DataFrame
        One row per (run, epoch, layer): ``run, epoch, name`` then the recorded columns.

    Raises
    ------
    SourceError
        If the path does not exist or is not a history.
    """
    path = Path(path)
    if not path.exists():
        raise SourceError(path, "no such history file or directory")
    return History(path).to_frame(run)


__all__ = ["FORMATS", "KEY_COLUMNS", "History", "infer_format", "load_history"]
