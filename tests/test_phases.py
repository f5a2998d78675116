"""Tests of htsr.phases: the rules on hand-built spectra, then a small generated zoo."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from htsr.fit.mp import fit_mp, mp_ppf
from htsr.fit.powerlaw import fit_power_law
from htsr.localization import spectrum_and_localization
from htsr.metrics import element_tail_index, norm_metrics
from htsr.phases import (
    ALPHA_MODERATE,
    COLLAPSE_GAP_DECADES,
    DECAY_SPIKE_FRACTION,
    LOCALIZED_Z,
    NO_BULK_SPIKE_FRACTION,
    SEPARATED_REL,
    Phase,
    PhaseResult,
    Universality,
    classify_layer,
    collapse_gap,
    decide,
    gather_evidence,
    localization_threshold,
    outlier_tail_alpha,
    phase_counts,
    universality_class,
)
from htsr.rmt import bbp_threshold, pareto_matrix, spike_location, spike_strength
from htsr.rmt.zoo import KINDS, zoo_specs
from htsr.spectrum import Spectrum, esd

N, M = 1024, 512  # Q = 2
#: MP edge for Q = 2, sigma = 1: (1 + 1/sqrt(2))**2
LP = (1 + 1 / math.sqrt(2)) ** 2


def mp_bulk(n: int = M, q: float = N / M) -> np.ndarray:
    """``n`` MP(q, 1) quantiles at plotting positions (i - 1/2) / n: an ideal random-like ESD."""
    return mp_ppf((np.arange(n) + 0.5) / n, q)


def classify(evals: np.ndarray, n: int = N, m: int = M, dtype: str = "float64") -> PhaseResult:
    s = Spectrum(np.sort(np.asarray(evals, dtype=np.float64)), n, m, stored_dtype=dtype)
    return classify_layer(s, mp=fit_mp(s.evals, n, m), power_law=fit_power_law(s.evals))


def with_top(bulk: np.ndarray, top: np.ndarray) -> np.ndarray:
    """Replace the largest ``len(top)`` eigenvalues of ``bulk`` by ``top``."""
    return np.concatenate([bulk[: bulk.size - top.size], top])


# --- enums and universality -------------------------------------------------------------------


def test_phase_iv() -> None:
    with pytest.raises(
        ValueError, match="'bulk-decay' is not a valid Phase; valid values: random_"
    ):
        Phase("bulk-decay")
    with pytest.raises(ValueError, match="valid values: very_heavy_tailed"):
        Universality("heavy")
    assert Phase("heavy_tailed") is Phase.HEAVY_TAILED
    assert [p.value for p in Phase] == list(KINDS)  # the zoo's kinds are the phases, in order


@pytest.mark.parametrize(
    ("alpha", "mu", "expected"),
    [
        # JMLR 2021 Table 1: mu < 2 very, 2 <= mu < 4 moderately, mu >= 4 weakly heavy-tailed
        (1.5, 1.0, "very_heavy_tailed"),
        (3.0, 2.0, "moderately_heavy_tailed"),
        (5.0, 3.9, "moderately_heavy_tailed"),  # mu decides between alpha 2 and 6
        (5.0, 4.0, "weakly_heavy_tailed"),
        (3.0, 4.5, "moderately_heavy_tailed"),  # alpha 2-4 is moderately whatever mu says
        # the class never contradicts alpha: above 6 weakly, below 2 very, whatever mu says
        (9.0, 3.9, "weakly_heavy_tailed"),
        (8.4, 1.0, "weakly_heavy_tailed"),
        (1.5, 3.0, "very_heavy_tailed"),
        (math.nan, 3.0, "moderately_heavy_tailed"),
        # without mu, alpha: < 2 very, <= ~6 moderately, above weakly
        (1.9, math.nan, "very_heavy_tailed"),
        (6.0, math.nan, "moderately_heavy_tailed"),
        (6.1, math.nan, "weakly_heavy_tailed"),
        (math.nan, math.nan, "none"),
    ],
)
def test_universality_class(alpha: float, mu: float, expected: str) -> None:
    assert universality_class(alpha, mu) == Universality(expected)


def test_phase_counts_lists_every_phase() -> None:
    counts = phase_counts(["heavy_tailed", "heavy_tailed", Phase.RANK_COLLAPSE, None, math.nan])
    assert list(counts) == [p.value for p in Phase]
    assert (
        counts["heavy_tailed"] == 2 and counts["rank_collapse"] == 1 and sum(counts.values()) == 3
    )


# --- rules on hand-built spectra --------------------------------------------------------------


def test_random_like_ideal_mp() -> None:
    r = classify(mp_bulk())
    assert r.phase is Phase.RANDOM_LIKE and r.num_spikes == 0
    assert r.universality is Universality.NONE and math.isnan(r.mu)
    assert "no eigenvalue beyond the TW-widened MP edge" in r.reason
    assert r.as_row()["phase"] == "random_like"


def test_bleeding_out() -> None:
    # 5 eigenvalues (1%) between 1.05 and 1.15 lambda_plus: past the TW margin (3.5 tw = 0.03 LP
    # at M = 512, Q = 2) but inside SEPARATED_REL
    r = classify(with_top(mp_bulk(), LP * np.linspace(1.05, 1.15, 5)))
    assert r.phase is Phase.BLEEDING_OUT, r.reason
    assert r.num_spikes == 5 and r.num_far == 0


def test_one_far_fluctuation_does_not_make_spikes() -> None:
    # 9 bleeding eigenvalues and one at 1.3 lambda_plus: most of the leaked mass is at the edge
    top = LP * np.r_[np.linspace(1.05, 1.15, 9), 1.3]
    assert classify(with_top(mp_bulk(), top)).phase is Phase.BLEEDING_OUT


def test_bulk_spikes() -> None:
    r = classify(with_top(mp_bulk(), LP * np.array([2.0, 3.0, 8.0])))
    assert r.phase is Phase.BULK_SPIKES, r.reason
    assert r.lowest_spike_ratio >= 1 + SEPARATED_REL and "well separated" in r.reason


def test_many_separated_spikes_stay_bulk_spikes() -> None:
    # 6% of the ESD, all far from the edge: a scale still separates signal from noise
    r = classify(with_top(mp_bulk(), LP * np.geomspace(2.0, 20.0, 30)))
    assert r.spike_fraction >= DECAY_SPIKE_FRACTION and r.phase is Phase.BULK_SPIKES


def _tail(n: int, alpha: float, start: float) -> np.ndarray:
    """``n`` quantiles of a power law with density exponent ``alpha`` above ``start``."""
    u = (np.arange(n) + 0.5) / n
    return start * (1 - u) ** (-1 / (alpha - 1))


def test_bulk_decay_weak_tail() -> None:
    # 6% of the ESD in a continuous tail from 1.05 lambda_plus with alpha 6: weakly heavy-tailed
    r = classify(with_top(mp_bulk(), _tail(30, 6.0, 1.05 * LP)))
    assert r.phase is Phase.BULK_DECAY, r.reason
    assert r.tail_alpha >= 4 and r.universality is not Universality.NONE


def test_heavy_tail_over_a_bulk() -> None:
    # the same 6% with alpha 2.5: a heavy tail (alpha < 4)
    r = classify(with_top(mp_bulk(), _tail(30, 2.5, 1.05 * LP)))
    assert r.phase is Phase.HEAVY_TAILED, r.reason
    assert r.tail_alpha < 4 and "tail alpha" in r.reason


def test_heavy_tailed_no_bulk() -> None:
    # Pareto mu = 1: more than NO_BULK_SPIKE_FRACTION beyond any MP edge, very heavy-tailed
    s = esd(pareto_matrix(N, M, 1.0, rng=0))
    r = classify_layer(s, mp=fit_mp(s.evals, N, M), power_law=fit_power_law(s.evals))
    assert r.phase is Phase.HEAVY_TAILED and r.spike_fraction >= NO_BULK_SPIKE_FRACTION
    assert r.universality is Universality.VERY_HEAVY_TAILED
    # mu from the project's calibration at 1024 x 512: alpha ~ 1 + mu/2 gives mu near 1
    assert 0.5 < r.mu < 1.6, r.mu


def _strength_tail(n: int, alpha: float, theta0: float, q: float = N / M) -> np.ndarray:
    """Outliers of ``n`` rank-one perturbations whose strengths are the quantiles of a power law
    of density exponent ``alpha`` above ``theta0`` (single large entries: alpha = 1 + mu/2)."""
    u = (np.arange(n) + 0.5) / n
    return np.array([spike_location(t, q) for t in theta0 * (1 - u) ** (-1 / (alpha - 1))])


def test_outlier_tail_alpha_reads_the_strengths_not_the_eigenvalues() -> None:
    # strengths from just above the BBP threshold with alpha 2.5 (Pareto entries, mu = 3): the
    # map lambda(theta) is flat there, so the eigenvalues pile up at the edge and their own
    # power law is steep; the strengths' MLE gives the entries' tail back
    theta0 = 1.05 * bbp_threshold(N / M)
    out = _strength_tail(400, 2.5, theta0)
    thr = spike_location(theta0, N / M)
    a, se = outlier_tail_alpha(out, threshold=thr * (1 - 1e-12), sigma=1.0, Q=N / M)
    assert a == pytest.approx(2.5, abs=2 * se) and se == pytest.approx((a - 1) / 20)
    raw = 1 + out.size / np.sum(np.log(out / thr))
    assert raw > a + 10 * se, raw
    # too few outliers: no exponent
    assert math.isnan(outlier_tail_alpha(out[:3], threshold=thr, sigma=1.0, Q=N / M)[0])


def test_heavy_entries_with_a_heavy_outlier_tail_are_heavy_tailed() -> None:
    # an MP bulk and 8 outliers (1.6%) of Pareto-entry strengths (alpha 2.5) from the TW-widened
    # edge: heavy-tailed when the entries are, whatever the pipeline's alpha; a few spikes when
    # they are not (Gaussian entries, element mu ~9)
    bulk = mp_bulk()
    fit = fit_mp(bulk, N, M)
    theta_t = float(spike_strength(fit.threshold, N / M, fit.sigma))
    evals = with_top(bulk, fit.sigma**2 * _strength_tail(8, 2.5, 1.02 * theta_t))
    s = Spectrum(np.sort(evals), N, M)
    mp, pl = fit_mp(s.evals, N, M), fit_power_law(s.evals)
    ev = gather_evidence(s, mp=mp, power_law=pl, element_mu=3.0)
    assert ev.num_spikes == 8 and ev.outlier_alpha - ev.outlier_alpha_se < 4, ev
    r = classify_layer(s, mp=mp, power_law=pl, element_mu=3.0)
    assert r.phase is Phase.HEAVY_TAILED and r.outlier_alpha == ev.outlier_alpha
    assert decide(replace(ev, element_mu=9.0)) is not Phase.HEAVY_TAILED
    # the pipeline's alpha above 6 (fitted from inside the bulk edge): the outliers decide ...
    steep = replace(ev, alpha=12.0)
    assert steep.entries_tail and decide(steep) is Phase.HEAVY_TAILED
    # ... and only when their tail is heavy within its error, from enough of them
    assert decide(replace(steep, outlier_alpha=6.0, outlier_alpha_se=1.5)) is not (
        Phase.HEAVY_TAILED
    )
    assert decide(replace(steep, outlier_alpha=math.nan, outlier_alpha_se=math.nan)) is not (
        Phase.HEAVY_TAILED
    )
    assert steep.alpha > ALPHA_MODERATE


def test_heavy_entries_with_localized_top_eigenvectors_are_heavy_tailed() -> None:
    # an MP bulk and 2 outliers just beyond the edge: too few for a tail exponent, bleeding-out
    # by the eigenvalues alone; heavy-tailed when the entries are heavy AND the top eigenvectors
    # are localized (the outliers are single large entries), whatever the pipeline's alpha
    s = Spectrum(np.sort(with_top(mp_bulk(), LP * np.array([1.06, 1.1]))), N, M)
    mp, pl = fit_mp(s.evals, N, M), fit_power_law(s.evals)
    thr = localization_threshold(M)
    assert thr == pytest.approx(1 + LOCALIZED_Z * math.sqrt(8 / (3 * M)))
    ev = replace(
        gather_evidence(s, mp=mp, power_law=pl, element_mu=3.2, localization=40.0), alpha=12.0
    )
    assert ev.num_spikes == 2 and math.isnan(ev.outlier_alpha), ev
    assert ev.entries_localized and decide(ev) is Phase.HEAVY_TAILED
    r = classify_layer(s, mp=mp, power_law=pl, element_mu=3.2, localization=40.0)
    assert r.phase is Phase.HEAVY_TAILED and "localized" in r.reason, r.reason
    assert r.as_row()["localization"] == 40.0
    # not localized (within LOCALIZED_Z standard deviations of a random vector), not measured,
    # or light entries: the eigenvalues decide (bleeding-out)
    for other in (
        replace(ev, localization=0.99 * thr),
        replace(ev, localization=math.nan),
        replace(ev, element_mu=6.0),
        replace(ev, element_mu=math.nan),
    ):
        assert decide(other) is Phase.BLEEDING_OUT, other
    # no outlier: random-like however localized (an MP ESD is all the eigenvalues show)
    s0 = Spectrum(mp_bulk(), N, M)
    r0 = classify_layer(
        s0, mp=fit_mp(s0.evals, N, M), power_law=pl, element_mu=3.2, localization=40.0
    )
    assert r0.phase is Phase.RANDOM_LIKE


def test_rank_collapse_exact_zeros() -> None:
    evals = np.r_[np.zeros(200), mp_bulk(312, N / 312)]
    r = classify(evals)
    assert r.phase is Phase.RANK_COLLAPSE, r.reason
    assert r.collapse_fraction == pytest.approx(200 / 512)
    assert r.collapse_gap >= COLLAPSE_GAP_DECADES and math.isnan(r.mu)


def test_rank_collapse_soft_cluster() -> None:
    # 30% of the directions shrunk 1e6-fold (a cluster 6 decades below, 1 decade wide)
    bulk = mp_bulk()
    evals = np.r_[1e-6 * np.linspace(0.1, 1.0, 154) * bulk[0], bulk[154:]]
    r = classify(evals)
    assert r.phase is Phase.RANK_COLLAPSE and r.collapse_fraction == pytest.approx(154 / 512)


def test_small_cluster_is_not_collapse() -> None:
    # 5% at zero is below COLLAPSE_MIN_FRACTION (10%)
    evals = np.r_[np.zeros(25), mp_bulk(487, N / 487)]
    assert classify(evals).phase is not Phase.RANK_COLLAPSE


@pytest.mark.parametrize("M_", [256, 1024])
def test_very_heavy_tail_is_not_rank_collapse(M_: int) -> None:
    # Pareto mu = 0.5: most eigenvalues below 1e-4 lambda_max (rank_collapse_fraction ~1) and,
    # at M = 1024, most below the float64 Gram round-off floor (rank_loss ~900), yet no rank is
    # lost: the log-spectrum is a continuum, with no cluster at zero
    s = esd(pareto_matrix(M_, M_, 0.5, rng=1))
    gap, _ = collapse_gap(s)
    assert gap < COLLAPSE_GAP_DECADES
    r = classify_layer(s, mp=fit_mp(s.evals, M_, M_), power_law=fit_power_law(s.evals))
    assert r.phase is Phase.HEAVY_TAILED, r.reason


def test_float32_zeros_count_as_collapse() -> None:
    # float32 weights of rank 100: the zero directions carry ~1e-7 s_max of round-off
    rng = np.random.default_rng(0)
    W = (rng.standard_normal((N, 100)) @ rng.standard_normal((100, M))).astype(np.float32)
    s = esd(W)
    r = classify_layer(s, mp=fit_mp(s.evals, N, M), power_law=fit_power_law(s.evals))
    assert r.phase is Phase.RANK_COLLAPSE and r.collapse_fraction == pytest.approx(412 / 512)


def test_resolved_continuum_is_not_collapse_but_a_shrunk_cluster_is() -> None:
    # singular values decaying continuously over 7 decades: in float32 they all sit above the
    # storage round-off (2 eps ||W||_F (N^-1/2 + M^-1/2) ~ 5e-8 s_max here), and the
    # log-spectrum has no gap: not collapse, in float32 or float64
    n, m = 512, 256
    rng = np.random.default_rng(0)
    U, _ = np.linalg.qr(rng.standard_normal((n, m)))
    V, _ = np.linalg.qr(rng.standard_normal((m, m)))
    W = (U * np.logspace(0, -7, m)) @ V.T
    for w in (W.astype(np.float32), W):
        s = esd(w)
        r = classify_layer(s, mp=fit_mp(s.evals, n, m), power_law=fit_power_law(s.evals))
        assert r.phase is not Phase.RANK_COLLAPSE, (w.dtype, r.reason)
        assert norm_metrics(s).rank_collapse_fraction == 0.0
    # 30% of the directions shrunk a million-fold (strong weight decay): collapse in both
    W = (U * np.r_[np.linspace(1, 0.5, 180), np.full(76, 1e-6)]) @ V.T
    for w in (W.astype(np.float32), W):
        s = esd(w)
        r = classify_layer(s, mp=fit_mp(s.evals, n, m), power_law=fit_power_law(s.evals))
        assert r.phase is Phase.RANK_COLLAPSE and r.collapse_fraction == pytest.approx(76 / 256)
        assert norm_metrics(s).rank_collapse_fraction == pytest.approx(76 / 256)


def _issue_pareto(n: int, m: int, mu: float, seed: int) -> np.ndarray:
    """The issue's matrix: ``0.01 sign (pareto(mu) + 1)`` stored in float32."""
    g = np.random.default_rng(seed)
    w = 0.01 * np.sign(g.standard_normal((n, m))) * (g.pareto(mu, (n, m)) + 1)
    return w.astype(np.float32)


