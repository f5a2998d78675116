"""Fuzz the file readers: mutated files give a report or a SourceError, nothing else.

Each format is one :data:`FORMATS` entry (a suffix and a function writing a small valid file
with the real library); a new format needs one entry. Hypothesis (derandomized: the same
cases on every run) draws a batch of byte-level mutations of that file; the batch runs in
one subprocess (``fuzz_worker.py``) under ``RLIMIT_AS``, so a crash, a memory blow-up or a
hang is caught and reported with the offending file. ``HTSR_FUZZ_EXAMPLES=50`` runs a longer
campaign (the suite runs one batch of 10 files per format). Reproducers of every failure
found are kept in ``regressions/`` and rerun by ``test_regression_file``.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

WORKER = Path(__file__).with_name("fuzz_worker.py")
#: Address-space limit of the worker: torch's import alone maps ~1.5 GB.
MEMORY_LIMIT = 6 * 2**30
EXAMPLES = int(os.environ.get("HTSR_FUZZ_EXAMPLES", "1"))
BATCH = 10


@dataclass(frozen=True)
class FuzzFormat:
    """A format to fuzz: the file suffix and a writer of one small valid file."""

    suffix: str
    write: Callable[[Path], None]


def _tensors() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "layer.0.weight": rng.standard_normal((12, 8)).astype(np.float32),
        "layer.0.bias": rng.standard_normal(8).astype(np.float32),
        "layer.1.weight": rng.standard_normal((6, 10)).astype(np.float16),
    }


def _safetensors(path: Path) -> None:
    from safetensors.numpy import save_file

    save_file(_tensors(), path)


def _torch(path: Path, *, legacy: bool = False) -> None:
    import torch

    state = {k: torch.from_numpy(v) for k, v in _tensors().items()}
    state["layer.2.weight"] = state["layer.0.weight"].t()  # a view of another storage
    torch.save({"state_dict": state, "epoch": 3}, path, _use_new_zipfile_serialization=not legacy)


def _npy(path: Path) -> None:
    np.save(path, _tensors()["layer.0.weight"])


def _npz(path: Path, *, compressed: bool = False) -> None:
    (np.savez_compressed if compressed else np.savez)(path, **_tensors())


def _gguf(path: Path) -> None:
    import gguf

    writer = gguf.GGUFWriter(path, "llama")
    for name, array in _tensors().items():
        writer.add_tensor(name, array)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def _onnx(path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    inits = [numpy_helper.from_array(a, n) for n, a in _tensors().items()]
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    node = helper.make_node("Identity", ["layer.0.weight"], ["y"])
    onnx.save(helper.make_model(helper.make_graph([node], "g", [], [out], inits)), path)


#: One entry per format (the readers of new formats add theirs here).
FORMATS: dict[str, FuzzFormat] = {
    "safetensors": FuzzFormat(".safetensors", _safetensors),
    "pt": FuzzFormat(".pt", _torch),
    "pt-legacy": FuzzFormat(".pt", lambda p: _torch(p, legacy=True)),
    "npy": FuzzFormat(".npy", _npy),
    "npz": FuzzFormat(".npz", _npz),
    "npz-compressed": FuzzFormat(".npz", lambda p: _npz(p, compressed=True)),
    "gguf": FuzzFormat(".gguf", _gguf),
    "onnx": FuzzFormat(".onnx", _onnx),
}

_INTERESTING = [
    b"\xff" * 8,
    b"\x00" * 8,
    (2**63 - 1).to_bytes(8, "little"),
    b"-1",
    b"99999999999999999999",
    b"[",
    b"{",
    b'"',
    b"\x80\x02",
    b"PK\x03\x04",
]
_MUTATION = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 2**20), st.integers(1, 255)),
    st.tuples(st.just("truncate"), st.integers(0, 2**20), st.just(0)),
    st.tuples(st.just("overwrite"), st.integers(0, 2**20), st.integers(0, len(_INTERESTING) - 1)),
    st.tuples(st.just("insert"), st.integers(0, 2**20), st.integers(0, len(_INTERESTING) - 1)),
    st.tuples(st.just("flip-head"), st.integers(0, 300), st.integers(1, 255)),
    st.tuples(st.just("digit-head"), st.integers(0, 600), st.integers(0, 9)),
)
Mutation = tuple[str, int, int]


def mutate(data: bytes, mutations: list[Mutation]) -> bytes:
    """Apply byte-level mutations (positions taken modulo the length)."""
    buf = bytearray(data)
    for kind, pos, arg in mutations:
        if not buf:
            break
        i = pos % len(buf)
        if kind in ("flip", "flip-head"):
            buf[i] ^= arg
        elif kind == "truncate":
            del buf[i:]
        elif kind == "overwrite":
            chunk = _INTERESTING[arg]
            buf[i : i + len(chunk)] = chunk
        elif kind == "insert":
            buf[i:i] = _INTERESTING[arg]
        elif kind == "digit-head":  # rewrite a digit of a JSON header: shapes and offsets
            digits = [j for j, b in enumerate(buf[:4096]) if 48 <= b <= 57]
            if digits:
                buf[digits[pos % len(digits)]] = 48 + arg
    return bytes(buf)


@cache
def seed_bytes(name: str) -> bytes:
    fmt = FORMATS[name]
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"seed{fmt.suffix}"
        fmt.write(path)
        return path.read_bytes()


def run_worker(paths: list[Path], *, timeout: float = 300) -> list[dict[str, str]]:
    """Outcomes of ``paths`` in a memory-limited subprocess; a missing outcome is a failure."""
    proc = subprocess.run(
        [sys.executable, str(WORKER), str(MEMORY_LIMIT), *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    outcomes = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    if len(outcomes) < len(paths):
        dead = paths[len(outcomes)]
        pytest.fail(f"worker died (rc {proc.returncode}) on {dead}:\n{proc.stderr[-3000:]}")
    return outcomes


def assert_report_or_source_error(outcomes: list[dict[str, str]]) -> None:
    crashes = [o for o in outcomes if o["outcome"] == "crash"]
    assert not crashes, "\n\n".join(f"{o['file']}:\n{o['detail']}" for o in crashes)


@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_mutated_files_give_report_or_source_error(data: st.DataObject) -> None:
    """BATCH mutants of every format, and the unmutated files, in one worker process."""
    with tempfile.TemporaryDirectory() as d:
        paths, seeds = [], []
        for name, fmt in FORMATS.items():
            seed = Path(d) / f"{name}-seed{fmt.suffix}"
            seed.write_bytes(seed_bytes(name))
            seeds.append(seed)
            batch = data.draw(
                st.lists(
                    st.lists(_MUTATION, min_size=1, max_size=3), min_size=BATCH, max_size=BATCH
                ),
                label=name,
            )
            for i, mutations in enumerate(batch):
                path = Path(d) / f"{name}-{i:03d}{fmt.suffix}"
                path.write_bytes(mutate(seed_bytes(name), mutations))
                paths.append(path)
        before = [hashlib.sha256(p.read_bytes()).digest() for p in paths]
        outcomes = run_worker(seeds + paths)
        assert [hashlib.sha256(p.read_bytes()).digest() for p in paths] == before
        if os.environ.get("HTSR_FUZZ_KEEP"):  # keep a campaign's failures for regressions/
            keep = Path(os.environ["HTSR_FUZZ_KEEP"])
            keep.mkdir(parents=True, exist_ok=True)
            for o in outcomes:
                if o["outcome"] == "crash":
                    (keep / Path(o["file"]).name).write_bytes(Path(o["file"]).read_bytes())
    # The unmutated files analyse, so the fuzz starts from files that work.
    assert [o["outcome"] for o in outcomes[: len(seeds)]] == ["ok"] * len(seeds), outcomes
    assert_report_or_source_error(outcomes)


REGRESSIONS = sorted((Path(__file__).parent / "regressions").iterdir())
#: Reproducers holding a valid model (the bug was a crash on a valid file); every other one is
#: a broken file that must give a SourceError (some used to be accepted silently).
VALID = ("zero-size", "without-npy-suffix")


@pytest.fixture(scope="module")
def regression_outcomes() -> dict[str, dict[str, str]]:
    """Every reproducer in ``regressions/``, run in one worker."""
    return {Path(o["file"]).name: o for o in run_worker(REGRESSIONS)}


@pytest.mark.parametrize("path", REGRESSIONS, ids=[p.name for p in REGRESSIONS])
def test_regression_file(path: Path, regression_outcomes: dict[str, dict[str, str]]) -> None:
    """A file that once crashed a reader (or was wrongly accepted) now gives a report if it
    is valid, a SourceError if not."""
    outcome = regression_outcomes[path.name]
    expected = "ok" if any(key in path.name for key in VALID) else "source_error"
    assert outcome["outcome"] == expected, outcome
