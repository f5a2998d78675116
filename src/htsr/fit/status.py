"""The closed set of outcomes every fit reports in its ``status`` field."""

from __future__ import annotations

from htsr._compat import StrEnum


class FitStatus(StrEnum):
    """Outcome of a fit. Anything but ``OK`` comes with NaN numbers and a ``message``.

    - ``ok``: the fit was made; its numbers are meaningful.
    - ``too_few_points``: fewer data points than the fit needs (the message says how many).
    - ``invalid_input``: empty, NaN/Inf, negative values or wrong arguments.
    - ``degenerate``: the data cannot be fitted (all values equal, all zero, ...).
    - ``failed``: the optimiser or the algorithm did not converge (the message says why).
    """

    OK = "ok"
    TOO_FEW_POINTS = "too_few_points"
    INVALID_INPUT = "invalid_input"
    DEGENERATE = "degenerate"
    FAILED = "failed"


__all__ = ["FitStatus"]
