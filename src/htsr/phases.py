r"""The 5+1 phases of training and the heavy-tailed universality class of a layer.

Martin & Mahoney (JMLR 22(165), 2021, Section 5) order the ESDs of trained layers by increasing
implicit self-regularization: Random-like, Bleeding-out, Bulk+Spikes, Bulk-decay, Heavy-Tailed,
plus Rank-collapse for over-regularized layers; the tail of a heavy-tailed ESD falls into a
universality class of heavy-tailed random matrices (their Table 1). The paper defines the phases
by eye; the rules below make them operational from measured quantities only (never a layer's
name), and every threshold is a named constant here with the reason it sits where it does.

The rules, first match wins (:func:`classify_layer`):

1. **rank_collapse** -- at least :data:`COLLAPSE_MIN_FRACTION` of the eigenvalues are
   numerically zero in the dtype the weights were stored in (:func:`zero_fraction`; float32 and
   coarser, where the eigensolver resolves that precision), or at least that many sit below a
   gap of at least :data:`COLLAPSE_GAP_DECADES` decades, all below
   ``RANK_COLLAPSE_REL * lambda_max``, and spread over at most half as many decades as the gap
   (a cluster at zero, :func:`collapse_gap`); eigenvalues under the hard-rank threshold
   (:func:`htsr.metrics.hard_rank_threshold`, the eps of the stored dtype) count as sitting at
   that threshold. A gap, not ``rank_collapse_fraction`` alone, because a very heavy-tailed ESD
   (Pareto ``mu ~ 0.5``) has most eigenvalues below ``1e-4 lambda_max`` with no rank lost: its
   log-spectrum is a continuum.
2. **heavy_tailed** -- no MP bulk: the MP fit failed, or at least :data:`NO_BULK_SPIKE_FRACTION`
   of the eigenvalues lie beyond the TW-widened edge.
3. **random_like** -- no eigenvalue beyond the TW-widened MP edge ``lambda_plus + c tw``.
4. **bulk_spikes** -- every outlier is well separated from the bulk: the lowest one is at least
   ``(1 + SEPARATED_REL) lambda_plus`` (a scale separates signal from noise).
5. outliers reach the edge and make up at least :data:`DECAY_SPIKE_FRACTION` of the ESD: a tail.
   Its exponent ``tail_alpha`` (power law fitted from the TW-widened edge up) decides:
   **heavy_tailed** if ``tail_alpha < HEAVY_TAIL_ALPHA``, else **bulk_decay**.
6. a few outliers (less than :data:`DECAY_SPIKE_FRACTION`): **bleeding_out** if most of them
   (more than half) are just beyond the edge, below ``(1 + SEPARATED_REL) lambda_plus``, else
   **bulk_spikes**. The phase follows where the leaked eigenmass sits: one outlier that fluctuates
   past the line does not turn twenty bleeding ones into spikes.

The universality class (:func:`universality_class`) and the element tail exponent ``mu``
(:func:`htsr.rmt.mu_from_alpha`, the project's calibration at the layer's shape) are reported for
the phases with a tail (bulk_decay, heavy_tailed); the others have class ``none`` and ``mu`` NaN.
docs/phases.md gives the validation on a zoo of generated matrices and on trained networks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from htsr._compat import StrEnum
from htsr.fit.powerlaw import fit_power_law
from htsr.metrics import RANK_COLLAPSE_REL, hard_rank_threshold
from htsr.spectrum import gram_floor

if TYPE_CHECKING:
    from collections.abc import Iterable

    from htsr.fit.mp import MPFit
    from htsr.fit.powerlaw import PowerLawFit
    from htsr.spectrum import Spectrum


class Phase(StrEnum):
    """Phase of training of a layer (JMLR 2021, Section 5), in order of increasing implicit
    self-regularization, then over-regularization."""

    RANDOM_LIKE = "random_like"
    BLEEDING_OUT = "bleeding_out"
    BULK_SPIKES = "bulk_spikes"
    BULK_DECAY = "bulk_decay"
    HEAVY_TAILED = "heavy_tailed"
    RANK_COLLAPSE = "rank_collapse"


class Universality(StrEnum):
    """Heavy-tailed universality class of the ESD's tail (JMLR 2021, Table 1)."""

    VERY_HEAVY_TAILED = "very_heavy_tailed"
    MODERATELY_HEAVY_TAILED = "moderately_heavy_tailed"
    WEAKLY_HEAVY_TAILED = "weakly_heavy_tailed"
    NONE = "none"


