r"""The 5+1 phases of training and the heavy-tailed universality class of a layer.

Martin & Mahoney (JMLR 22(165), 2021, Section 5) order the ESDs of trained layers by increasing
implicit self-regularization: Random-like, Bleeding-out, Bulk+Spikes, Bulk-decay, Heavy-Tailed,
plus Rank-collapse for over-regularized layers; the tail of a heavy-tailed ESD falls into a
universality class of heavy-tailed random matrices (their Table 1). The paper defines the phases
by eye; the rules below make them operational from measured quantities only (never a layer's
name), and every threshold is a named constant here with the reason it sits where it does.

The classification runs in three steps: :func:`gather_evidence` measures (a frozen
:class:`PhaseEvidence`), :func:`decide` applies the rules below to the evidence only, and
:func:`explain` words the decision. The rules, first match wins:

1. **rank_collapse** -- at least :data:`COLLAPSE_MIN_FRACTION` of the eigenvalues sit in a
   cluster at (numerically) zero: below a gap of at least :data:`COLLAPSE_GAP_DECADES` decades,
   all below ``RANK_COLLAPSE_REL * lambda_max``, spread over at most half as many decades as the
   gap (:func:`htsr.metrics.collapse_gap`); eigenvalues under the storage round-off cut-off
   (:func:`htsr.metrics.hard_rank_threshold`) count as sitting at it. A gap, never a count of
   small eigenvalues alone, because a very heavy-tailed ESD (Pareto ``mu ~ 0.5``) has most
   eigenvalues below ``1e-4 lambda_max`` -- and, when square, some under the round-off cut-off
   -- with no rank lost: its log-spectrum is a continuum.
2. no MP bulk: the MP fit failed, or at least :data:`NO_BULK_SPIKE_FRACTION` of the
   eigenvalues lie beyond the TW-widened edge. The tail's exponent decides (:func:`_heavy`):
   **heavy_tailed** if ``alpha < HEAVY_TAIL_ALPHA``, or if ``alpha <= ALPHA_MODERATE`` and the
   entries are heavy tailed (``element_mu < MU_MODERATE``); else **bulk_decay** (a steep tail
   without a bulk is weakly heavy tailed, never heavy tailed).
3. **random_like** -- no eigenvalue beyond the TW-widened MP edge ``lambda_plus + c tw``.
4. outliers, and the entries heavy tailed (``element_mu < MU_MODERATE``) with
   ``alpha <= ALPHA_MODERATE``, or with a heavy tail of outliers (``outlier_alpha`` less than
   ``OUTLIER_SE_MARGIN`` standard errors above ``HEAVY_TAIL_ALPHA``, from at least
   :data:`MIN_TAIL_POINTS` outliers), or with localized top eigenvectors (``localization``
   above :func:`localization_threshold`, ``LOCALIZED_Z`` standard deviations of a random
   vector's above 1): **heavy_tailed**. At finite size a moderately heavy-tailed matrix (Pareto
   ``2 < mu < 4``, M 128-2048) keeps an MP-like bulk with a few outliers, one per entry large
   enough to leave the bulk; the pipeline's alpha, fitted from an ``xmin`` inside the bulk
   edge, is then often 6-23 and describes the edge, not those outliers. ``outlier_alpha`` is
   the tail exponent of the outliers' strengths (:func:`outlier_tail_alpha`): ``1 + mu/2`` for
   single large entries. With 1-3 outliers there is no tail to fit, but each such outlier's
   eigenvector is (nearly) one column ``e_j`` of the entry that made it, where a learned or
   planted direction is spread (:mod:`htsr.localization`; JMLR 2021, Section 3).
5. **bulk_spikes** -- every outlier is well separated from the bulk: the lowest one is at least
   ``(1 + SEPARATED_REL) lambda_plus`` (a scale separates signal from noise).
6. outliers reach the edge and make up at least :data:`DECAY_SPIKE_FRACTION` of the ESD: a tail.
   Its exponent ``tail_alpha`` (power law fitted from the TW-widened edge up) decides as in
   rule 2 (with ``tail_alpha`` in place of ``alpha``): **heavy_tailed** or **bulk_decay**.
7. a few outliers (less than :data:`DECAY_SPIKE_FRACTION`): **bleeding_out** if most of them
   (more than half) are just beyond the edge, below ``(1 + SEPARATED_REL) lambda_plus``, else
   **bulk_spikes**. The phase follows where the leaked eigenmass sits: one outlier that fluctuates
   past the line does not turn twenty bleeding ones into spikes.

The universality class (:func:`universality_class`) and the element tail exponent ``mu``
(:func:`htsr.rmt.mu_from_alpha`, the project's calibration at the layer's shape) are reported for
the phases with a tail (bulk_decay, heavy_tailed); the others have class ``none`` and ``mu`` NaN.
The class never contradicts ``alpha``: ``alpha < 2`` very, ``2-4`` moderately, above 6 weakly
heavy tailed whatever ``mu`` says; between 4 and 6 ``mu`` decides (the entries' own exponent
when measured, else the calibrated one); bulk_decay is weakly heavy tailed. One exception, a
layer made heavy-tailed by rule 4's outlier tail or localized eigenvectors: there ``alpha`` is
fitted from inside the bulk edge and is not the tail's exponent, and the class is Table 1's for
``element_mu``.
docs/phases.md gives the validation on a zoo of generated matrices and on trained networks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from htsr._compat import StrEnum
from htsr.fit.powerlaw import fit_power_law
from htsr.localization import MU_MODERATE, TOP_VECTORS
from htsr.metrics import (
    COLLAPSE_GAP_DECADES,
    COLLAPSE_GAP_TO_SPREAD,
    hard_rank_threshold,
)
from htsr.metrics import collapse_gap as _metrics_collapse_gap
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


# --- thresholds (the only place they live; the rank cut-off and the collapse gap are the
# rank criterion of htsr.metrics, re-exported here) ---------------------------------------------

#: Smallest fraction of the ESD a collapsed cluster must hold. docs/definitions.md calls rank
#: collapse "a large fraction of the ESD at (numerically) zero"; a tenth is large, and it is far
#: above what the hard edge of a square (Q = 1) random matrix puts near zero (its few smallest
#: eigenvalues can sit 1-2 decades below the next, but they are 1/M of the ESD, not 10%).
COLLAPSE_MIN_FRACTION = 0.10
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
#: moderately ``2 <= mu < 4``, weakly ``mu >= 4``. Also the bound on the entries' own tail
#: exponent (:func:`htsr.metrics.element_tail_index`) below which they are heavy tailed.
MU_VERY = 2.0  # MU_MODERATE = 4 lives in htsr.localization (the worker reads it too)
#: The same bounds on alpha (Table 1: ``alpha = 1 + mu/2 < 2`` for mu < 2; the moderately
#: heavy-tailed alpha reaches ~6 at finite size, the authors' upper end of bulk-decay). Above
#: ``ALPHA_MODERATE`` a layer is never heavy_tailed and its class at most weakly heavy tailed,
#: whatever mu says.
ALPHA_VERY, ALPHA_MODERATE = 2.0, 6.0
#: Fewest outliers for the tail exponent fit (below this the fit is not attempted).
MIN_TAIL_POINTS = 4
#: Standard errors the outliers' tail exponent may sit above ``HEAVY_TAIL_ALPHA`` and still
#: count as heavy (rule 4): the question is whether the outliers are consistent with a heavy tail,
#: and from 4-20 outliers the MLE's standard error ``(alpha - 1)/sqrt(n)`` is 20-50% of it.
OUTLIER_SE_MARGIN = 1.0
#: Standard deviations of a random unit vector's localization ``L`` (mean 1, standard deviation
#: ``sqrt(8 / (3M))``) the top eigenvectors' ``L`` must exceed to count as localized (rule 4):
#: :func:`localization_threshold`. The null is exact for any matrix whose eigenvectors are
#: uniformly distributed (Gaussian entries, random planted directions); its upper tail is
#: skewed, and over 200,000 random unit vectors at each M in 16..2048 the 1e-5 quantile was
#: 5.1-9.5 standard deviations, the largest 14.3 (docs/phases.md). A vector on one column sits
#: at ``(M + 2)/3``, 30-240 standard deviations up for M 128-2048.
LOCALIZED_Z = 10.0


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
    element_mu : float
        Hill estimate of the entries' tail exponent (NaN when not measured).
    outlier_alpha : float
        Tail exponent of the outliers' strengths (:func:`outlier_tail_alpha`; NaN when fewer
        than :data:`MIN_TAIL_POINTS` outliers or no MP bulk).
    localization : float
        Localization of the top eigenvectors (:func:`htsr.localization.localization_ratio`;
        NaN when not computed).
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
    element_mu: float = math.nan
    outlier_alpha: float = math.nan
    localization: float = math.nan

    def as_row(self) -> dict[str, object]:
        """The table columns: ``phase``, ``phase_reason``, ``universality``, ``mu``,
        ``element_mu``, ``localization``."""
        return {
            "phase": None if self.phase is None else str(self.phase),
            "phase_reason": self.reason,
            "universality": str(self.universality),
            "mu": self.mu,
            "element_mu": self.element_mu,
            "localization": self.localization,
        }


def universality_class(alpha: float, mu: float = math.nan) -> Universality:
    r"""Heavy-tailed universality class from the tail exponents (JMLR 2021, Table 1).

    ``alpha`` sets the class wherever it is unambiguous, so the class never contradicts the
    exponent printed next to it: ``alpha < ALPHA_VERY`` (2) very heavy tailed,
    ``alpha <= HEAVY_TAIL_ALPHA`` (4) moderately, ``alpha > ALPHA_MODERATE`` (6) weakly. Between
    4 and 6, where Table 1's moderately heavy-tailed class (at finite size) and the weakly
    heavy-tailed one overlap, ``mu`` decides when it is finite (``mu < 4`` moderately, else
    weakly); moderately without it. With ``alpha`` NaN, ``mu`` alone (very ``mu < 2``,
    moderately ``2 <= mu < 4``, weakly ``mu >= 4``); ``none`` when both are NaN.

    Examples
    --------
    >>> universality_class(1.5, 1.0).value
    'very_heavy_tailed'
    >>> universality_class(3.0).value
    'moderately_heavy_tailed'
    >>> universality_class(8.4, 3.0).value  # alpha above 6: never moderately
    'weakly_heavy_tailed'
    >>> universality_class(5.0, 4.5).value  # alpha 4-6: mu decides
    'weakly_heavy_tailed'
    >>> universality_class(math.nan).value
    'none'
    """
    if math.isfinite(alpha):
        if alpha < ALPHA_VERY:
            return Universality.VERY_HEAVY_TAILED
        if alpha <= HEAVY_TAIL_ALPHA:
            return Universality.MODERATELY_HEAVY_TAILED
        if alpha > ALPHA_MODERATE or mu >= MU_MODERATE:
            return Universality.WEAKLY_HEAVY_TAILED
        return Universality.MODERATELY_HEAVY_TAILED
    if math.isfinite(mu):
        if mu < MU_VERY:
            return Universality.VERY_HEAVY_TAILED
        if mu < MU_MODERATE:
            return Universality.MODERATELY_HEAVY_TAILED
        return Universality.WEAKLY_HEAVY_TAILED
    return Universality.NONE


def zero_fraction(spectrum: Spectrum) -> float:
    r"""Fraction of eigenvalues that are numerically zero in the dtype the weights were stored in.

    Eigenvalues at or below :func:`htsr.metrics.hard_rank_threshold` (the storage round-off
    cut-off), counted only when that threshold is set by the storage precision, above the
    solver's round-off floor (:func:`htsr.spectrum.gram_floor`); NaN otherwise (float64 weights,
    a float32 solver). Evidence only: rank collapse needs a cluster below a gap
    (:func:`collapse_gap`), because a square very heavy-tailed matrix can have singular values
    under the round-off cut-off while its log-spectrum stays a continuum.

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
    """:func:`htsr.metrics.collapse_gap` with at least :data:`COLLAPSE_MIN_FRACTION` below.

    Examples
    --------
    >>> from htsr.spectrum import esd
    >>> gap, frac = collapse_gap(esd(np.diag([0.0, 0.0, 1.0, 2.0])))
    >>> frac, bool(gap > 10)
    (0.5, True)
    """
    return _metrics_collapse_gap(spectrum, min_fraction=COLLAPSE_MIN_FRACTION)


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


