"""Tests of htsr.localization: the localization of the top eigenvectors, computed by the worker
only for layers with heavy-tailed entries, persisted in the cache, read by phase rule 4."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import htsr
from htsr.localization import (
    MU_MODERATE,
    TOP_VECTORS,
    entries_heavy,
    inverse_participation_ratio,
    localization_ratio,
    spectrum_and_localization,
)
from htsr.metrics import element_tail_index
from htsr.phases import localization_threshold
from htsr.rmt import gaussian_matrix, spiked_matrix
from htsr.rmt.zoo import ZooSpec
from htsr.spectrum import esd, esd_with_vectors

#: Pareto mu = 2.67, 441 x 128: one outlier beyond the MP edge and the pipeline's alpha ~18 (a
#: zoo draw of seed 0 that the eigenvalues alone called bleeding_out).
ONE_OUTLIER = ZooSpec("heavy_tailed", 441, 128, 2.667134521793371, 1091059554)


def test_random_unit_vectors_average_one_and_a_column_is_m_plus_2_over_3(
    rng: np.random.Generator,
) -> None:
    M = 200
    v = rng.standard_normal((M, 400))
    L = inverse_participation_ratio(v) * (M + 2) / 3
    # mean 1 exactly; standard deviation ~sqrt(8 / (3M)) = 0.115, so the mean of 400 is within
    # 4 standard errors (0.023) of 1
    assert abs(L.mean() - 1) < 4 * math.sqrt(8 / (3 * M)) / math.sqrt(400), L.mean()
    assert 0.6 < L.std() / math.sqrt(8 / (3 * M)) < 1.4
    assert localization_ratio(np.eye(M)[:, :3]) == pytest.approx((M + 2) / 3)
    assert localization_ratio(v) == pytest.approx(L.max())  # scale-free: unnormalized columns


def test_entries_heavy_bound() -> None:
    assert entries_heavy(MU_MODERATE - 1e-9) and not entries_heavy(MU_MODERATE)
    assert not entries_heavy(math.nan)


def test_localized_pareto_vs_delocalized_gaussian_and_spiked() -> None:
    W = ONE_OUTLIER.matrix()
    mu = element_tail_index(W)
    assert mu < MU_MODERATE
    s, L = spectrum_and_localization(W, element_mu=mu)
    # the same eigenvalues as the ESD alone, bit for bit (the same LAPACK reduction and sterf)
    np.testing.assert_array_equal(s.evals, esd(W).evals)
    assert localization_threshold(s.M) < L, L
    # Gaussian and spiked (random planted directions) matrices: delocalized, even when the
    # vectors are forced (element_mu passed as heavy)
    for G in (
        gaussian_matrix(441, 128, rng=1),
        spiked_matrix(441, 128, [5.0, 20.0], rng=2),
    ):
        _, L0 = spectrum_and_localization(G, element_mu=2.0)
        assert localization_threshold(128) > L0, L0
        # light entries: no eigenvectors computed at all
        assert math.isnan(spectrum_and_localization(G, element_mu=element_tail_index(G))[1])


def test_top_vectors_are_eigenvectors_of_x(rng: np.random.Generator) -> None:
    W = rng.standard_normal((150, 60))
    s, v = esd_with_vectors(W, vectors=TOP_VECTORS)
    X = W.T @ W / 150
    assert v.shape == (60, TOP_VECTORS)
    np.testing.assert_allclose(X @ v, v * s.evals[-TOP_VECTORS:], atol=1e-10)
    np.testing.assert_allclose(v.T @ v, np.eye(TOP_VECTORS), atol=1e-10)
    # a wide matrix: the vectors live on its smaller side
    _, v_t = esd_with_vectors(W.T, vectors=2)
    assert v_t.shape == (60, 2)
    np.testing.assert_allclose(np.abs(v_t.T @ v[:, -2:]), np.eye(2), atol=1e-8)
    # float32 solver, fewer columns than vectors asked for, a degenerate spectrum
    s32, v32 = esd_with_vectors(W, vectors=2, solver_dtype="float32")
    np.testing.assert_array_equal(s32.evals, esd(W, solver_dtype="float32").evals)
    np.testing.assert_allclose(np.abs(v32.T @ v[:, -2:]), np.eye(2), atol=1e-3)
    assert esd_with_vectors(W[:, :3], vectors=TOP_VECTORS)[1].shape == (3, 3)
    _, v_d = esd_with_vectors(np.diag([1.0, 1.0, 1.0, 1.0, 2.0, 3.0]), vectors=3)
    np.testing.assert_allclose(v_d.T @ v_d, np.eye(3), atol=1e-12)
    assert localization_ratio(v_d) == pytest.approx(8 / 3)  # coordinate vectors, M = 6
    with pytest.raises(ValueError, match="vectors"):
        esd_with_vectors(W, vectors=0)


def test_pooled_slices_give_the_top_vectors_of_the_pooled_esd(rng: np.random.Generator) -> None:
    stack = rng.standard_normal((3, 80, 40)) * np.array([1.0, 2.0, 1.5])[:, None, None]
    s, v = esd_with_vectors(stack, vectors=4)
    # the 4 largest pooled eigenvalues come from the slice of scale 2: its own top 4 vectors
    X = stack[1].T @ stack[1] / 80
    lam, vecs = np.linalg.eigh(X)
    np.testing.assert_allclose(lam[-4:], s.evals[-4:], rtol=1e-12)
    np.testing.assert_allclose(np.abs(np.sum(v * vecs[:, -4:], axis=0)), 1.0, atol=1e-8)


@pytest.mark.parametrize("gram_on_device", [False, True])
def test_torch_cpu_gives_the_same_localization(
    gram_on_device: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    import htsr.spectrum

    # the CPU device's route (the Gram here, torch's eigh) and a GPU's (the Gram by torch)
    monkeypatch.setattr(htsr.spectrum, "_forms_gram_on_device", lambda device: gram_on_device)
    W = ONE_OUTLIER.matrix()
    s, L = spectrum_and_localization(W, element_mu=2.0)
    s_t, L_t = spectrum_and_localization(W, element_mu=2.0, device="cpu")
    np.testing.assert_allclose(s_t.evals, s.evals, rtol=1e-10, atol=1e-12 * s.lambda_max)
    assert L_t == pytest.approx(L, rel=1e-8)
    stack = np.stack([W[:200], W[200:400]])
    _, v = esd_with_vectors(stack, vectors=3)
    _, v_t = esd_with_vectors(stack, vectors=3, device="cpu")
    np.testing.assert_allclose(np.abs(np.sum(v * v_t, axis=0)), 1.0, atol=1e-8)


def test_analyze_computes_it_only_for_heavy_entries_and_rule_4_reads_it(tmp_path: Path) -> None:
    model = {
        "pareto.weight": ONE_OUTLIER.matrix(),
        "gauss.weight": gaussian_matrix(441, 128, rng=1),
    }
    df = htsr.analyze(model).layers.set_index("name")
    assert math.isnan(df.loc["gauss.weight", "localization"])
    assert df.loc["gauss.weight", "phase"] == "random_like"
    p = df.loc["pareto.weight"]
    assert p["localization"] > localization_threshold(128) and p["alpha"] > 6
    assert p["phase"] == "heavy_tailed" and "localized" in p["phase_reason"]
    assert p["universality"] == "moderately_heavy_tailed"  # Table 1 by element_mu (2.84)
    # the cache keeps it: a resumed run gives the same rows, localization included
    cache = tmp_path / "cache"
    first = htsr.analyze(model, cache=cache).layers
    again = htsr.analyze(model, cache=cache).layers
    pd.testing.assert_frame_equal(again, first, check_exact=True)
    pd.testing.assert_frame_equal(first.set_index("name"), df, check_exact=True)


def test_conv_slices_each_get_their_own(rng: np.random.Generator) -> None:
    # a 3x3 conv with Pareto entries, one slice given a single huge entry
    w = rng.choice([-1.0, 1.0], (64, 48, 3, 3)) * (rng.pareto(2.5, (64, 48, 3, 3)) + 1)
    w[5, 7, 1, 1] = 1e4
    rows = htsr.analyze({"conv.weight": w}, pool=False).layers
    assert len(rows) == 9 and rows["localization"].notna().all()
    center = rows[rows["name"].str.endswith("[4]")]["localization"].iloc[0]
    assert center == pytest.approx((48 + 2) / 3, rel=0.01)  # one column: fully localized
    pooled = htsr.analyze({"conv.weight": w}).layers["localization"].iloc[0]
    assert pooled == pytest.approx(center, rel=1e-9)  # its eigenvalue tops the pooled ESD