@pytest.mark.parametrize("mu", [0.5, 0.8, 1.0])
@pytest.mark.parametrize("shape", [(1024, 512), (300, 300), (1536, 384), (400, 600)])
def test_float32_very_heavy_tail_is_never_rank_collapse(mu: float, shape: tuple[int, int]) -> None:
    # the issue's case (mu = 0.8, 1024 x 512) was rank_collapse with "18% numerically zero"
    s = esd(_issue_pareto(*shape, mu, seed=3))
    r = classify_layer(s, mp=fit_mp(s.evals, s.N, s.M), power_law=fit_power_law(s.evals))
    assert r.phase is Phase.HEAVY_TAILED, r.reason
    m = norm_metrics(s)
    assert m.rank_collapse_fraction == 0.0
    # hard_rank is not always M: when one entry holds nearly all of ||W||_F^2 (stable rank
    # ~1.0001 at mu = 0.5), the storage cut-off, which assumes round-off spread over the matrix,
    # sits above the smallest singular values (docs/phases.md, "Rank"); at mu >= 0.8 the loss
    # is a few percent at most
    if mu >= 0.8:
        assert m.rank_loss <= 0.05 * s.M, m.rank_loss


@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float64"])
def test_exactly_low_rank_is_caught_in_every_dtype(dtype: str) -> None:
    import ml_dtypes

    rng = np.random.default_rng(5)
    W = rng.standard_normal((768, 60)) @ rng.standard_normal((60, 384))
    stored = W.astype(getattr(ml_dtypes, dtype) if dtype == "bfloat16" else dtype)
    s = esd(stored)
    assert s.stored_dtype == dtype
    m = norm_metrics(s)
    assert m.hard_rank == 60 and m.rank_collapse_fraction == pytest.approx(324 / 384)
    r = classify_layer(s, mp=fit_mp(s.evals, s.N, s.M), power_law=fit_power_law(s.evals))
    assert r.phase is Phase.RANK_COLLAPSE, r.reason