def outlier_tail_alpha(
    outliers: np.ndarray, *, threshold: float, sigma: float, Q: float
) -> tuple[float, float]:
    r"""Tail exponent of the outliers' strengths, and its standard error.

    Each outlier ``lambda_i > t`` (``t`` the TW-widened MP edge) is mapped back to the strength
    ``theta_i`` of the rank-one perturbation that puts it there (:func:`htsr.rmt.spike_strength`,
    the inverse of ``lambda = sigma^2 (1 + theta)(1 + 1/(Q theta))``), and the power law is
    fitted to the strengths from ``theta_t``, the strength that lands at ``t``:

    .. math:: \hat\alpha = 1 + n \Big/ \sum_{i=1}^{n} \ln(\theta_i / \theta_t), \qquad
              \mathrm{se} = (\hat\alpha - 1) / \sqrt{n}

    (Clauset, Shalizi & Newman 2009, eqs. 3.1 and 3.2). A large entry ``W_ij = x`` of a matrix
    with bulk scale ``sigma`` has strength ``x^2 / (N sigma^2)`` (Benaych-Georges & Nadakuditi
    2011), so for entries with tail ``P(|x| > s) ~ s^{-mu}`` the strengths have density exponent
    ``1 + mu/2``. The map matters: near the edge ``lambda`` is quadratic in ``theta``, which
    piles the outliers up just beyond ``t``, and a power law fitted to the eigenvalues themselves
    reads 5-20 for Pareto ``mu ~ 3`` (docs/phases.md). NaN for fewer than
    :data:`MIN_TAIL_POINTS` outliers or an invalid ``sigma``.

    Examples
    --------
    >>> from htsr.rmt import spike_location
    >>> theta = 2.0 * (1.0 - np.random.default_rng(0).random(400)) ** (-1 / 1.5)  # alpha 2.5
    >>> lam = np.array([spike_location(t, 2.0) for t in theta])
    >>> a, se = outlier_tail_alpha(lam, threshold=spike_location(2.0, 2.0), sigma=1.0, Q=2.0)
    >>> round(a, 2), round(se, 2)  # the strengths' own MLE, to round-off
    (2.35, 0.07)
    >>> round(1 + 400 / float(np.sum(np.log(theta / 2.0))), 2)
    2.35
    """
    from htsr.rmt.ensembles import spike_strength

    x = np.asarray(outliers, dtype=np.float64)
    x = x[x > threshold]
    n = int(x.size)
    if n < MIN_TAIL_POINTS or not (math.isfinite(sigma) and sigma > 0):
        return math.nan, math.nan
    theta = spike_strength(x, Q, sigma)
    theta_t = float(spike_strength(threshold, Q, sigma))
    logs = float(np.sum(np.log(theta / theta_t))) if theta_t > 0 else 0.0
    if not logs > 0:
        return math.nan, math.nan
    alpha = 1.0 + n / logs
    return alpha, (alpha - 1.0) / math.sqrt(n)


