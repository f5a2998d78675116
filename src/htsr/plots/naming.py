"""File names for figures that are safe on every operating system.

Layer names such as ``encoder.layer.0/attn[3]`` contain characters that are separators or
forbidden on some systems (``/``, ``\\``, ``:``, ``*``, ``?``, ``"``, ``<``, ``>``, ``|``, control
characters), and Windows also refuses the device names ``CON``, ``PRN``, ``AUX``, ``NUL``,
``COM1``-``COM9``, ``LPT1``-``LPT9`` (with any extension) and names ending in a dot or a space.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

#: Characters kept as they are; every other run of characters becomes one ``_``.
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
#: Windows device names, refused with any extension and in any case.
_RESERVED = frozenset(
    ["CON", "PRN", "AUX", "NUL"]
    + [f"COM{i}" for i in range(1, 10)]
    + [f"LPT{i}" for i in range(1, 10)]
)
#: Longest stem written (file systems allow 255 bytes; leave room for a suffix and a hash).
MAX_STEM = 120


def _digest(name: str) -> str:
    return hashlib.sha1(name.encode("utf-8")).hexdigest()[:8]


def safe_filename(name: str, *, suffix: str = "") -> str:
    """A file name made from ``name`` that is valid on Linux, macOS and Windows.

    Letters, digits, ``.``, ``_`` and ``-`` are kept; every other run of characters becomes
    ``_``. Leading and trailing dots, spaces and underscores are stripped, Windows device names
    get a trailing ``_``, and a stem longer than :data:`MAX_STEM` is cut and ends in a short hash
    of the full name (so two long names stay distinct).

    Parameters
    ----------
    name : str
        Any string, typically a layer name.
    suffix : str, default ""
        Appended as is (for example ``".png"``).

    Returns
    -------
    str

    Examples
    --------
    >>> safe_filename("encoder/layer.0:attn[3]", suffix=".png")
    'encoder_layer.0_attn_3.png'
    >>> safe_filename("con")
    'con_'
    """
    stem = _UNSAFE.sub("_", name).strip("._ ")
    if not stem:
        stem = f"layer_{_digest(name)}"
    if stem.split(".")[0].upper() in _RESERVED:
        stem = stem.split(".")[0] + "_" + stem[len(stem.split(".")[0]) :]
    if len(stem) > MAX_STEM:
        stem = f"{stem[: MAX_STEM - 9].rstrip('._ ')}_{_digest(name)}"
    return stem + suffix


def unique_filenames(names: Iterable[str], *, suffix: str = "") -> dict[str, str]:
    """:func:`safe_filename` for each name, made distinct also on case-insensitive systems.

    Two names that map to the same file name (``a/b`` and ``a_b``, or ``A`` and ``a`` on
    macOS and Windows) get a short hash of the original name appended.

    Returns
    -------
    dict
        Original name -> file name, in the order given.

    Examples
    --------
    >>> files = unique_filenames(["a/b", "a_b"], suffix=".png")
    >>> files["a/b"] != files["a_b"]
    True
    """
    names = list(dict.fromkeys(names))
    first = {name: safe_filename(name) for name in names}
    seen: dict[str, int] = {}
    for stem in first.values():
        seen[stem.lower()] = seen.get(stem.lower(), 0) + 1
    out = {}
    for name, stem in first.items():
        if seen[stem.lower()] > 1:
            stem = f"{stem[: MAX_STEM - 9]}_{_digest(name)}"
        out[name] = stem + suffix
    return out


__all__ = ["MAX_STEM", "safe_filename", "unique_filenames"]
