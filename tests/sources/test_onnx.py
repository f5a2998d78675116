"""ONNX: models built with ``onnx.helper`` and exported by ``torch.onnx.export``, checked
against the tensors ``onnx`` itself reads back."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

import htsr
from fixtures.spectra import assert_same_esd
from htsr.errors import MissingExtraError, SourceError
from htsr.sources import open_model


def _constant(name: str, array: np.ndarray) -> onnx.NodeProto:
    return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(array, name))


def _branch(name: str, array: np.ndarray) -> onnx.GraphProto:
    out = helper.make_tensor_value_info(name, TensorProto.FLOAT, None)
    return helper.make_graph([_constant(name, array)], f"{name}_graph", [], [out])


def _model(rng: np.random.Generator) -> onnx.ModelProto:
    """Weights in every place ONNX keeps them: initializers (Gemm transB=1 and 0, MatMul,
    Conv, Gather), a Constant node, If branches and a Loop body (subgraphs), and a STRING
    tensor that htsr cannot analyse."""
    f32 = np.float32
    inits = {
        "fc.weight": rng.standard_normal((30, 50)).astype(f32),  # Gemm transB=1: (out, in)
        "fc2.weight": rng.standard_normal((30, 20)).astype(f32),  # Gemm transB=0: (in, out)
        "proj": rng.standard_normal((20, 60)).astype(f32),  # MatMul: (in, out)
        "conv.weight": rng.standard_normal((16, 8, 3, 3)).astype(f32),  # (out, in, kh, kw)
        "embed.table": rng.standard_normal((100, 12)).astype(f32),
    }
    loop_body = helper.make_graph(
        [_constant("loop_w", rng.standard_normal((24, 18)).astype(f32))],
        "body",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("c", TensorProto.BOOL, []),
        ],
        [helper.make_tensor_value_info("c", TensorProto.BOOL, [])],
    )
    nodes = [
        helper.make_node("Gemm", ["x", "fc.weight"], ["h"], transB=1),
        helper.make_node("Gemm", ["h", "fc2.weight"], ["h2"], transB=0),
        helper.make_node("MatMul", ["h2", "proj"], ["h3"]),
        helper.make_node("Conv", ["img", "conv.weight"], ["z"]),
        helper.make_node("Gather", ["embed.table", "ids"], ["e"]),
        _constant("const.weight", rng.standard_normal((40, 10)).astype(np.float16)),
        helper.make_node(
            "If",
            ["cond"],
            ["branch"],
            then_branch=_branch("then_w", rng.standard_normal((40, 20)).astype(f32)),
            else_branch=_branch("else_w", rng.standard_normal((20, 35)).astype(f32)),
        ),
        helper.make_node("Loop", ["", "cond"], [], body=loop_body),
    ]
    strings = helper.make_tensor("labels", TensorProto.STRING, [2, 2], [b"a", b"b", b"c", b"d"])
    graph = helper.make_graph(
        nodes,
        "g",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 50]),
            helper.make_tensor_value_info("img", TensorProto.FLOAT, [1, 8, 9, 9]),
            helper.make_tensor_value_info("ids", TensorProto.INT64, [3]),
            helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
        ],
        [helper.make_tensor_value_info("h3", TensorProto.FLOAT, None)],
        initializer=[numpy_helper.from_array(a, n) for n, a in inits.items()] + [strings],
    )
    return helper.make_model(graph)


def _library_tensors(path: Path) -> dict[str, np.ndarray]:
    """Every float tensor as ``onnx`` reads it back (external data loaded by onnx itself)."""
    model = onnx.load(str(path))
    found = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}

    def constants(graph: onnx.GraphProto) -> None:
        for node in graph.node:
            for attr in node.attribute:
                if node.op_type == "Constant":
                    found[node.output[0]] = numpy_helper.to_array(attr.t)
                for sub in [attr.g] if attr.type == onnx.AttributeProto.GRAPH else attr.graphs:
                    constants(sub)

    constants(model.graph)
    return {n: a for n, a in found.items() if a.dtype.kind == "f"}


@pytest.fixture(scope="module")
def model_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    model = _model(np.random.default_rng(0))
    directory = tmp_path_factory.mktemp("onnx")
    onnx.save(model, directory / "model.onnx")
    external = directory / "external"
    external.mkdir()
    onnx.save_model(
        model,
        str(external / "model.onnx"),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="weights.bin",
        size_threshold=0,
    )
    return directory / "model.onnx", external / "model.onnx"


@pytest.mark.parametrize("which", ["embedded", "external"])
def test_every_tensor_matches_the_library(model_files: tuple[Path, Path], which: str) -> None:
    path = model_files[which == "external"]
    expected = _library_tensors(path)
    report = htsr.analyze(path.parent if which == "external" else path)
    rows = report.layers.set_index("name")
    assert set(expected) <= set(rows.index)
    assert {"then_w", "else_w", "loop_w", "const.weight"} <= set(rows.index)  # subgraphs
    for name, array in expected.items():
        assert rows.loc[name, "status"] == "ok", (name, rows.loc[name, "status"])
        assert_same_esd(report, name, array, channels_last=False)
    assert rows.loc["const.weight", "dtype"] == "float16"
    assert rows.loc["labels", "status"] == "skipped: unsupported ONNX data type STRING"


def test_orientation_and_kinds(model_files: tuple[Path, Path]) -> None:
    refs = {r.name: r for r in open_model(model_files[0]).refs}
    assert refs["fc.weight"].shape == (30, 50)  # stored shapes kept: (out, in) for transB=1
    assert refs["fc2.weight"].shape == (30, 20)  # and (in, out) for transB=0
    rows = htsr.describe(model_files[0]).set_index("name")
    assert rows.loc["fc.weight", "kind"] == rows.loc["fc2.weight", "kind"] == "dense"
    assert rows.loc["proj", "kind"] == "dense"
    assert rows.loc["embed.table", "kind"] == "embedding"  # consumed by Gather
    conv = rows.loc["conv.weight"]  # channels first: 9 slices of 16 x 8
    assert (conv["kind"], conv["num_slices"], conv["N"], conv["M"]) == ("conv2d", 9, 16, 8)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the TorchScript exporter, 3x faster
def test_torch_onnx_export(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 16, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(576, 40)
    ).eval()
    path = tmp_path / "net.onnx"
    torch.onnx.export(net, (torch.randn(1, 3, 8, 8),), str(path), dynamo=False)
    report = htsr.analyze(path)
    expected = _library_tensors(path)
    state = {k: v.detach().numpy() for k, v in net.state_dict().items()}
    for name in ("0.weight", "3.weight"):  # names from the graph: torch's parameter names
        np.testing.assert_array_equal(expected[name], state[name])
        assert_same_esd(report, name, expected[name], channels_last=False)
    assert report.layers.set_index("name").loc["0.weight", "kind"] == "conv2d"


def test_external_data_outside_the_model_directory(
    model_files: tuple[Path, Path], tmp_path: Path
) -> None:
    model = onnx.load(str(model_files[1]), load_external_data=False)
    for tensor in model.graph.initializer:
        if tensor.name == "proj":
            for entry in tensor.external_data:
                if entry.key == "location":
                    entry.value = "../weights.bin"
    directory = tmp_path / "model"
    directory.mkdir()
    (tmp_path / "weights.bin").write_bytes((model_files[1].parent / "weights.bin").read_bytes())
    (directory / "weights.bin").write_bytes((model_files[1].parent / "weights.bin").read_bytes())
    onnx.save(model, directory / "model.onnx")
    rows = htsr.analyze(directory / "model.onnx").layers.set_index("name")
    assert rows.loc["proj", "status"] == (
        "skipped: external data location '../weights.bin' is outside the model's directory"
    )
    assert rows.loc["fc.weight", "status"] == "ok"


def test_missing_external_data_iv(model_files: tuple[Path, Path], tmp_path: Path) -> None:
    (tmp_path / "model.onnx").write_bytes(model_files[1].read_bytes())
    with pytest.raises(SourceError, match=r"external data file of model\.onnx .* is missing") as e:
        open_model(tmp_path / "model.onnx")
    assert e.value.path == str(tmp_path / "weights.bin")


@pytest.mark.parametrize(
    ("cut", "match"),
    [
        (lambda b: b[: len(b) // 2], "corrupt or truncated ONNX model"),
        (lambda b: b"\xff" * 64, "corrupt or truncated ONNX model"),
    ],
)
def test_truncated_or_corrupt_file_iv(
    model_files: tuple[Path, Path], tmp_path: Path, cut: object, match: str
) -> None:
    path = tmp_path / "bad.onnx"
    path.write_bytes(cut(model_files[0].read_bytes()))  # type: ignore[operator]
    with pytest.raises(SourceError, match=match) as e:
        open_model(path)
    assert e.value.path == str(path)


def test_missing_extra_iv(model_files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnx", None)  # as if not installed
    with pytest.raises(MissingExtraError, match=r"reading an ONNX model .*htsr\[formats\]"):
        open_model(model_files[0])