def localization_threshold(M: int) -> float:
    r"""Localization ``L`` above which the top eigenvectors count as localized (rule 4).

    .. math:: L_* = 1 + Z \sqrt{8 / (3M)}, \qquad Z = \mathrm{LOCALIZED\_Z} = 10

    ``L`` is in units of a uniformly random unit vector's inverse participation ratio
    ``3 / (M + 2)``, whose relative standard deviation is ``sqrt(8 / (3M))`` to first order in
    ``1/M`` (``Var[sum v_i^4]`` for ``v`` uniform on the sphere). Above ``(M + 2)/3``, the
    largest possible ``L``, nothing can be localized: M <= 18.

    Examples
    --------
    >>> round(localization_threshold(128), 2), round(localization_threshold(2048), 2)
    (2.44, 1.36)
    """
    return 1.0 + LOCALIZED_Z * math.sqrt(8.0 / (3.0 * M))


@dataclass(frozen=True, slots=True)
class PhaseEvidence:
    """Everything the phase rules read, measured once (:func:`gather_evidence`).

    Attributes
    ----------
    n : int
        Eigenvalues in the ESD.
    N, M : int
        Shape of the layer (its slices).
    stored_dtype : str
        dtype the weights were stored in.
    collapse_gap : float
        Largest gap, in decades, with at least :data:`COLLAPSE_MIN_FRACTION` below it.
    collapse_fraction : float
        Fraction of the ESD below that gap when it is at least :data:`COLLAPSE_GAP_DECADES`,
        else 0.
    zero_fraction : float
        :func:`zero_fraction` (evidence; NaN where the storage cut-off is not resolved).
    mp_status : str
        Status of the MP fit (``ok`` or the failure).
    mp_message : str
        Message of the MP fit.
    lambda_plus, threshold, tw_margin, mp_ks : float
        MP edge, TW-widened edge, its margin in TW scales, KS distance of the MP fit.
    num_spikes : int
        Eigenvalues beyond the TW-widened MP edge (0 if the fit failed).
    spike_fraction : float
        ``num_spikes / n`` (NaN if the MP fit failed).
    num_far : int
        Outliers at or beyond ``(1 + SEPARATED_REL) lambda_plus``.
    edge_ratio : float
        ``lambda_max / lambda_plus``.
    lowest_spike_ratio : float
        Lowest outlier over ``lambda_plus`` (NaN without outliers).
    alpha : float
        Power-law exponent of the pipeline's fit (NaN if it failed).
    tail_alpha : float
        Power-law exponent of the outliers, ``xmin`` at the TW-widened edge (NaN when fewer
        than :data:`MIN_TAIL_POINTS` or with no MP bulk).
    outlier_alpha, outlier_alpha_se : float
        Tail exponent of the outliers' strengths and its standard error
        (:func:`outlier_tail_alpha`; NaN when fewer than :data:`MIN_TAIL_POINTS` outliers).
    element_mu : float
        Hill estimate of the entries' tail exponent (:func:`htsr.metrics.element_tail_index`);
        NaN when not measured.
    localization : float
        Largest inverse participation ratio of the top :data:`htsr.localization.TOP_VECTORS`
        eigenvectors in units of a random vector's (:func:`htsr.localization.localization_ratio`);
        NaN when not measured.
    """

    n: int
    N: int
    M: int
    stored_dtype: str
    collapse_gap: float
    collapse_fraction: float
    zero_fraction: float
    mp_status: str
    mp_message: str
    lambda_plus: float
    threshold: float
    tw_margin: float
    mp_ks: float
    num_spikes: int
    spike_fraction: float
    num_far: int
    edge_ratio: float
    lowest_spike_ratio: float
    alpha: float
    tail_alpha: float
    outlier_alpha: float
    outlier_alpha_se: float
    element_mu: float
    localization: float = math.nan

    @property
    def mp_ok(self) -> bool:
        """Whether the MP fit succeeded."""
        return self.mp_status == "ok"

    @property
    def no_bulk(self) -> bool:
        """No MP bulk: the MP fit failed, or :data:`NO_BULK_SPIKE_FRACTION` of the ESD is out."""
        return not self.mp_ok or self.spike_fraction >= NO_BULK_SPIKE_FRACTION

    @property
    def heavy_entries(self) -> bool:
        """The entries are heavy tailed: ``element_mu < MU_MODERATE`` (False when NaN)."""
        return self.element_mu < MU_MODERATE

    @property
    def heavy_outliers(self) -> bool:
        """The outliers' tail is consistent with a heavy one: ``outlier_alpha -
        OUTLIER_SE_MARGIN * outlier_alpha_se < HEAVY_TAIL_ALPHA`` (False when NaN)."""
        return self.outlier_alpha - OUTLIER_SE_MARGIN * self.outlier_alpha_se < HEAVY_TAIL_ALPHA

    @property
    def entries_tail(self) -> bool:
        """Rule 4 by the outliers' tail: heavy entries and heavy outliers where the pipeline's
        alpha is above ``ALPHA_MODERATE`` (or NaN)."""
        return self.heavy_entries and not self.alpha <= ALPHA_MODERATE and self.heavy_outliers

    @property
    def localized(self) -> bool:
        """The top eigenvectors are localized: ``localization > localization_threshold(M)``
        (False when NaN)."""
        return self.localization > localization_threshold(self.M)

    @property
    def entries_localized(self) -> bool:
        """Rule 4 by localization alone: heavy entries and localized top eigenvectors where
        neither the pipeline's alpha (above ``ALPHA_MODERATE`` or NaN) nor the outliers' tail
        decided."""
        return (
            self.heavy_entries
            and not self.alpha <= ALPHA_MODERATE
            and not self.heavy_outliers
            and self.localized
        )


