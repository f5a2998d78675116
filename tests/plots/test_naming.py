"""Figure file names are valid on Linux, macOS and Windows, and distinct."""

from __future__ import annotations

import re

import pytest

from htsr.plots.naming import MAX_STEM, safe_filename, unique_filenames

#: What Windows allows in a name (the strictest of the three), minus spaces, which we drop too.
SAFE = re.compile(r"^[A-Za-z0-9._-]+$")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "encoder.layer.0.attention.self.query.weight",
            "encoder.layer.0.attention.self.query.weight",
        ),
        ("features/0:conv[3]", "features_0_conv_3"),
        ('a<b>c"d|e?f*g\\h', "a_b_c_d_e_f_g_h"),
        ("../../etc/passwd", "etc_passwd"),
        ("name. ", "name"),
        ("CON", "CON_"),
        ("nul.weight", "nul_.weight"),
        ("com1", "com1_"),
        ("conv.weight", "conv.weight"),  # "conv" is not a device name
        ("поле", None),  # non-ASCII only: a hash-based name
        ("", None),
    ],
)
def test_safe_filename(name: str, expected: str | None) -> None:
    got = safe_filename(name, suffix=".png")
    assert SAFE.match(got), got
    assert not got.startswith(".")
    if expected is not None:
        assert got == expected + ".png"
    else:
        assert got.startswith("layer_")


def test_long_names_are_cut_and_stay_distinct() -> None:
    a, b = "x" * 300 + "a", "x" * 300 + "b"
    fa, fb = safe_filename(a, suffix=".png"), safe_filename(b, suffix=".png")
    assert len(fa) <= MAX_STEM + 4 and len(fb) <= MAX_STEM + 4
    assert fa != fb


def test_unique_filenames_on_case_insensitive_systems() -> None:
    names = ["a/b", "a_b", "A_B", "c"]
    files = unique_filenames(names, suffix=".png")
    assert list(files) == names
    assert len({f.lower() for f in files.values()}) == len(names)
    assert files["c"] == "c.png"
    assert all(SAFE.match(f) for f in files.values())