# --- thresholds (the only place they live) ---------------------------------------------------

#: Smallest fraction of the ESD a collapsed cluster must hold. docs/definitions.md calls rank
#: collapse "a large fraction of the ESD at (numerically) zero"; a tenth is large, and it is far
#: above what the hard edge of a square (Q = 1) random matrix puts near zero (its few smallest
#: eigenvalues can sit 1-2 decades below the next, but they are 1/M of the ESD, not 10%).
COLLAPSE_MIN_FRACTION = 0.10
#: Smallest gap, in decades of eigenvalue, that separates a collapsed cluster from the rest (2
#: decades = a factor 10 in singular value). On the 330-matrix zoo (bench/validate_phases.py) the
#: largest qualifying gap was 0.008 decades for every non-collapsed matrix (Pareto down to
#: mu = 0.5 included) and at least 8.9 decades for every exactly low-rank one: 2 sits far from
#: both, and still catches a cluster shrunk 100-fold, which is not yet numerically zero.
COLLAPSE_GAP_DECADES = 2.0
#: How many times wider than the collapsed cluster itself (in decades) the gap above it must be.
#: A very heavy tail has wide gaps between its top eigenvalues (Pareto mu = 0.5: 2 decades at
#: M = 1024; mu = 0.73, M = 512: once in the zoo, 6.2 decades between the two largest) but what
#: lies below them is a continuum spanning ``~(2/mu) log10 M`` decades, not a cluster at zero;
#: exactly low-rank weights put their zeros at the hard-rank threshold (spread 0), and a shrunk
#: cluster 1 decade wide 6 decades down passes easily.
COLLAPSE_GAP_TO_SPREAD = 2.0
#: Spike fraction at or above which there is no MP bulk. The paper's bulk-decay layers carry 5-9%
#: of their eigenvalues beyond the edge and its heavy-tailed ones fail the MP fit (JMLR 2021,
#: Section 5, MiniAlexNet FC1); beyond 10% the fitted MP law describes less than 90% of the ESD.
NO_BULK_SPIKE_FRACTION = 0.10
#: Spike fraction at or above which the outliers form a tail rather than a few spikes: between
#: the paper's bleeding-out (1.3-2%) and bulk+spikes (2.4%) spike masses and its smallest
#: bulk-decay mass (5%).
DECAY_SPIKE_FRACTION = 0.03
#: Relative distance beyond ``lambda_plus`` that separates "just beyond the edge" from "well
#: separated". The paper's bulk+spikes layers have soft rank ~0.75 (``lambda_max ~ 1.33
#: lambda_plus``) and its bleeding-out layers soft rank near 1; a spike 25% above the edge is 5 to
#: 30 TW scales out for M in 128..2048 (``htsr.fit.mp.tw_scale``), far beyond edge fluctuations.
SEPARATED_REL = 0.25
#: Tail exponent below which a tail is heavy rather than decaying: JMLR 2021 puts heavy-tailed
#: layers at alpha 2-4 and bulk-decay at weakly heavy-tailed alpha ~4-6.
HEAVY_TAIL_ALPHA = 4.0
#: Universality-class bounds on mu (JMLR 2021, Table 1): very heavy-tailed ``mu < 2``,
#: moderately ``2 <= mu < 4``, weakly ``mu >= 4``.
MU_VERY, MU_MODERATE = 2.0, 4.0
#: The same bounds on alpha, used when mu is not available (Table 1: ``alpha = 1 + mu/2 < 2``
#: for mu < 2; the moderately heavy-tailed alpha reaches ~6 at finite size).
ALPHA_VERY, ALPHA_MODERATE = 2.0, 6.0
#: Fewest outliers for the tail exponent fit (below this the fit is not attempted).
MIN_TAIL_POINTS = 4