def gather_evidence(
    spectrum: Spectrum,
    *,
    mp: MPFit,
    power_law: PowerLawFit,
    element_mu: float = math.nan,
    localization: float = math.nan,
) -> PhaseEvidence:
    """Measure what :func:`decide` needs from a layer's ESD and fits (no decision here).

    Parameters are those of :func:`classify_layer`.
    """
    evals = spectrum.evals
    n = int(evals.size)
    nan = math.nan
    gap, below = collapse_gap(spectrum)
    k, far, sf, ratio, lowest, t_alpha, o_alpha, o_se = 0, 0, nan, nan, nan, nan, nan, nan
    lp, thr, margin, ks = nan, nan, nan, nan
    if mp.ok:
        lp, thr, margin, ks = (
            float(mp.lambda_plus),
            float(mp.threshold),
            float(mp.tw_margin),
            float(mp.ks),
        )
        k = int(mp.num_spikes)
        sf = k / n
        out = evals[n - k :]
        far = int(np.count_nonzero(out >= (1.0 + SEPARATED_REL) * lp))
        ratio = float(evals[-1] / lp)
        lowest = float(out[0] / lp) if k else nan
        if 0 < sf < NO_BULK_SPIKE_FRACTION and sf >= DECAY_SPIKE_FRACTION:
            t_alpha = _tail_alpha(evals, thr, k)
        if 0 < sf < NO_BULK_SPIKE_FRACTION:
            o_alpha, o_se = outlier_tail_alpha(out, threshold=thr, sigma=float(mp.sigma), Q=mp.Q)
    return PhaseEvidence(
        n=n,
        N=spectrum.N,
        M=spectrum.M,
        stored_dtype=spectrum.stored_dtype,
        collapse_gap=gap,
        collapse_fraction=below if gap >= COLLAPSE_GAP_DECADES else 0.0,
        zero_fraction=zero_fraction(spectrum),
        mp_status=str(mp.status),
        mp_message=mp.message,
        lambda_plus=lp,
        threshold=thr,
        tw_margin=margin,
        mp_ks=ks,
        num_spikes=k,
        spike_fraction=sf,
        num_far=far,
        edge_ratio=ratio,
        lowest_spike_ratio=lowest,
        alpha=float(power_law.alpha) if power_law.ok else nan,
        tail_alpha=t_alpha,
        outlier_alpha=o_alpha,
        outlier_alpha_se=o_se,
        element_mu=float(element_mu),
        localization=float(localization),
    )


