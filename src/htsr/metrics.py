"""Per-layer metrics computed from a layer's spectrum: norms, ranks, entropy, and the fits.

Definitions follow docs/definitions.md and, for the norm metrics, Martin, Peng & Mahoney,
"Predicting trends in the quality of state-of-the-art neural networks without access to
training or testing data", Nature Communications 12, 4122 (2021), Table 1 and eqs. (3)-(6).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import ml_dtypes
import numpy as np

from htsr.entries import ELEMENT_TAIL_FRACTION, ELEMENT_TAIL_MIN_COUNT, element_tail_index
from htsr.fit._data import as_sample
from htsr.fit.alternatives import TailComparison, compare_tail
from htsr.fit.mp import MPFit, fit_mp
from htsr.fit.powerlaw import PIPELINE_FIT, PowerLawFit
from htsr.fit.status import FitStatus
from htsr.spectrum import gram_floor

if TYPE_CHECKING:
    from htsr.spectrum import Spectrum

#: Relative threshold below which an eigenvalue may belong to a collapsed cluster: at most
#: ``1e-4 lambda_max`` (``1e-2 s_max``). Relative, never absolute, so it does not depend on scale.
#: It no longer counts eigenvalues on its own: a very heavy-tailed ESD (Pareto ``mu ~ 0.5``) has
#: most of its eigenvalues below it with no rank lost (see :func:`rank_collapse_fraction`).
RANK_COLLAPSE_REL = 1e-4
#: Factor over the expected spectral norm of the storage round-off in :func:`hard_rank_threshold`.
#: Measured (float32 and bf16 products of rank 100, 1024 x 512): the round-off singular values
#: sit 10x below ``2 eps ||W||_F (N^-1/2 + M^-1/2)``, the weakest true direction 45x (bf16) to
#: 4e6x (float32) above it.
ROUND_OFF_FACTOR = 2.0
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


def stored_eps(dtype: str) -> float:
    """Machine epsilon of the dtype the weights were stored in (bf16 and fp8 via ml_dtypes).

    >>> stored_eps("float32")
    1.1920928955078125e-07
    """
    try:
        return float(np.finfo(np.dtype(dtype)).eps)
    except (TypeError, ValueError):
        return float(ml_dtypes.finfo(getattr(ml_dtypes, dtype)).eps)  # type: ignore[no-untyped-call]


def hard_rank_threshold(spectrum: Spectrum) -> float:
    r"""Eigenvalue (ESD units) above which a direction counts in :func:`hard_rank`.

    A direction is lost only when its singular value sits below what the round-off of the
    stored weights can produce. Storing ``W`` rounds every entry: ``W_stored = W + E`` with
    ``|E_ij| <= u |W_ij|``, ``u = eps/2`` the unit round-off of the stored dtype. By Weyl's
    inequality a singular value of an exactly rank-deficient ``W`` becomes at most
    ``||E||_2 <= ||E||_F <= u ||W||_F`` (the worst case); rounding errors of different entries
    are independent, so ``E`` is a random matrix with ``rms(E) <= u rms(W)`` and, by Bai-Yin,
    ``||E||_2 ~ u rms(W) (sqrt(N) + sqrt(M)) = u ||W||_F (N^{-1/2} + M^{-1/2})``. The cut-off is
    :data:`ROUND_OFF_FACTOR` times the spectral norm of that expected round-off (4x for 2):

    .. math:: s_i > 2 \, \varepsilon_{stored} \, \|W\|_F \, (N^{-1/2} + M^{-1/2})

    (``||W||_F`` per slice for pooled convolutions), for every stored dtype. Unlike the rule of
    ``numpy.linalg.matrix_rank`` (``s_i > s_max max(N, M) eps``, a worst-case bound on the
    round-off of an SVD, not of storage) it does not call a very heavy-tailed matrix rank
    deficient: a float32 Pareto matrix with ``mu = 0.8`` (1024 x 512) has 10% of its
    eigenvalues under ``(max(N, M) eps)^2 lambda_max`` and none under this cut-off (its
    smallest singular value is ~900x above it). Measured on exactly rank-100 products stored in
    float32 and bf16 (1024 x 512): round-off singular values 10x below, true directions 45x
    (bf16) and more than 1e5x (float32) above.

    The threshold never goes below the Gram round-off floor
    (:func:`htsr.spectrum.gram_floor`), which sets it for float64 weights.

    Examples
    --------
    >>> from htsr.spectrum import esd
    >>> W = np.outer(np.arange(1.0, 5.0), np.ones(3)).astype(np.float32)  # rank 1
    >>> s = esd(W)
    >>> int(np.count_nonzero(s.evals > hard_rank_threshold(s)))
    1
    """
    eps = stored_eps(spectrum.stored_dtype)
    N, M = spectrum.N, spectrum.M
    frob_per_slice = spectrum.frobenius_squared / spectrum.num_slices
    s_cut = ROUND_OFF_FACTOR * eps * np.sqrt(frob_per_slice) * (N**-0.5 + M**-0.5)
    rel = s_cut**2 / spectrum.sv_max_squared
    return float(spectrum.lambda_max * max(float(rel), gram_floor(M, spectrum.solver_dtype)))


def hard_rank(spectrum: Spectrum) -> float:
    """Number of eigenvalues above :func:`hard_rank_threshold` (summed over pooled slices).

    NaN with a float32 solver, whose Gram eigenvalues are garbage below ~1e-7 lambda_max.
    """
    if spectrum.solver_dtype != "float64":
        return math.nan
    return float(np.count_nonzero(spectrum.evals > hard_rank_threshold(spectrum)))


def collapse_gap(spectrum: Spectrum, *, min_fraction: float = 0.0) -> tuple[float, float]:
    r"""Largest gap below which a collapsed cluster sits: ``(gap_decades, fraction_below)``.

    With ``l_i = log10 max(lambda_i, t)`` (ascending, ``t`` the :func:`hard_rank_threshold`,
    so that every numerically zero eigenvalue sits at ``t``), the gap is

    .. math:: \max_i \; g_i = l_{i+1} - l_i \quad \text{over} \quad
              (i + 1) / n \ge \text{min\_fraction}, \;
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
        ((idx + 1) >= min_fraction * n)
        & (lam[:-1] < RANK_COLLAPSE_REL * lam[-1])
        & (gaps >= COLLAPSE_GAP_TO_SPREAD * (logs[:-1] - logs[0]))
    )
    if not ok.any():
        return 0.0, 0.0
    i = int(idx[ok][np.argmax(gaps[ok])])
    return float(gaps[i]), (i + 1) / n


