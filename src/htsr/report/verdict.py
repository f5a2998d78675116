"""Plain-language reading of a report: a warning per layer and a verdict for the model.

The alpha thresholds are WeightWatcher's (``weightwatcher.py``, ``OVER_TRAINED_THRESH = 2``,
``UNDER_TRAINED_THRESH = 6``; docs/weightwatcher.md): alpha below 2 is a very heavy tail, seen
in layers over-fitted or trained with too large a learning rate; alpha above 6 is a tail so light
that the layer is close to random (JMLR 2021, Section 5; docs/definitions.md). The phase adds
what alpha alone cannot say: rank collapse and random-like layers.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from htsr._compat import StrEnum
from htsr.phases import Phase

#: alpha below this: ``over-trained`` (WeightWatcher's threshold).
OVER_TRAINED_ALPHA = 2.0
#: alpha above this: ``under-trained`` (WeightWatcher's threshold).
UNDER_TRAINED_ALPHA = 6.0
#: Most layers named in the verdict per warning (the rest are counted).
VERDICT_NAMES = 3


class LayerWarning(StrEnum):
    """The values of the ``warning`` column (several are joined by ``", "``)."""

    OVER_TRAINED = "over-trained"
    UNDER_TRAINED = "under-trained"
    RANK_COLLAPSED = "rank-collapsed"
    RANDOM_LIKE = "random-like"


def layer_warning(alpha: float, phase: object) -> str:
    """The ``warning`` cell of one analysed layer: '' when fine.

    Examples
    --------
    >>> layer_warning(1.7, "heavy_tailed")
    'over-trained'
    >>> layer_warning(7.0, "random_like")
    'under-trained, random-like'
    >>> layer_warning(3.0, "heavy_tailed")
    ''
    """
    found: list[str] = []
    if isinstance(alpha, (int, float)) and math.isfinite(alpha):
        if alpha < OVER_TRAINED_ALPHA:
            found.append(LayerWarning.OVER_TRAINED)
        elif alpha > UNDER_TRAINED_ALPHA:
            found.append(LayerWarning.UNDER_TRAINED)
    if phase == Phase.RANK_COLLAPSE:
        found.append(LayerWarning.RANK_COLLAPSED)
    elif phase == Phase.RANDOM_LIKE:
        found.append(LayerWarning.RANDOM_LIKE)
    return ", ".join(str(w) for w in found)


def warnings_column(layers: pd.DataFrame) -> pd.Series:
    """``warning`` for every row: computed for analysed rows, '' for the others."""
    if layers.empty or "status" not in layers.columns:
        return pd.Series([""] * len(layers), index=layers.index, dtype=object)
    alpha = layers["alpha"] if "alpha" in layers.columns else pd.Series(math.nan, layers.index)
    phase = layers["phase"] if "phase" in layers.columns else pd.Series(None, layers.index)
    ok = layers["status"].astype(str) == "ok"
    values = [
        layer_warning(float(a) if pd.notna(a) else math.nan, p) if is_ok else ""
        for a, p, is_ok in zip(alpha, phase, ok, strict=True)
    ]
    return pd.Series(values, index=layers.index, dtype=object)


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:VERDICT_NAMES])
    more = len(names) - VERDICT_NAMES
    return shown + (f" and {more} more" if more > 0 else "")


def verdict(layers: pd.DataFrame) -> str:
    """One or two sentences: the model's state and the layers to look at.

    For example "Mostly well trained: 34 of 39 analysed layers have alpha 2-6. Look at 4
    under-trained (a, b, c and 1 more); 1 over-trained (d)." At most :data:`VERDICT_NAMES`
    names per warning.
    """
    if layers.empty or "status" not in layers.columns:
        return "No layer was analysed."
    ok = layers[np.array([str(s) == "ok" for s in layers["status"]], dtype=bool)]
    n = len(ok)
    if n == 0:
        return "No layer was analysed (see the status column)."
    column = ok["warning"] if "warning" in ok.columns else warnings_column(ok)
    warning = ["" if _is_missing(v) else str(v) for v in column]
    fine = sum(w == "" for w in warning)
    state = (
        "Well trained"
        if fine == n
        else ("Mostly well trained" if fine >= 0.75 * n else "Needs a look")
    )
    if "alpha" in ok.columns:
        alpha = pd.to_numeric(ok["alpha"], errors="coerce").to_numpy(np.float64, na_value=np.nan)
        good = int(((alpha >= OVER_TRAINED_ALPHA) & (alpha <= UNDER_TRAINED_ALPHA)).sum())
        first = (
            f"{state}: {good} of {n} analysed layers have alpha "
            f"{OVER_TRAINED_ALPHA:g}-{UNDER_TRAINED_ALPHA:g}."
        )
    else:
        first = f"{state}: {fine} of {n} analysed layers have no warning."
    parts = []
    for w in LayerWarning:
        names = [str(x) for x, cell in zip(ok["name"], warning, strict=True) if w in cell]
        if names:
            parts.append(f"{len(names)} {w} ({_names(names)})")
    if not parts:
        return f"{first} No layer has a warning."
    return f"{first} Look at {'; '.join(parts)}."


def _is_missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def summary_highlights(summary: dict[str, Any]) -> dict[str, Any]:
    """The few summary entries worth showing first: verdict, counts, mean alpha, warnings.

    Counts of values left out of the means stay in the full summary (a details section).
    """
    keys = ["verdict", "num_analysed", "num_skipped", "num_errors", "alpha", "num_warnings"]
    keys += [k for k in summary if k.startswith("num_") and k.endswith("_trained")]
    keys += ["num_traps"]
    return {k: summary[k] for k in keys if k in summary}


__all__ = [
    "OVER_TRAINED_ALPHA",
    "UNDER_TRAINED_ALPHA",
    "LayerWarning",
    "layer_warning",
    "summary_highlights",
    "verdict",
    "warnings_column",
]