def _heavy(alpha: float, ev: PhaseEvidence) -> bool:
    """A tail of exponent ``alpha`` is heavy: ``alpha < HEAVY_TAIL_ALPHA``, or
    ``alpha <= ALPHA_MODERATE`` with heavy-tailed entries. NaN alpha: not heavy."""
    return alpha < HEAVY_TAIL_ALPHA or (alpha <= ALPHA_MODERATE and ev.heavy_entries)


def decide(ev: PhaseEvidence) -> Phase | None:
    """The phase from the evidence alone: the rules of the module docstring, in order."""
    if ev.collapse_fraction >= COLLAPSE_MIN_FRACTION:
        return Phase.RANK_COLLAPSE
    if ev.mp_status in ("too_few_points", "invalid_input"):
        return None
    if ev.no_bulk:
        return Phase.HEAVY_TAILED if _heavy(ev.alpha, ev) else Phase.BULK_DECAY
    if ev.num_spikes == 0:
        return Phase.RANDOM_LIKE
    if ev.heavy_entries and (ev.alpha <= ALPHA_MODERATE or ev.heavy_outliers or ev.localized):
        return Phase.HEAVY_TAILED
    if ev.lowest_spike_ratio >= 1.0 + SEPARATED_REL:
        return Phase.BULK_SPIKES
    if ev.spike_fraction >= DECAY_SPIKE_FRACTION:
        return Phase.HEAVY_TAILED if _heavy(ev.tail_alpha, ev) else Phase.BULK_DECAY
    if 2 * ev.num_far < ev.num_spikes:
        return Phase.BLEEDING_OUT
    return Phase.BULK_SPIKES