def rank_collapse_fraction(spectrum: Spectrum) -> float:
    """Fraction of the ESD in a cluster at (numerically) zero.

    The eigenvalues below the largest gap of at least :data:`COLLAPSE_GAP_DECADES` decades
    found by :func:`collapse_gap` (the cluster lies under ``RANK_COLLAPSE_REL * lambda_max`` and
    is tight compared with the gap); 0 without such a gap. Eigenvalues under
    :func:`hard_rank_threshold` count as sitting at it, so an exactly rank-``r`` matrix gives
    ``rank_loss / num_evals``; a cluster shrunk far below the rest without being zero (strong
    weight decay) counts too. A fraction of the ESD below ``1e-4 lambda_max`` alone is not
    collapse: a very heavy-tailed ESD (Pareto ``mu ~ 0.5``) is a continuum reaching far below
    it with full rank.

    Examples
    --------
    >>> from htsr.spectrum import esd
    >>> rank_collapse_fraction(esd(np.diag([0.0, 1.0, 2.0, 3.0])))
    0.25
    """
    gap, below = collapse_gap(spectrum)
    return below if gap >= COLLAPSE_GAP_DECADES else 0.0


def spectral_entropy(spectrum: Spectrum, rank: float) -> float:
    """Matrix entropy normalised to [0, 1].

    .. math:: H = -\\frac{1}{\\ln r} \\sum_i p_i \\ln p_i, \\quad p_i = s_i^2 / \\sum_j s_j^2

    with ``r`` the hard rank (Martin & Mahoney, JMLR 2021, eq. (3); 0 when ``r = 1``).
    """
    if not math.isfinite(rank):
        return math.nan
    if rank <= 1:
        return 0.0
    p = spectrum.evals[spectrum.evals > 0] / np.sum(spectrum.evals)
    return float(-np.sum(p * np.log(p)) / math.log(rank))


@dataclass(frozen=True, slots=True)
class NormMetrics:
    """Scale and rank metrics of one layer (docs/definitions.md).

    Attributes
    ----------
    num_evals : int
        Eigenvalues in the ESD.
    lambda_max : float
        ``s_max^2``, the squared spectral norm of W.
    log_norm : float
        ``log10 ||W||_F^2``.
    log_spectral_norm : float
        ``log10 s_max^2``.
    stable_rank : float
        ``||W||_F^2 / s_max^2``.
    hard_rank : float
        See :func:`hard_rank` (float so it can be NaN).
    rank_loss : float
        ``num_evals - hard_rank``.
    rank_collapse_fraction : float
        See :func:`rank_collapse_fraction`.
    entropy : float
        See :func:`spectral_entropy`.
    """

    num_evals: int
    lambda_max: float
    log_norm: float
    log_spectral_norm: float
    stable_rank: float
    hard_rank: float
    rank_loss: float
    rank_collapse_fraction: float
    entropy: float

    def as_row(self) -> dict[str, float | int]:
        """The metrics as table columns."""
        return asdict(self)


