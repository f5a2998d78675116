"""Whole-model analysis: every format, row per tensor, order, options, bad layers."""

from __future__ import annotations

import copy
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.numpy import save_file

import htsr
from fixtures import zoo
from htsr.errors import HtsrError, LayerError, LayerErrorsWarning, SourceError

#: Columns issue 2 requires in every report.
REQUIRED = [
    "name",
    "kind",
    "N",
    "M",
    "Q",
    "num_evals",
    "lambda_max",
    "log_norm",
    "log_spectral_norm",
    "stable_rank",
    "hard_rank",
    "rank_loss",
    "rank_collapse_fraction",
    "entropy",
    "status",
]


def test_minilm_directory(minilm_dir: Path) -> None:
    report = htsr.analyze(minilm_dir)
    layers = report.layers
    assert set(REQUIRED) <= set(layers.columns)
    ok = report.analysed
    assert len(ok) == 39  # 36 encoder matrices, word and position embeddings, pooler
    assert (
        layers.loc[layers.name == "embeddings.token_type_embeddings.weight", "status"].item()
        == "skipped: too few eigenvalues (2 < min_evals=10)"
    )
    # model order: layer 2 before layer 10 would matter for deeper models; here 0..5 in order
    encoder = [n for n in ok.name if n.startswith("encoder.layer.")]
    layer_ids = [int(n.split(".")[2]) for n in encoder]
    assert layer_ids == sorted(layer_ids)
    assert (ok.kind[ok.name.str.contains("embeddings")] == "embedding").all()
    assert report.summary["num_analysed"] == 39
    assert report.summary["log_norm"] == pytest.approx(ok.log_norm.mean())
    np.testing.assert_allclose(
        report.esd("pooler.dense.weight")[-1] * 384,
        ok.set_index("name").loc["pooler.dense.weight", "lambda_max"],
    )


def test_every_tensor_gets_a_row() -> None:
    model = zoo.convs()
    report = htsr.analyze(model)
    names = [n for n, _ in model.named_parameters()]
    assert report.layers.name.tolist() == names
    status = report.layers.set_index("name").status
    assert status["0.bias"] == "skipped: 1-D tensor (bias, norm or scalar)"
    assert status["0.weight"] == "ok"
    conv2d = report.layers.set_index("name").loc["1.weight"]
    assert (conv2d.kind, conv2d.N, conv2d.M, conv2d.num_slices, conv2d.num_evals) == (
        "conv2d",
        32,
        16,
        9,
        144,
    )


def test_unpooled_conv_gives_one_row_per_slice() -> None:
    report = htsr.analyze(zoo.convs(), layers=r"^1\.weight$", pool=False)
    ok = report.analysed
    assert ok.name.tolist() == [f"1.weight[{i}]" for i in range(9)]
    assert (ok.num_evals == 16).all()


def test_bad_layers_do_not_stop_the_others() -> None:
    with pytest.warns(LayerErrorsWarning, match=r"1 layer\(s\) failed: error: weights contain NaN"):
        report = htsr.analyze(zoo.nan_layer())
    status = report.layers.set_index("name").status
    assert status["1.weight"] == "error: weights contain NaN or Inf"
    assert status["0.weight"] == "ok" and status["2.weight"] == "ok"
    assert np.isnan(report.layers.set_index("name").loc["1.weight", "alpha"])


def test_zero_and_one_by_n_layers() -> None:
    with pytest.warns(LayerErrorsWarning):
        report = htsr.analyze(zoo.zero_layer())
    assert report.layers.set_index("name").status["0.weight"] == (
        "error: all-zero matrix (every singular value is 0)"
    )
    report = htsr.analyze(zoo.one_by_n(), min_evals=1)
    assert (report.layers.set_index("name").status[["0.weight", "1.weight"]] == "ok").all()
    report = htsr.analyze(zoo.one_by_n())
    assert (
        report.layers.set_index("name")
        .status["0.weight"]
        .startswith("skipped: too few eigenvalues (1 < ")
    )


def test_every_layer_failing_raises() -> None:
    with pytest.raises(HtsrError, match="every analysable layer failed"):
        htsr.analyze({"a": np.full((20, 20), np.nan), "b": np.zeros((30, 20))})


def test_on_error_raise_reraises() -> None:
    with pytest.raises(LayerError, match=r"'1\.weight': weights contain NaN"):
        htsr.analyze(zoo.nan_layer(), on_error="raise")


def test_module_is_not_modified() -> None:
    model = zoo.mlp()
    model.train()
    before = copy.deepcopy(model.state_dict())
    htsr.analyze(model)
    assert model.training
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, before[name]), name


def test_numpy_dict_is_not_modified() -> None:
    rng = np.random.default_rng(0)
    weights = {"a": rng.standard_normal((50, 30)), "b": rng.standard_normal((30, 20))}
    before = {k: v.copy() for k, v in weights.items()}
    htsr.analyze(weights)
    for k in weights:
        np.testing.assert_array_equal(weights[k], before[k])


