"""Scalar checks shared by the option validators of the package, and its log floor.

Each validator (``_fit_power_law_iv``, ``_fit_mp_iv``, ``_analyze_iv``, ...) words its own
error: these predicates only answer the recurring questions (is it an int, a positive finite
number) the same way everywhere, e.g. ``True`` is never an int and a string is never a number.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

#: Relative floor of eigenvalues on a log scale: values below ``LOG_FLOOR * lambda_max`` are
#: left out of log axes (plots, figure data) or raised to it before ``log10`` (the randomized
#: comparison), where they would otherwise sit at -inf. 1e-12 is 100x above the float64 Gram
#: round-off (~1e-14 lambda_max, docs/engine.md): anything below it is round-off.
LOG_FLOOR = 1e-12


def is_int(value: object) -> bool:
    """Whether ``value`` is a Python or NumPy integer (``bool`` is not).

    >>> is_int(3), is_int(np.int64(3)), is_int(True), is_int(3.0)
    (True, True, False, False)
    """
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def is_positive(value: Any) -> bool:
    """Whether ``float(value)`` is a finite number ``> 0`` (False when it is not a number).

    >>> is_positive(2), is_positive("x"), is_positive(math.inf), is_positive(0.0)
    (True, False, False, False)
    """
    try:
        v = float(value)
    except (TypeError, ValueError):
        return False
    return math.isfinite(v) and v > 0


def is_positive_number(value: object) -> bool:
    """Whether ``value`` is a real number (int or float, not str or bool) that is finite and
    ``> 0``.

    >>> is_positive_number(2), is_positive_number("2"), is_positive_number(np.float32(0.5))
    (True, False, True)
    """
    return bool(
        isinstance(value, (int, float, np.integer, np.floating))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


__all__ = ["LOG_FLOOR", "is_int", "is_positive", "is_positive_number"]
