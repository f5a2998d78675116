"""Layer kinds, orientation and convolution slicing in both layouts."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
import torch

from fixtures import zoo
from htsr.layers import LayerKind, make_layer, resolve_layout
from htsr.sources import Layout, open_model
from htsr.sources.mapping import ref_from_value
from htsr.spectrum import esd

#: Two float64 eigensolvers on the same matrices agree to ~1e-13 relative (round-off).
RTOL = 1e-10


def _by_hand(kernel: np.ndarray) -> np.ndarray:
    """Pooled ESD of a PyTorch (out, in, *k) kernel, slicing every kernel position by hand."""
    ks = kernel.shape[2:]
    evals = []
    for pos in itertools.product(*(range(k) for k in ks)):
        w = kernel[(slice(None), slice(None), *pos)].astype(np.float64)
        s = np.linalg.svd(w, compute_uv=False)
        evals.extend(s**2 / max(w.shape))
    return np.sort(evals)


@pytest.mark.parametrize(
    ("shape", "kind"),
    [
        ((24, 10, 5), LayerKind.CONV1D),
        ((32, 16, 3, 3), LayerKind.CONV2D),
        ((12, 20, 2, 3, 3), LayerKind.CONV3D),
        ((8, 40, 1, 1), LayerKind.CONV2D),
    ],
)
@pytest.mark.parametrize("layout", [Layout.CHANNELS_FIRST, Layout.CHANNELS_LAST])
def test_conv_pooled_esd_equals_hand_slicing(shape, kind, layout) -> None:  # type: ignore[no-untyped-def]
    kernel = np.random.default_rng(0).standard_normal(shape)
    stored = kernel if layout is Layout.CHANNELS_FIRST else np.moveaxis(kernel, (0, 1), (-1, -2))
    ref = ref_from_value("conv.weight", stored, "<test>")
    layer = make_layer(ref, layout=layout)
    assert layer.kind is kind
    assert (max(shape[:2]), min(shape[:2])) == (layer.N, layer.M)
    assert layer.num_slices == int(np.prod(shape[2:]))
    spectrum = esd(layer.slices(stored))
    np.testing.assert_allclose(spectrum.evals, _by_hand(kernel), rtol=RTOL, atol=1e-12)


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        ((64, 32, 3, 3), Layout.CHANNELS_FIRST),
        ((3, 3, 32, 64), Layout.CHANNELS_LAST),
        ((5, 128, 64), Layout.CHANNELS_LAST),
        ((128, 64, 5), Layout.CHANNELS_FIRST),
    ],
)
def test_auto_layout(shape: tuple[int, ...], expected: Layout) -> None:
    assert resolve_layout(shape, "auto") is expected


def test_kinds_from_torch_modules() -> None:
    kinds = {r.name: make_layer(r).kind for r in open_model(zoo.convs()).refs if r.ndim >= 2}
    assert kinds == {
        "0.weight": "conv1d",
        "1.weight": "conv2d",
        "2.weight": "conv3d",
        "3.weight": "dense",
    }


def test_wide_matrix_is_transposed() -> None:
    layer = make_layer(ref_from_value("w", np.ones((10, 300)), "<test>"))
    assert (layer.N, layer.M, layer.Q) == (300, 10, 30.0)


def test_torch_conv_matches_numpy_slicing() -> None:
    conv = torch.nn.Conv2d(6, 9, 3)
    (ref,) = [r for r in open_model(conv).refs if r.ndim == 4]
    kernel = conv.weight.detach().numpy().astype(np.float64)
    spectrum = esd(make_layer(ref).slices(ref.load()))
    np.testing.assert_allclose(spectrum.evals, _by_hand(kernel), rtol=1e-5)  # float32 weights


def test_unknown_layout_is_rejected() -> None:
    with pytest.raises(ValueError, match="valid values: channels_first, channels_last, auto"):
        resolve_layout((3, 3, 4, 4), "nhwc")


# --- fused projections, Conv1D orientation, experts ------------------------------------------

from htsr.layers import PartLabel, expert_group, split_parts  # noqa: E402


@pytest.mark.parametrize(
    ("name", "shape", "module_type", "expected"),
    [
        # GPT-2 Conv1D, stored (in, out) = (768, 2304): thirds of axis 1
        (
            "h.0.attn.c_attn.weight",
            (768, 2304),
            None,
            [(1, 0, 768), (1, 768, 1536), (1, 1536, 2304)],
        ),
        (
            "h.0.attn.c_attn.weight",
            (768, 2304),
            "Conv1D",
            [(1, 0, 768), (1, 768, 1536), (1, 1536, 2304)],
        ),
        # Phi-3-mini qkv_proj, (out, in) = (9216, 3072): thirds of axis 0
        (
            "layers.0.self_attn.qkv_proj.weight",
            (9216, 3072),
            "Linear",
            [(0, 0, 3072), (0, 3072, 6144), (0, 6144, 9216)],
        ),
        # grouped-query attention: hidden 4096, 8 KV heads of 128 -> k, v of 1024 rows each
        (
            "layers.0.attn.Wqkv.weight",
            (6144, 4096),
            None,
            [(0, 0, 4096), (0, 4096, 5120), (0, 5120, 6144)],
        ),
        (
            "encoder.0.self_attn.in_proj_weight",
            (96, 32),
            None,
            [(0, 0, 32), (0, 32, 64), (0, 64, 96)],
        ),
        (
            "blocks.0.attn.qkv.weight",
            (1152, 384),
            None,
            [(0, 0, 384), (0, 384, 768), (0, 768, 1152)],
        ),
        ("layers.0.mlp.gate_up_proj.weight", (16384, 3072), None, [(0, 0, 8192), (0, 8192, 16384)]),
    ],
)
def test_split_parts_rules(name, shape, module_type, expected) -> None:  # type: ignore[no-untyped-def]
    parts, note = split_parts(name, shape, module_type)
    assert note is None
    assert [(p.axis, p.start, p.stop) for p in parts] == expected
    labels = [str(p.label) for p in parts]
    assert labels == (["gate", "up"] if len(parts) == 2 else ["q", "k", "v"])


@pytest.mark.parametrize(
    ("name", "shape", "note"),
    [
        (
            "gpt_neox.layers.0.attention.query_key_value.weight",
            (12288, 4096),
            "interleaved per head",
        ),
        ("layers.0.self_attn.qkv_proj.weight", (65, 64), "layout unknown"),  # 1 row for k and v
        ("layers.0.mlp.gate_up_proj.weight", (101, 32), "odd output size"),
    ],
)
def test_split_parts_whole_with_a_note(name: str, shape: tuple[int, int], note: str) -> None:
    parts, why = split_parts(name, shape)
    assert parts == ()
    assert why is not None and note in why


def test_plain_and_non_2d_tensors_are_not_split() -> None:
    assert split_parts("layers.0.mlp.up_proj.weight", (11008, 4096)) == ((), None)
    assert split_parts("conv.qkv.weight", (96, 32, 3, 3)) == ((), None)
    assert split_parts("h.0.mlp.c_fc.weight", (768, 3072), "Conv1D") == ((), None)


def test_parts_analysed_as_separate_rows(rng: np.random.Generator) -> None:
    import htsr

    # GPT-2 layout, (in, out): q, k and v of very different scales
    q, k, v = (s * rng.standard_normal((48, 48)) for s in (1.0, 3.0, 0.5))
    c_attn = np.concatenate([q, k, v], axis=1)
    report = htsr.analyze({"h.0.attn.c_attn.weight": c_attn, "h.0.mlp.c_fc.weight": q})
    rows = report.layers.set_index("name")
    assert list(rows.index) == [f"h.0.attn.c_attn.weight[{p}]" for p in "qkv"] + [
        "h.0.mlp.c_fc.weight"
    ]
    for label, part in zip("qkv", (q, k, v), strict=True):
        row = rows.loc[f"h.0.attn.c_attn.weight[{label}]"]
        assert (row["N"], row["M"], row["shape"], row["status"]) == (48, 48, "48x48", "ok")
        s_max = np.linalg.svd(part, compute_uv=False)[0]  # lambda_max column is s_max^2
        np.testing.assert_allclose(row["lambda_max"], s_max**2, rtol=1e-9)
    assert set(PartLabel) >= {PartLabel.Q, PartLabel.K, PartLabel.V}


def test_describe_lists_parts_and_notes() -> None:
    import htsr

    frame = htsr.describe(
        {
            "mlp.gate_up_proj.weight": np.zeros((64, 16), np.float32),
            "attn.query_key_value.weight": np.zeros((96, 32), np.float32),
        }
    )
    assert frame["name"].tolist() == [
        "mlp.gate_up_proj.weight[gate]",
        "mlp.gate_up_proj.weight[up]",
        "attn.query_key_value.weight",
    ]
    assert frame["shape"].tolist() == ["32x16", "32x16", "96x32"]
    assert "interleaved per head" in frame["note"].iloc[2]


def test_expert_group() -> None:
    assert expert_group("model.layers.3.block_sparse_moe.experts.12.w2.weight") == (
        "model.layers.3.block_sparse_moe.experts.*.w2.weight"
    )
    assert expert_group("experts.0.fc.weight") == "experts.*.fc.weight"
    assert expert_group("model.layers.3.block_sparse_moe.gate.weight") is None
    assert expert_group("num_experts.0.weight") is None


def test_moe_experts_grouped(rng: np.random.Generator) -> None:
    import htsr

    scales = {0: 1.0, 1: 2.0, 2: 4.0}
    model = {
        f"model.layers.0.moe.experts.{i}.w1.weight": s * rng.standard_normal((80, 40))
        for i, s in scales.items()
    }
    model["model.layers.0.moe.gate.weight"] = rng.standard_normal((40, 12))
    report = htsr.analyze(model)
    assert report.layers["group"].tolist()[:3] == ["model.layers.0.moe.experts.*.w1.weight"] * 3
    assert pd.isna(report.layers["group"].iloc[3])
    groups = report.groups
    assert groups.index.tolist() == ["model.layers.0.moe.experts.*.w1.weight"]
    experts = report.layers.iloc[:3]
    assert groups["num_layers"].iloc[0] == 3
    np.testing.assert_allclose(groups["log_norm"].iloc[0], experts["log_norm"].mean())
    np.testing.assert_allclose(groups["alpha"].iloc[0], experts["alpha"].mean())