def _fmt(x: float) -> str:
    return f"{x:.2f}" if math.isfinite(x) else "nan"


def explain(ev: PhaseEvidence, phase: Phase | None) -> str:
    """The measured quantities that put the layer in ``phase``, as one sentence."""
    entries = (
        f"; entries heavy tailed (element mu {ev.element_mu:.2f} < {MU_MODERATE:g})"
        if ev.heavy_entries
        else ""
    )
    steep = f"alpha {_fmt(ev.alpha)}"
    if phase is Phase.RANK_COLLAPSE:
        return (
            f"{100 * ev.collapse_fraction:.0f}% of the eigenvalues sit {ev.collapse_gap:.1f} "
            f"decades below the rest (>= {COLLAPSE_GAP_DECADES:g} decades, "
            f">= {100 * COLLAPSE_MIN_FRACTION:.0f}% of the ESD; {ev.stored_dtype} round-off "
            "counts as zero)"
        )
    if phase is None:
        return f"not classified: MP fit {ev.mp_status}: {ev.mp_message}"
    if ev.no_bulk:
        why = (
            f"no MP bulk could be fitted ({ev.mp_message})"
            if not ev.mp_ok
            else f"{100 * ev.spike_fraction:.1f}% of the eigenvalues lie beyond the TW-widened "
            f"MP edge (>= {100 * NO_BULK_SPIKE_FRACTION:.0f}%): no MP bulk; lambda_max = "
            f"{ev.edge_ratio:.3g} lambda_plus"
        )
        if phase is Phase.HEAVY_TAILED:
            return f"{why}; {steep}{entries}"
        return (
            f"{why}; but {steep} is not < {HEAVY_TAIL_ALPHA:g}"
            + ("" if ev.heavy_entries else " (entries not heavy tailed)")
            + f" and a tail above the heavy-tailed range decays: bulk_decay{entries}"
        )
    edge = f"lambda_plus {ev.lambda_plus:.4g} + {ev.tw_margin:.2g} tw = {ev.threshold:.4g}"
    if phase is Phase.RANDOM_LIKE:
        return f"no eigenvalue beyond the TW-widened MP edge ({edge}); MP KS {ev.mp_ks:.3f}"
    k = ev.num_spikes
    spikes = (
        f"{k} eigenvalue{'s' if k > 1 else ''} ({100 * ev.spike_fraction:.1f}%) beyond the "
        f"edge ({edge})"
    )
    if phase is Phase.HEAVY_TAILED and ev.entries_tail:
        return (
            f"{spikes}, and the entries are heavy tailed (element mu {ev.element_mu:.2f} < "
            f"{MU_MODERATE:g}) with the outliers' strengths in a tail of exponent "
            f"{ev.outlier_alpha:.2f} +- {ev.outlier_alpha_se:.2f} (< {HEAVY_TAIL_ALPHA:g} within "
            f"{OUTLIER_SE_MARGIN:g} standard error): single large entries beyond an MP bulk, a "
            f"moderately heavy-tailed matrix at finite size ({steep} is fitted from inside the "
            "bulk edge)"
        )
    if phase is Phase.HEAVY_TAILED and ev.entries_localized:
        return (
            f"{spikes}, and the entries are heavy tailed (element mu {ev.element_mu:.2f} < "
            f"{MU_MODERATE:g}) with the top {TOP_VECTORS} eigenvectors localized (largest IPR "
            f"{ev.localization:.3g}x a random vector's, > {localization_threshold(ev.M):.3g} = "
            f"1 + {LOCALIZED_Z:g} sd): outliers made by single large entries beyond an MP bulk, "
            f"a moderately heavy-tailed matrix at finite size ({steep} is fitted from inside "
            "the bulk edge)"
        )
    if phase is Phase.HEAVY_TAILED and ev.heavy_entries and ev.alpha <= ALPHA_MODERATE:
        return (
            f"{spikes}, and the entries are heavy tailed (element mu {ev.element_mu:.2f} < "
            f"{MU_MODERATE:g}) with {steep} <= {ALPHA_MODERATE:g}: a moderately heavy-tailed "
            "matrix at finite size"
        )
    if ev.lowest_spike_ratio >= 1.0 + SEPARATED_REL:
        return (
            f"{spikes}, all well separated: the lowest at {ev.lowest_spike_ratio:.3g} lambda_plus "
            f"(>= {1 + SEPARATED_REL:g}), lambda_max = {ev.edge_ratio:.3g} lambda_plus"
        )
    if ev.spike_fraction >= DECAY_SPIKE_FRACTION:
        tail = (
            f"{spikes} form a tail from {ev.lowest_spike_ratio:.3g} to {ev.edge_ratio:.3g} "
            f"lambda_plus (>= {100 * DECAY_SPIKE_FRACTION:.0f}% of the ESD) with tail alpha "
            f"{_fmt(ev.tail_alpha)}"
        )
        if phase is Phase.HEAVY_TAILED:
            return f"{tail} < {HEAVY_TAIL_ALPHA:g}{entries}"
        return f"{tail} (not < {HEAVY_TAIL_ALPHA:g}){entries}"
    if phase is Phase.BLEEDING_OUT:
        return (
            f"{spikes}, < {100 * DECAY_SPIKE_FRACTION:.0f}% of the ESD, {k - ev.num_far} of "
            f"them just beyond it (< {1 + SEPARATED_REL:g} lambda_plus; "
            f"lambda_max = {ev.edge_ratio:.3g} lambda_plus)"
        )
    return (
        f"{spikes}, < {100 * DECAY_SPIKE_FRACTION:.0f}% of the ESD, {ev.num_far} of them well "
        f"separated (>= {1 + SEPARATED_REL:g} lambda_plus; lambda_max = {ev.edge_ratio:.3g} "
        "lambda_plus)"
    )


