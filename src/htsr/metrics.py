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
from scipy.special import logsumexp

from htsr.fit.alternatives import TailComparison, compare_tail
from htsr.fit.mp import MPFit, fit_mp
from htsr.fit.powerlaw import PowerLawFit, fit_power_law
from htsr.fit.status import FitStatus
from htsr.spectrum import gram_floor

if TYPE_CHECKING:
    from htsr.spectrum import Spectrum

#: Relative threshold of :func:`rank_collapse_fraction`: eigenvalues below this fraction of
#: lambda_max count as collapsed. Relative (never absolute) so it does not depend on scale;
#: 1e-4 of lambda_max is 1e-2 of s_max, far above float32 round-off (~1e-7 lambda_max).
RANK_COLLAPSE_REL = 1e-4


def stored_eps(dtype: str) -> float:
    """Machine epsilon of the dtype the weights were stored in (bf16 and fp8 via ml_dtypes).

    >>> stored_eps("float32")
    1.1920928955078125e-07
    """
    try:
        return float(np.finfo(np.dtype(dtype)).eps)
    except (TypeError, ValueError):
        return float(ml_dtypes.finfo(getattr(ml_dtypes, dtype)).eps)  # type: ignore[no-untyped-call]


#: dtypes whose eps is at most float32's use the ``numpy.linalg.matrix_rank`` rule.
_FINE_EPS = float(np.finfo(np.float32).eps)


def hard_rank_threshold(spectrum: Spectrum) -> float:
    """Eigenvalue (ESD units) above which a direction counts in :func:`hard_rank`.

    For float32 and float64 weights (docs/definitions.md):

    .. math:: s_i > s_{max} \\max(N, M) \\, \\varepsilon_{stored}

    the rule of ``numpy.linalg.matrix_rank`` with the eps of the dtype the weights were
    stored in: float32 weights carry round-off "zeros" near 1e-7 s_max, so eps(float64)
    would report full rank where rank is lost.

    For coarser dtypes (bfloat16, float16, float8) that rule exceeds ``s_max`` itself
    (``64 * 2^-7 = 0.5``) and would call a random bf16 matrix rank-deficient, so we use the
    size of the storage round-off instead: rounding errors ``|E_ij| <= eps/2 |W_ij|`` form a
    random matrix whose largest singular value is about
    ``eps/2 * rms(W) * (sqrt(N) + sqrt(M))`` (Bai-Yin). The cut-off is 4x that:

    .. math:: s_i > 2 \\varepsilon_{stored} \\|W\\|_F (N^{-1/2} + M^{-1/2})

    Measured on bf16 matrices (1536 x 384, 64 x 48, 4096 x 1024): round-off singular values
    sit 9-20x below it, true directions of random and rank-32 matrices 3-100x above it.

    The threshold never goes below the Gram round-off floor
    (:func:`htsr.spectrum.gram_floor`), which matters only for float64 weights.
    """
    eps = stored_eps(spectrum.stored_dtype)
    N, M = spectrum.N, spectrum.M
    if eps <= _FINE_EPS:
        rel = (max(N, M) * eps) ** 2
    else:
        frob_per_slice = spectrum.frobenius_squared / spectrum.num_slices
        s_cut = 2 * eps * np.sqrt(frob_per_slice) * (N**-0.5 + M**-0.5)
        rel = s_cut**2 / spectrum.sv_max_squared
    return spectrum.lambda_max * max(rel, gram_floor(M, spectrum.solver_dtype))


def hard_rank(spectrum: Spectrum) -> float:
    """Number of eigenvalues above :func:`hard_rank_threshold` (summed over pooled slices).

    NaN with a float32 solver, whose Gram eigenvalues are garbage below ~1e-7 lambda_max.
    """
    if spectrum.solver_dtype != "float64":
        return math.nan
    return float(np.count_nonzero(spectrum.evals > hard_rank_threshold(spectrum)))


def rank_collapse_fraction(spectrum: Spectrum) -> float:
    """Fraction of eigenvalues below ``RANK_COLLAPSE_REL * lambda_max``."""
    return float(np.mean(spectrum.evals < RANK_COLLAPSE_REL * spectrum.lambda_max))


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
    "RANK_COLLAPSE_REL",
    "LayerFits",
    "NormMetrics",
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
    return float(logsumexp(alpha * np.log(sv2)) / math.log(10))


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
            "sigma_mp": mp.sigma,
            "lambda_plus": mp.lambda_plus,
            "num_spikes": mp.num_spikes,
            "spike_fraction": mp.spike_fraction,
            "mp_softrank": mp.softrank,
            "mp_ks": mp.ks,
            "mp_status": _status_text(mp.status, mp.message),
        }


def _status_text(status: FitStatus, message: str) -> str:
    return "ok" if status is FitStatus.OK else f"{status}: {message}"


def fit_layer(spectrum: Spectrum) -> LayerFits:
    """Norm metrics, power-law fit with alternatives, and MP fit of a spectrum.

    Never raises on degenerate spectra: each fit reports its own status.
    """
    norm = norm_metrics(spectrum)
    power_law = fit_power_law(spectrum.evals)
    tail = compare_tail(spectrum.evals, power_law)
    mp = fit_mp(spectrum.evals, spectrum.N, spectrum.M)
    lan = log_alpha_norm(spectrum, power_law.alpha if power_law.ok else math.nan)
    return LayerFits(norm, power_law, tail, mp, lan)
