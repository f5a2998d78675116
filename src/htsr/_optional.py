"""Import optional dependencies with an error that names the extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType

from htsr.errors import MissingExtraError


def import_optional(module: str, *, extra: str, caller: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtraError` naming ``caller`` and ``extra``.

    Examples
    --------
    >>> np = import_optional("numpy", extra="core", caller="doctest")
    """
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise MissingExtraError(
            f"{caller} needs the optional dependency {module!r}; "
            f"install it with: pip install 'htsr[{extra}]'"
        ) from e


__all__ = ["import_optional"]