@dataclass(frozen=True, slots=True)
class PhaseResult:
    """Phase and universality class of one layer (:func:`classify_layer`).

    Attributes
    ----------
    phase : Phase or None
        The phase; None when the ESD cannot be classified (``reason`` says why).
    reason : str
        The measured quantities that put the layer in its phase, as a sentence.
    universality : Universality
        Class of the tail (``none`` for phases without a heavy tail).
    mu : float
        Estimated element tail exponent (:func:`htsr.rmt.mu_from_alpha` at the layer's shape);
        NaN for phases without a tail or where alpha is outside the calibrated range.
    num_spikes : int
        Eigenvalues beyond the TW-widened MP edge (``MPFit.num_spikes``; 0 if the fit failed).
    spike_fraction : float
        ``num_spikes / len(evals)``.
    num_far : int
        Outliers at or beyond ``(1 + SEPARATED_REL) lambda_plus``.
    edge_ratio : float
        ``lambda_max / lambda_plus`` (``1 / mp_softrank``).
    lowest_spike_ratio : float
        Lowest outlier over ``lambda_plus`` (NaN without outliers).
    tail_alpha : float
        Power-law exponent of the eigenvalues from the TW-widened edge up (NaN when fewer than
        :data:`MIN_TAIL_POINTS` outliers or not needed).
    collapse_fraction : float
        Fraction of the ESD found collapsed: numerically zero (:func:`zero_fraction`) or below
        the collapse gap (0 when neither reaches :data:`COLLAPSE_MIN_FRACTION`).
    collapse_gap : float
        The largest gap, in decades, with at least :data:`COLLAPSE_MIN_FRACTION` below it.
    """

    phase: Phase | None
    reason: str
    universality: Universality
    mu: float
    num_spikes: int
    spike_fraction: float
    num_far: int
    edge_ratio: float
    lowest_spike_ratio: float
    tail_alpha: float
    collapse_fraction: float
    collapse_gap: float

    def as_row(self) -> dict[str, object]:
        """The table columns: ``phase``, ``phase_reason``, ``universality``, ``mu``."""
        return {
            "phase": None if self.phase is None else str(self.phase),
            "phase_reason": self.reason,
            "universality": str(self.universality),
            "mu": self.mu,
        }


def universality_class(alpha: float, mu: float = math.nan) -> Universality:
    r"""Heavy-tailed universality class from the tail exponents (JMLR 2021, Table 1).

    By ``mu`` when it is finite: very heavy-tailed ``mu < 2``, moderately ``2 <= mu < 4``,
    weakly ``mu >= 4``. Otherwise by ``alpha``: ``alpha < 2`` very, ``alpha <= 6`` moderately,
    above weakly. ``none`` when both are NaN.

    Examples
    --------
    >>> universality_class(1.5, 1.0).value
    'very_heavy_tailed'
    >>> universality_class(3.0).value
    'moderately_heavy_tailed'
    >>> universality_class(math.nan).value
    'none'
    """
    if math.isfinite(mu):
        if mu < MU_VERY:
            return Universality.VERY_HEAVY_TAILED
        if mu < MU_MODERATE:
            return Universality.MODERATELY_HEAVY_TAILED
        return Universality.WEAKLY_HEAVY_TAILED
    if math.isfinite(alpha):
        if alpha < ALPHA_VERY:
            return Universality.VERY_HEAVY_TAILED
        if alpha <= ALPHA_MODERATE:
            return Universality.MODERATELY_HEAVY_TAILED
        return Universality.WEAKLY_HEAVY_TAILED
    return Universality.NONE


def zero_fraction(spectrum: Spectrum) -> float:
    r"""Fraction of eigenvalues that are numerically zero in the dtype the weights were stored in.

    Eigenvalues at or below :func:`htsr.metrics.hard_rank_threshold` (``(max(N, M) eps)^2
    lambda_max`` for float32/float64, the round-off bound for bf16/fp16), counted only when that
    threshold is set by the storage precision, above the solver's round-off floor
    (:func:`htsr.spectrum.gram_floor`). Below the floor the eigensolver cannot tell a zero from a
    small eigenvalue: a float64 Pareto matrix with ``mu = 0.5`` has most of its eigenvalues under
    ``1e-12 lambda_max`` (``rank_loss`` ~900 of 1024) with no rank lost, so for float64 weights
    this returns NaN and only :func:`collapse_gap` can detect collapse. NaN also with a float32
    solver.

    Examples
    --------
    >>> from htsr.spectrum import esd
    >>> W = np.outer(np.arange(1.0, 5.0), np.ones(3)).astype(np.float32)  # rank 1
    >>> round(zero_fraction(esd(W)), 3)
    0.667
    """
    if spectrum.solver_dtype != "float64" or not spectrum.lambda_max > 0:
        return math.nan
    thr = hard_rank_threshold(spectrum)
    if thr <= gram_floor(spectrum.M, spectrum.solver_dtype) * spectrum.lambda_max * (1 + 1e-9):
        return math.nan
    return float(np.mean(spectrum.evals <= thr))