def norm_metrics(spectrum: Spectrum) -> NormMetrics:
    """Norm, rank and entropy metrics of a spectrum.

    Examples
    --------
    >>> import numpy as np
    >>> from htsr.spectrum import esd
    >>> m = norm_metrics(esd(np.diag([2.0, 1.0, 0.0])))
    >>> m.lambda_max, m.stable_rank, m.hard_rank
    (4.0, 1.25, 2.0)
    """
    frob = spectrum.frobenius_squared
    smax2 = spectrum.sv_max_squared
    rank = hard_rank(spectrum)
    return NormMetrics(
        num_evals=int(spectrum.evals.size),
        lambda_max=smax2,
        log_norm=math.log10(frob),
        log_spectral_norm=math.log10(smax2),
        stable_rank=frob / smax2,
        hard_rank=rank,
        rank_loss=spectrum.evals.size - rank,
        rank_collapse_fraction=rank_collapse_fraction(spectrum),
        entropy=spectral_entropy(spectrum, rank),
    )


__all__ = [
    "COLLAPSE_GAP_DECADES",
    "COLLAPSE_GAP_TO_SPREAD",
    "ELEMENT_TAIL_FRACTION",
    "ELEMENT_TAIL_MIN_COUNT",
    "RANK_COLLAPSE_REL",
    "ROUND_OFF_FACTOR",
    "LayerFits",
    "NormMetrics",
    "collapse_gap",
    "element_tail_index",
    "fit_layer",
    "hard_rank",
    "hard_rank_threshold",
    "log_alpha_norm",
    "norm_metrics",
    "rank_collapse_fraction",
    "spectral_entropy",
    "stored_eps",
]


def log_alpha_norm(spectrum: Spectrum, alpha: float) -> float:
    """Log of the Schatten alpha-norm of W, raised to the power alpha.

    .. math:: \\log_{10} \\sum_i (s_i^2)^{\\alpha}

    (Martin, Peng & Mahoney, Nat. Commun. 2021, eq. (6)); computed as a log-sum-exp so that
    large alpha does not overflow. NaN when alpha is NaN.
    """
    if not math.isfinite(alpha):
        return math.nan
    sv2 = spectrum.evals[spectrum.evals > 0] * spectrum.N
    a = alpha * np.log(sv2)
    top = float(a.max())  # log-sum-exp; scipy.special.logsumexp agrees to 1e-15, 10x slower
    return (top + math.log(float(np.sum(np.exp(a - top))))) / math.log(10)


@dataclass(frozen=True, slots=True)
class LayerFits:
    """Every fit of one layer's ESD.

    Attributes
    ----------
    norm : NormMetrics
        Norms, ranks and entropy.
    power_law : PowerLawFit
        Clauset-Shalizi-Newman fit of the tail (:func:`htsr.fit.powerlaw.fit_power_law`).
    tail : TailComparison
        Alternatives on the same tail (:func:`htsr.fit.alternatives.compare_tail`).
    mp : MPFit
        Marchenko-Pastur fit of the bulk (:func:`htsr.fit.mp.fit_mp`).
    log_alpha_norm : float
        :func:`log_alpha_norm` at the fitted alpha.
    """

    norm: NormMetrics
    power_law: PowerLawFit
    tail: TailComparison
    mp: MPFit
    log_alpha_norm: float

    def as_row(self) -> dict[str, object]:
        """The table columns of these fits (names in docs/columns.md)."""
        pl, tail, mp = self.power_law, self.tail, self.mp
        alpha = pl.alpha if pl.ok else math.nan
        return self.norm.as_row() | {
            "alpha": alpha,
            "alpha_weighted": alpha * self.norm.log_spectral_norm,
            "log_alpha_norm": self.log_alpha_norm,
            "xmin": pl.xmin,
            "xmax": pl.xmax,
            "D": pl.D,
            "sigma": pl.sigma,
            "num_pl_spikes": pl.n_tail,
            "pl_status": _status_text(pl.status, pl.message),
            "best_fit": str(tail.best_fit) if tail.best_fit is not None else None,
            "tpl_alpha": tail.tpl_alpha,
            "tpl_lambda": tail.tpl_lambda,
            "mp_sigma": mp.sigma,
            "lambda_plus": mp.lambda_plus,
            "num_tw_spikes": mp.num_spikes,
            "spike_fraction": mp.spike_fraction,
            "mp_softrank": mp.softrank,
            "mp_ks": mp.ks,
            "mp_status": _status_text(mp.status, mp.message),
        }


def _status_text(status: FitStatus, message: str) -> str:
    return "ok" if status is FitStatus.OK else f"{status}: {message}"


def fit_layer(spectrum: Spectrum) -> LayerFits:
    """Norm metrics, power-law fit (:data:`htsr.fit.powerlaw.PIPELINE_FIT`) with alternatives,
    and MP fit of a spectrum.

    Never raises on degenerate spectra: each fit reports its own status. The eigenvalues are
    validated and sorted once (:func:`htsr.fit._data.as_sample`) for the three fits.
    """
    norm = norm_metrics(spectrum)
    sample = as_sample(spectrum.evals)
    power_law = PIPELINE_FIT.fit(sample)
    tail = compare_tail(sample, power_law)
    mp = fit_mp(sample, spectrum.N, spectrum.M)
    lan = log_alpha_norm(spectrum, power_law.alpha if power_law.ok else math.nan)
    return LayerFits(norm, power_law, tail, mp, lan)
