"""Small compatibility shims (Python 3.10 has no ``enum.StrEnum``)."""

from __future__ import annotations

import enum
import sys

if sys.version_info >= (3, 11):
    from enum import StrEnum as _BaseStrEnum
else:  # pragma: no cover - exercised on Python 3.10 only

    class _BaseStrEnum(str, enum.Enum):
        def __str__(self) -> str:
            return str(self.value)


class StrEnum(_BaseStrEnum):
    """A string enum whose error for an unknown value lists the valid names.

    ``Phase("bulk-decay")`` raises ``ValueError: 'bulk-decay' is not a valid Phase;
    valid values: random_like, bleeding_out, ...`` instead of Python's bare message.
    """

    @classmethod
    def _missing_(cls, value: object) -> None:
        valid = ", ".join(member.value for member in cls)
        raise ValueError(f"{value!r} is not a valid {cls.__name__}; valid values: {valid}")


__all__ = ["StrEnum"]