def collapse_gap(spectrum: Spectrum) -> tuple[float, float]:
    r"""Largest gap below which a collapsed cluster sits: ``(gap_decades, fraction_below)``.

    With ``l_i = log10 max(lambda_i, t)`` (ascending, ``t`` the hard-rank threshold of
    :func:`htsr.metrics.hard_rank_threshold`), the gap is

    .. math:: \max_i \; g_i = l_{i+1} - l_i \quad \text{over} \quad
              (i + 1) / n \ge \text{COLLAPSE\_MIN\_FRACTION}, \;
              \lambda_i < \text{RANK\_COLLAPSE\_REL} \, \lambda_{max}, \;
              g_i \ge \text{COLLAPSE\_GAP\_TO\_SPREAD} \, (l_i - l_0)

    and ``fraction_below = (i + 1) / n`` at the maximum. ``(0, 0)`` when no index qualifies.
    The last condition asks the cluster below the gap to be tight compared with its distance
    from the rest (a cluster at zero), see :data:`COLLAPSE_GAP_TO_SPREAD`.

    Examples
    --------
    >>> from htsr.spectrum import esd
    >>> gap, frac = collapse_gap(esd(np.diag([0.0, 0.0, 1.0, 2.0])))
    >>> frac, bool(gap > 10)
    (0.5, True)
    """
    lam = spectrum.evals
    n = lam.size
    if n < 2 or not lam[-1] > 0:
        return 0.0, 0.0
    floor = max(hard_rank_threshold(spectrum), np.finfo(np.float64).tiny)
    logs = np.log10(np.maximum(lam, floor))
    gaps = np.diff(logs)
    idx = np.arange(n - 1)
    ok = (
        ((idx + 1) >= COLLAPSE_MIN_FRACTION * n)
        & (lam[:-1] < RANK_COLLAPSE_REL * lam[-1])
        & (gaps >= COLLAPSE_GAP_TO_SPREAD * (logs[:-1] - logs[0]))
    )
    if not ok.any():
        return 0.0, 0.0
    i = int(idx[ok][np.argmax(gaps[ok])])
    return float(gaps[i]), (i + 1) / n


def _tail_alpha(evals: np.ndarray, xmin: float, n_out: int) -> float:
    """Power-law exponent of the eigenvalues ``>= xmin`` (the MP outliers), NaN if too few."""
    if n_out < MIN_TAIL_POINTS:
        return math.nan
    fit = fit_power_law(evals, xmin=xmin)
    return float(fit.alpha) if fit.ok else math.nan


def _mu(alpha: float, N: int, M: int) -> tuple[float, bool]:
    """``(mu, above)``: calibrated mu, and whether alpha lies above the curve's ``mu = 4`` end."""
    from htsr.rmt.calibration import MU_MAX, alpha_of_mu, mu_from_alpha

    if not math.isfinite(alpha):
        return math.nan, False
    mu = float(mu_from_alpha(alpha, N=N, M=M))
    if math.isfinite(mu):
        return mu, False
    mus, curve = alpha_of_mu(N=N, M=M)
    keep = np.isfinite(curve) & (mus <= MU_MAX + 1e-12)
    return math.nan, bool(keep.any() and alpha > np.max(curve[keep]))