def test_unclassifiable_too_few_evals() -> None:
    s = Spectrum(np.array([1.0, 2.0, 3.0]), 6, 3)
    r = classify_layer(s, mp=fit_mp(s.evals, 6, 3), power_law=fit_power_law(s.evals))
    assert r.phase is None and r.reason.startswith("not classified: MP fit too_few_points")
    assert r.as_row()["phase"] is None


def test_never_uses_the_name() -> None:
    # same numbers, same phase: the classifier has no name argument at all
    import inspect

    assert "name" not in inspect.signature(classify_layer).parameters


# --- generated zoo ----------------------------------------------------------------------------

#: Small shapes so the zoo runs in seconds; the full zoo (M up to 2048) is bench/validate_phases.py.
CI_SHAPES = ((128, (1.0, 8.0), 0.5), (256, (1.0, 4.0), 0.3), (512, (1.0, 2.0), 0.2))
#: Pareto exponents whose ESDs are identifiably heavy-tailed at M <= 512. Above ~2.5 a Pareto
#: matrix of this size often expects fewer than 5 entries beyond the MP edge (E[n],
#: docs/phases.md "The limit of visibility": 0-3 outliers, too few for a tail exponent); the
#: full zoo keeps the issue's (0.5, 3.5) and reports it by mu and by E[n].
CI_MU_RANGE = (0.5, 2.5)
#: The issue asks 95% overall and 85% per kind of the full zoo (bench/validate_phases.py, 330
#: matrices; docs/phases.md). This zoo has 12 per kind, half at M = 128 where a bleeding or
#: decaying layer shows only 2-5 outliers, so one matrix moves a kind by 8 points: over seeds 0-7
#: it scored 95.8-98.6% overall (1-3 misses, all but one at M = 128) and seed 42 94.4% (4 misses).
#: Looser here, for binomial noise at n = 12 per kind: 93% overall (at most 5 misses of 72) and
#: 10 of 12 per kind.
MIN_OVERALL, MIN_PER_KIND = 0.93, 10 / 12