def test_bf16_weights_use_bf16_eps() -> None:
    report = htsr.analyze(zoo.bf16())
    row = report.layers.set_index("name").loc["0.weight"]
    assert row["dtype"] == "bfloat16" and row.status == "ok" and row.hard_rank == 48


def test_bf16_low_rank_is_detected() -> None:
    torch.manual_seed(0)
    w = (torch.randn(1536, 32) @ torch.randn(32, 384)).to(torch.bfloat16)
    report = htsr.analyze({"full": torch.randn(1536, 384).to(torch.bfloat16), "low": w})
    ranks = report.layers.set_index("name").hard_rank
    assert ranks["full"] == 384 and ranks["low"] == 32


def test_same_numbers_from_every_format(tmp_path: Path) -> None:
    model = zoo.mlp(seed=3)
    state = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    save_file(state, tmp_path / "m.safetensors")
    torch.save(model.state_dict(), tmp_path / "m.pt")
    np.savez(tmp_path / "m.npz", **state)
    frames = [
        htsr.analyze(x).layers.set_index("name").sort_index()
        for x in (model, state, tmp_path / "m.safetensors", tmp_path / "m.pt", tmp_path / "m.npz")
    ]
    for frame in frames[1:]:
        pd.testing.assert_frame_equal(frame, frames[0], check_exact=False, rtol=1e-12)


def test_layer_and_kind_filters() -> None:
    report = htsr.analyze(zoo.convs(), layers="weight", exclude=r"^3\.", kinds=["conv2d"])
    status = report.layers.set_index("name").status
    assert status["1.weight"] == "ok"
    assert status["0.weight"] == "skipped: filtered out by kind (conv1d)"
    assert status["3.weight"] == "skipped: filtered out by name (exclude=)"
    assert status["0.bias"].startswith("skipped: 1-D")


def test_describe_matches_analyze_rows(minilm_dir: Path) -> None:
    frame = htsr.describe(minilm_dir)
    report = htsr.analyze(minilm_dir)
    assert frame.name.tolist() == report.layers.name.tolist()
    assert (frame.status == "ok").sum() == len(report.analysed)


def test_describe_does_not_load_tensor_data(tmp_path: Path) -> None:
    """describe on safetensors reads the header only: corrupting the data changes nothing."""
    save_file({"w": np.ones((40, 30), np.float32)}, tmp_path / "m.safetensors")
    raw = bytearray((tmp_path / "m.safetensors").read_bytes())
    raw[-100:] = b"\xff" * 100  # NaN bytes in the data section
    (tmp_path / "m.safetensors").write_bytes(bytes(raw))
    assert htsr.describe(tmp_path / "m.safetensors").status.tolist() == ["ok"]


def test_empty_model() -> None:
    report = htsr.analyze(zoo.empty())
    assert len(report.layers) == 0 and report.summary["num_analysed"] == 0