def classify_layer(spectrum: Spectrum, *, mp: MPFit, power_law: PowerLawFit) -> PhaseResult:
    r"""Phase of training and universality class of one layer, from its measured ESD and fits.

    Parameters
    ----------
    spectrum : Spectrum
        The layer's ESD (:func:`htsr.spectrum.esd`); its ``stored_dtype`` sets the zero cut-off.
    mp : MPFit
        :func:`htsr.fit.mp.fit_mp` of ``spectrum.evals`` with ``spectrum.N, spectrum.M``.
    power_law : PowerLawFit
        :func:`htsr.fit.powerlaw.fit_power_law` of ``spectrum.evals`` (default options: the
        calibration of ``mu`` uses the same fit).

    Returns
    -------
    PhaseResult
        ``phase`` None (with the reason) only when the MP fit could not be tried (too few or
        invalid eigenvalues).

    Notes
    -----
    The rules and the reason for every threshold are in the module docstring and next to each
    constant; they use the MP fit (edge, TW scale, spikes, soft rank), the power-law fits, and
    the eigenvalues' gaps, never a layer's name. With ``lambda_+`` the fitted edge, outliers are
    the eigenvalues above ``lambda_+ + c t_W`` (:attr:`MPFit.threshold`), ``far`` the outliers
    at or above ``(1 + SEPARATED_REL) lambda_+``, and ``tail_alpha`` the MLE

    .. math:: \alpha_{tail} = 1 + n_{out} \Big/ \sum_{\lambda_i > \lambda_+ + c t_W}
              \ln(\lambda_i / (\lambda_+ + c t_W))

    (Clauset, Shalizi & Newman 2009, eq. 3.1, ``xmin`` fixed at the TW-widened edge).

    References
    ----------
    .. [1] C. H. Martin and M. W. Mahoney, "Implicit self-regularization in deep neural networks:
       evidence from random matrix theory and implications for learning", JMLR 22(165), 2021,
       Section 5 (the 5+1 phases, Table 4) and Table 1 (universality classes).

    Examples
    --------
    >>> from htsr.fit.mp import fit_mp
    >>> from htsr.rmt import gaussian_matrix
    >>> from htsr.spectrum import esd
    >>> s = esd(gaussian_matrix(1000, 500, rng=0))
    >>> r = classify_layer(s, mp=fit_mp(s.evals, s.N, s.M), power_law=fit_power_law(s.evals))
    >>> r.phase.value, r.universality.value
    ('random_like', 'none')
    """
    evals = spectrum.evals
    n = int(evals.size)
    nan = math.nan
    gap, below = collapse_gap(spectrum)
    zeros = zero_fraction(spectrum)
    if not gap >= COLLAPSE_GAP_DECADES:
        below = 0.0
    if zeros >= COLLAPSE_MIN_FRACTION:
        below = max(below, zeros)
    collapsed = below > 0.0
    alpha = float(power_law.alpha) if power_law.ok else nan
    k, far, sf, ratio, lowest = 0, 0, nan, nan, nan

    def result(
        phase: Phase | None, reason: str, *, tail: bool = False, tail_alpha: float = nan
    ) -> PhaseResult:
        mu, uni = nan, Universality.NONE
        if tail:
            mu, above = _mu(alpha, spectrum.N, spectrum.M)
            uni = Universality.WEAKLY_HEAVY_TAILED if above else universality_class(alpha, mu)
        return PhaseResult(
            phase=phase,
            reason=reason,
            universality=uni,
            mu=mu,
            num_spikes=k,
            spike_fraction=sf,
            num_far=far,
            edge_ratio=ratio,
            lowest_spike_ratio=lowest,
            tail_alpha=tail_alpha,
            collapse_fraction=below,
            collapse_gap=gap,
        )

    if zeros >= COLLAPSE_MIN_FRACTION:
        return result(
            Phase.RANK_COLLAPSE,
            f"{100 * zeros:.0f}% of the eigenvalues are numerically zero in "
            f"{spectrum.stored_dtype} (<= {hard_rank_threshold(spectrum) / spectrum.lambda_max:.2g}"
            f" lambda_max; >= {100 * COLLAPSE_MIN_FRACTION:.0f}% of the ESD)",
        )
    if collapsed:
        return result(
            Phase.RANK_COLLAPSE,
            f"{100 * below:.0f}% of the eigenvalues sit {gap:.1f} decades below the rest "
            f"(>= {COLLAPSE_GAP_DECADES:g} decades, >= {100 * COLLAPSE_MIN_FRACTION:.0f}% "
            "of the ESD)",
        )
    if not mp.ok:
        if str(mp.status) in ("too_few_points", "invalid_input"):
            return result(None, f"not classified: MP fit {mp.status}: {mp.message}")
        return result(
            Phase.HEAVY_TAILED,
            f"no MP bulk could be fitted ({mp.message}); alpha {alpha:.2f}",
            tail=True,
        )

    lp = mp.lambda_plus
    k = int(mp.num_spikes)
    sf = k / n
    out = evals[n - k :]
    far = int(np.count_nonzero(out >= (1.0 + SEPARATED_REL) * lp))
    ratio = float(evals[-1] / lp)
    lowest = float(out[0] / lp) if k else nan
    edge = f"lambda_plus {lp:.4g} + {mp.tw_margin:.2g} tw = {mp.threshold:.4g}"
    if k == 0:
        return result(
            Phase.RANDOM_LIKE,
            f"no eigenvalue beyond the TW-widened MP edge ({edge}); MP KS {mp.ks:.3f}",
        )
    if sf >= NO_BULK_SPIKE_FRACTION:
        return result(
            Phase.HEAVY_TAILED,
            f"{100 * sf:.1f}% of the eigenvalues lie beyond the TW-widened MP edge "
            f"(>= {100 * NO_BULK_SPIKE_FRACTION:.0f}%): no MP bulk; lambda_max = "
            f"{ratio:.3g} lambda_plus; alpha {alpha:.2f}",
            tail=True,
        )
    spikes = f"{k} eigenvalue{'s' if k > 1 else ''} ({100 * sf:.1f}%) beyond the edge ({edge})"
    if lowest >= 1.0 + SEPARATED_REL:
        return result(
            Phase.BULK_SPIKES,
            f"{spikes}, all well separated: the lowest at {lowest:.3g} lambda_plus "
            f"(>= {1 + SEPARATED_REL:g}), lambda_max = {ratio:.3g} lambda_plus",
        )
    if sf >= DECAY_SPIKE_FRACTION:
        t_alpha = _tail_alpha(evals, float(mp.threshold), k)
        tail = (
            f"{spikes} form a tail from {lowest:.3g} to {ratio:.3g} lambda_plus "
            f"(>= {100 * DECAY_SPIKE_FRACTION:.0f}% of the ESD) with tail alpha {t_alpha:.2f}"
        )
        if t_alpha < HEAVY_TAIL_ALPHA:
            return result(
                Phase.HEAVY_TAILED, f"{tail} < {HEAVY_TAIL_ALPHA:g}", tail=True, tail_alpha=t_alpha
            )
        return result(
            Phase.BULK_DECAY,
            f"{tail} (not < {HEAVY_TAIL_ALPHA:g})",
            tail=True,
            tail_alpha=t_alpha,
        )
    if 2 * far < k:
        return result(
            Phase.BLEEDING_OUT,
            f"{spikes}, < {100 * DECAY_SPIKE_FRACTION:.0f}% of the ESD, {k - far} of them just "
            f"beyond it (< {1 + SEPARATED_REL:g} lambda_plus; "
            f"lambda_max = {ratio:.3g} lambda_plus)",
        )
    return result(
        Phase.BULK_SPIKES,
        f"{spikes}, < {100 * DECAY_SPIKE_FRACTION:.0f}% of the ESD, {far} of them well separated "
        f"(>= {1 + SEPARATED_REL:g} lambda_plus; lambda_max = {ratio:.3g} lambda_plus)",
    )


def phase_counts(phases: Iterable[object]) -> dict[str, int]:
    """Count of layers in each phase, every phase listed (0 where none), in phase order.

    ``phases`` is any iterable of phase names or :class:`Phase` (None and NaN are skipped).

    Examples
    --------
    >>> phase_counts(["heavy_tailed", Phase.RANDOM_LIKE, None])["heavy_tailed"]
    1
    """
    counts = {p.value: 0 for p in Phase}
    for p in phases:
        if isinstance(p, str):
            counts[Phase(p).value] += 1
    return counts


__all__ = [
    "ALPHA_MODERATE",
    "ALPHA_VERY",
    "COLLAPSE_GAP_DECADES",
    "COLLAPSE_GAP_TO_SPREAD",
    "COLLAPSE_MIN_FRACTION",
    "DECAY_SPIKE_FRACTION",
    "HEAVY_TAIL_ALPHA",
    "MIN_TAIL_POINTS",
    "MU_MODERATE",
    "MU_VERY",
    "NO_BULK_SPIKE_FRACTION",
    "SEPARATED_REL",
    "Phase",
    "PhaseResult",
    "Universality",
    "classify_layer",
    "collapse_gap",
    "phase_counts",
    "universality_class",
    "zero_fraction",
]