@pytest.mark.slow
def test_zoo_accuracy(global_random_seed: int) -> None:
    specs = zoo_specs(12, shapes=CI_SHAPES, mu_range=CI_MU_RANGE, rng=global_random_seed)
    found = []
    for spec in specs:
        W = spec.matrix()
        mu = element_tail_index(W)
        s, loc = spectrum_and_localization(W, element_mu=mu)  # as the worker does
        r = classify_layer(
            s,
            mp=fit_mp(s.evals, s.N, s.M),
            power_law=fit_power_law(s.evals),
            element_mu=mu,
            localization=loc,
        )
        found.append(str(r.phase))
    kinds = np.array([s.kind for s in specs])
    ok = kinds == np.array(found)
    assert ok.mean() >= MIN_OVERALL, list(zip(kinds[~ok], np.array(found)[~ok], strict=True))
    for k in KINDS:
        assert ok[kinds == k].mean() >= MIN_PER_KIND, (k, np.array(found)[kinds == k])


def test_minilm_no_steep_layer_is_heavy_tailed(minilm_dir) -> None:  # type: ignore[no-untyped-def]
    # the issue's hard line on the real all-MiniLM-L6-v2 (the 37 encoder and pooler layers; the
    # word embeddings, alpha ~4.5, cost most and are left out): no layer whose printed alpha is
    # above 6 is heavy_tailed or very/moderately heavy-tailed
    import htsr

    df = htsr.analyze(minilm_dir, layers=r"encoder|pooler").analysed
    assert len(df) == 37
    steep = df[df["alpha"] > ALPHA_MODERATE]
    assert len(steep) >= 3, df[["name", "alpha"]]  # layer.4/5 value, layer.5 key, the pooler
    assert not steep["phase"].eq("heavy_tailed").any(), steep[["name", "phase"]]
    assert steep["universality"].isin(["weakly_heavy_tailed", "none"]).all()
