"""Dicts in memory: flat state dicts, nested dicts of any framework, non-array leaves."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import htsr
from htsr.sources import open_model
from htsr.sources.mapping import flatten_mapping


def test_nested_torch_and_numpy_flatten_the_same_way() -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((30, 20)).astype(np.float32)
    nested = {
        "encoder": {"layer.0.weight": torch.from_numpy(a.copy()), "norm": torch.ones(20)},
        "head": {"kernel": a.T.copy()},
        "blocks": [{"w": a[:10].copy()}, {"w": a[10:].copy()}],
    }
    refs = open_model(nested).refs
    assert [r.name for r in refs] == [
        "encoder/layer.0.weight",  # dotted keys kept, levels joined with "/"
        "encoder/norm",
        "head/kernel",
        "blocks/0/w",  # lists count as mappings keyed by position
        "blocks/1/w",
    ]
    np.testing.assert_array_equal(refs[0].load(), a)
    assert refs[0].dtype == "float32" and refs[1].shape == (20,)


def test_non_array_values_get_their_own_row() -> None:
    rng = np.random.default_rng(0)
    model = {"fc": rng.standard_normal((40, 20)), "step": 3, "note": "v1", "cfg": None}
    rows = htsr.analyze(model).layers.set_index("name")
    assert rows.loc["fc", "status"] == "ok"  # the others do not stop it
    assert rows.loc["step", "status"] == "skipped: not an array (int)"
    assert rows.loc["note", "status"] == "skipped: not an array (str)"
    assert rows.loc["cfg", "status"] == "skipped: not an array (NoneType)"
    described = htsr.describe(model).set_index("name")
    assert described.loc["note", "status"] == "skipped: not an array (str)"


def test_input_is_not_modified() -> None:
    w = np.arange(200.0).reshape(20, 10)
    model = {"a": {"w": w}, "n": 1}
    htsr.analyze(model)
    assert list(model) == ["a", "n"] and model["a"]["w"] is w
    np.testing.assert_array_equal(w, np.arange(200.0).reshape(20, 10))


def test_deep_trees_do_not_recurse() -> None:
    tree: dict[str, object] = {"w": np.ones((3, 3))}
    for _ in range(5000):  # deeper than Python's recursion limit
        tree = {"x": tree}
    ((name, leaf),) = list(flatten_mapping(tree))
    assert name == "/".join(["x"] * 5000 + ["w"]) and leaf.shape == (3, 3)


def test_dict_without_arrays_iv() -> None:
    with pytest.raises(TypeError, match=r"a \(nested\) dict of arrays/tensors.*got dict"):
        open_model({"lr": 0.1, "name": "run"})
