"""save_figures writes one PNG per layer with safe names, plus the model figure."""

from __future__ import annotations

import numpy as np
import pytest

import htsr
from htsr.plots import save_figures
from htsr.rmt import gaussian_matrix


def test_save_figures(tmp_path) -> None:  # type: ignore[no-untyped-def]
    report = htsr.analyze(
        {
            "enc/0:q": gaussian_matrix(120, 40, rng=0),
            "enc_0_q": gaussian_matrix(90, 30, rng=1),
            "b": np.ones(4),
        }
    )
    written = save_figures(report, tmp_path / "plots", dpi=40)
    assert set(written) == {"model", "enc/0:q", "enc_0_q"}
    assert written["model"].name == "model.png"
    files = [p for k, p in written.items() if k != "model"]
    assert len({p.name.lower() for p in files}) == 2  # distinct, also case-insensitively
    for path in written.values():
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert path.parent in (tmp_path / "plots", tmp_path / "plots" / "layers")


def test_save_figures_iv(tmp_path) -> None:  # type: ignore[no-untyped-def]
    report = htsr.analyze({"a": gaussian_matrix(60, 20, rng=0)})
    with pytest.raises(
        ValueError, match=r"`fmt` must be one of \('png', 'svg', 'pdf'\); got 'gif'"
    ):
        save_figures(report, tmp_path, fmt="gif")
