"""Layer kinds, orientation and convolution slicing in both layouts."""

from __future__ import annotations

import itertools

import numpy as np
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