def classify_layer(
    spectrum: Spectrum,
    *,
    mp: MPFit,
    power_law: PowerLawFit,
    element_mu: float = math.nan,
    localization: float = math.nan,
) -> PhaseResult:
    r"""Phase of training and universality class of one layer, from its measured ESD and fits.

    Parameters
    ----------
    spectrum : Spectrum
        The layer's ESD (:func:`htsr.spectrum.esd`); its ``stored_dtype`` sets the zero cut-off.
    mp : MPFit
        :func:`htsr.fit.mp.fit_mp` of ``spectrum.evals`` with ``spectrum.N, spectrum.M``.
    power_law : PowerLawFit
        :func:`htsr.fit.powerlaw.fit_power_law` of ``spectrum.evals`` with the pipeline's
        options (:data:`htsr.fit.powerlaw.PIPELINE_FIT`; the calibration of ``mu`` uses the same
        fit).
    element_mu : float, optional
        Tail exponent of the layer's entries (:func:`htsr.metrics.element_tail_index`); NaN
        (the default) leaves rules 2, 4 and 6 to the ESD alone.
    localization : float, optional
        Localization of the top eigenvectors (:func:`htsr.localization.localization_ratio`,
        computed by :func:`htsr.localization.spectrum_and_localization` for heavy-tailed
        entries); NaN (the default) leaves rule 4 to the eigenvalues.

    Returns
    -------
    PhaseResult
        ``phase`` None (with the reason) only when the MP fit could not be tried (too few or
        invalid eigenvalues).

    Notes
    -----
    :func:`gather_evidence`, then :func:`decide`, then :func:`explain`. The rules and the reason
    for every threshold are in the module docstring and next to each constant; they use the MP
    fit (edge, TW scale, spikes, soft rank), the power-law fits, the eigenvalues' gaps and the
    entries' tail, never a layer's name. With ``lambda_+`` the fitted edge, outliers are the
    eigenvalues above ``lambda_+ + c t_W`` (:attr:`MPFit.threshold`), ``far`` the outliers at or
    above ``(1 + SEPARATED_REL) lambda_+``, and ``tail_alpha`` the MLE

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
    ev = gather_evidence(
        spectrum, mp=mp, power_law=power_law, element_mu=element_mu, localization=localization
    )
    phase = decide(ev)
    mu, uni = math.nan, Universality.NONE
    if phase in (Phase.BULK_DECAY, Phase.HEAVY_TAILED):
        tail_alpha = ev.alpha if math.isfinite(ev.alpha) else ev.tail_alpha
        mu, above = _mu(ev.alpha, ev.N, ev.M)
        # the entries' own exponent, when measured, is Table 1's mu; else the calibrated one
        class_mu = ev.element_mu if math.isfinite(ev.element_mu) else mu
        uni = universality_class(tail_alpha, class_mu)
        if above and not math.isfinite(ev.element_mu):
            uni = Universality.WEAKLY_HEAVY_TAILED
        if phase is Phase.HEAVY_TAILED and (ev.entries_tail or ev.entries_localized):
            # alpha describes the bulk edge, not this tail: Table 1 by the entries' exponent
            uni = universality_class(math.nan, ev.element_mu)
        if phase is Phase.BULK_DECAY and uni is not Universality.WEAKLY_HEAVY_TAILED:
            uni = Universality.WEAKLY_HEAVY_TAILED  # bulk-decay is weakly heavy tailed (Section 5)
    return PhaseResult(
        phase=phase,
        reason=explain(ev, phase),
        universality=uni,
        mu=mu,
        num_spikes=ev.num_spikes,
        spike_fraction=ev.spike_fraction,
        num_far=ev.num_far,
        edge_ratio=ev.edge_ratio,
        lowest_spike_ratio=ev.lowest_spike_ratio,
        tail_alpha=ev.tail_alpha,
        collapse_fraction=ev.collapse_fraction,
        collapse_gap=ev.collapse_gap,
        element_mu=ev.element_mu,
        outlier_alpha=ev.outlier_alpha,
        localization=ev.localization,
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
    "LOCALIZED_Z",
    "MIN_TAIL_POINTS",
    "MU_MODERATE",
    "MU_VERY",
    "NO_BULK_SPIKE_FRACTION",
    "OUTLIER_SE_MARGIN",
    "SEPARATED_REL",
    "Phase",
    "PhaseEvidence",
    "PhaseResult",
    "Universality",
    "classify_layer",
    "collapse_gap",
    "decide",
    "explain",
    "gather_evidence",
    "localization_threshold",
    "outlier_tail_alpha",
    "phase_counts",
    "universality_class",
    "zero_fraction",
]