def test_deterministic(minilm_dir: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = htsr.analyze(minilm_dir, layers=r"layer\.0\.")
        b = htsr.analyze(minilm_dir, layers=r"layer\.0\.")
    pd.testing.assert_frame_equal(a.layers, b.layers)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"min_evals": 0}, "`min_evals` must be an int >= 1; got 0"),
        ({"min_evals": 2.5}, "`min_evals` must be an int >= 1; got 2.5"),
        ({"solver_dtype": "float16"}, "`solver_dtype` must be one of"),
        ({"on_error": "ignore"}, "`on_error` must be one of"),
        ({"layers": "("}, "`layers` must be a valid regular expression"),
        ({"kinds": ["linear"]}, "'linear' is not a valid LayerKind; valid values: dense"),
        ({"conv_layout": "nchw"}, "'nchw' is not a valid Layout"),
    ],
)
def test_analyze_iv(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        htsr.analyze({"w": np.ones((20, 20))}, **kwargs)


def test_missing_path_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file or directory"):
        htsr.analyze(tmp_path / "nope.safetensors")


def test_fit_columns_agree_with_their_definitions() -> None:
    rng = np.random.default_rng(11)
    w = rng.standard_normal((400, 200)) * rng.pareto(2.5, (400, 200))
    report = htsr.analyze({"w": w})
    row = report.layers.iloc[0]
    assert row.pl_status == "ok" and row.mp_status == "ok"
    s2 = np.linalg.svd(w, compute_uv=False) ** 2
    # Nature Communications 2021, eqs. (5) and (6)
    assert row.alpha_weighted == pytest.approx(row.alpha * np.log10(s2.max()), rel=1e-12)
    assert row.log_alpha_norm == pytest.approx(np.log10(np.sum(s2**row.alpha)), rel=1e-9)
    assert row.num_pl_spikes == np.sum(report.esd("w") >= row.xmin)
    assert row.mp_softrank == pytest.approx(row.lambda_plus / report.esd("w")[-1])
    assert report.summary["alpha"] == pytest.approx(row.alpha)
    assert report.summary["num_alpha_left_out"] == 0


def test_failed_fits_are_left_out_of_the_summary() -> None:
    rng = np.random.default_rng(2)
    # An orthogonal matrix has all eigenvalues equal: no power law can be fitted.
    report = htsr.analyze({"big": rng.standard_normal((300, 150)), "flat": np.eye(50)})
    rows = report.layers.set_index("name")
    assert rows.status["flat"] == "ok"
    assert rows.pl_status["flat"] != "ok" and np.isnan(rows.alpha["flat"])
    assert report.summary["num_alpha_left_out"] == 1
    assert report.summary["alpha"] == pytest.approx(rows.alpha["big"])


def test_randomize_is_seeded_and_executor_independent() -> None:
    rng = np.random.default_rng(4)
    weights = {f"l{i}": rng.standard_normal((150, 60)) for i in range(3)}
    cols = ["rand_lambda_max", "rand_log_w1", "num_traps"]
    a = htsr.analyze(weights, randomize=True, rng=7).layers[cols]
    b = htsr.analyze(weights, randomize=True, rng=7).layers[cols]
    c = htsr.analyze(dict(reversed(weights.items())), randomize=True, rng=7).layers[cols]
    d = htsr.analyze(weights, randomize=True, rng=8).layers[cols]
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(a, c.iloc[::-1].reset_index(drop=True))
    assert not a.equals(d)
    # A Gaussian matrix shuffled is still Gaussian: no traps, ESDs close (Wasserstein in decades)
    assert (a.num_traps == 0).all() and (a.rand_log_w1 < 0.05).all()


def test_phase_columns_and_summary_counts() -> None:
    from htsr.rmt import gaussian_matrix, low_rank_matrix, pareto_matrix

    weights = {
        "gaussian": gaussian_matrix(1000, 500, rng=1),
        "pareto": pareto_matrix(1000, 500, 1.0, rng=2),  # mu = 1: very heavy-tailed (JMLR Table 1)
        "low_rank": low_rank_matrix(1000, 500, 50, rng=3).astype(np.float32),
    }
    report = htsr.analyze(weights)
    rows = report.layers.set_index("name")
    assert rows.phase.to_dict() == {
        "gaussian": "random_like",
        "pareto": "heavy_tailed",
        "low_rank": "rank_collapse",
    }
    assert rows.universality["pareto"] == "very_heavy_tailed"
    assert rows.universality["gaussian"] == "none" and np.isnan(rows.mu["gaussian"])
    assert 0.5 < rows.mu["pareto"] < 1.5
    assert all(isinstance(r, str) and r for r in rows.phase_reason)
    s = report.summary
    assert (s["num_random_like"], s["num_heavy_tailed"], s["num_rank_collapse"]) == (1, 1, 1)
    assert s["num_bulk_decay"] == 0


def _zero_size_model(tmp_path: Path, kind: str) -> object:
    rng = np.random.default_rng(0)
    tensors = {
        "a.weight": rng.standard_normal((40, 20)).astype(np.float32),
        "empty_rows.weight": np.zeros((0, 7), np.float32),
        "empty_cols.weight": np.zeros((9, 0), np.float32),
        "empty_conv.weight": np.zeros((0, 3, 3, 3), np.float32),
    }
    if kind == "dict":
        return tensors
    if kind == "state_dict":
        return {k: torch.from_numpy(v) for k, v in tensors.items()}
    if kind == "safetensors":
        save_file(tensors, tmp_path / "m.safetensors")
        return tmp_path / "m.safetensors"
    if kind == "pt":
        torch.save({k: torch.from_numpy(v) for k, v in tensors.items()}, tmp_path / "m.pt")
        return tmp_path / "m.pt"
    np.savez(tmp_path / "m.npz", **tensors)
    return tmp_path / "m.npz"


@pytest.mark.parametrize("kind", ["dict", "state_dict", "safetensors", "pt", "npz"])
def test_zero_size_tensors_are_skipped_rows(tmp_path: Path, kind: str) -> None:
    """A 0 x N or N x 0 tensor is one `skipped:` row in analyze and describe (it used to
    abort the run with ZeroDivisionError)."""
    model = _zero_size_model(tmp_path, kind)
    for frame in (htsr.analyze(model).layers, htsr.describe(model)):
        status = dict(zip(frame["name"], frame["status"], strict=True))
        assert status["a.weight"] == "ok"
        for name in ("empty_rows.weight", "empty_cols.weight", "empty_conv.weight"):
            assert status[name].startswith("skipped: empty tensor"), status
        assert frame.loc[frame["name"] == "empty_rows.weight", "Q"].isna().all()


def test_zero_size_npy(tmp_path: Path) -> None:
    np.save(tmp_path / "w.npy", np.zeros((0, 5), np.float32))
    (row,) = htsr.describe(tmp_path / "w.npy")["status"]
    assert row.startswith("skipped: empty tensor")
