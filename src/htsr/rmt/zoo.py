"""A zoo of random matrices of known phase, to validate :func:`htsr.phases.classify_layer`.

Six kinds, one per phase of Martin & Mahoney (JMLR 2021, Section 5), built from the ensembles of
:mod:`htsr.rmt` (every draw seeded through ``numpy.random.Generator``):

``random_like``
    Gaussian ``N(0, sigma^2)`` entries: an MP bulk and nothing beyond its TW-widened edge.
``bleeding_out``
    Gaussian plus ``k = 1-2 %`` of ``M`` perturbations just above the BBP threshold, each placed so
    that its outlier (Baik-Silverstein location) lands between ``lambda_plus + 5 tw`` and
    ``1.15 lambda_plus``: eigenmass that leaks just beyond the edge.
``bulk_spikes``
    Gaussian plus 1-5 strong perturbations (``theta`` log-uniform in ``[4, 40] theta_c``): a few
    spikes well separated from the bulk.
``bulk_decay``
    Gaussian plus ``k = 5-15 %`` of ``M`` perturbations with power-law strengths
    ``theta = 1.5 theta_c U^{-1/a}``, ``a`` in ``[3, 5]`` (ESD tail alpha ~ 4-6): a continuous
    tail leaves a shrinking bulk.
``heavy_tailed``
    Signed Pareto entries with element tail exponent ``mu`` uniform in ``(0.5, 3.5)``.
``rank_collapse``
    Exactly rank-``r`` matrices, ``r`` uniform in ``[5 %, 70 %]`` of ``M``.

The specs are drawn first (cheap, one seed each) and a matrix is built only when asked
(:meth:`ZooSpec.matrix`), so a zoo of hundreds of large matrices needs one in memory at a time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from htsr.fit.mp import TW_MARGIN, mp_edges, tw_scale
from htsr.rmt.ensembles import (
    bbp_threshold,
    gaussian_matrix,
    low_rank_matrix,
    pareto_matrix,
    spike_strength,
    spiked_matrix,
)

#: The kinds, in the order of the phases (their values are :class:`htsr.phases.Phase` values).
KINDS = (
    "random_like",
    "bleeding_out",
    "bulk_spikes",
    "bulk_decay",
    "heavy_tailed",
    "rank_collapse",
)
#: Default shapes: ``(M, (Q_min, Q_max), weight)``. Smaller ``M`` are drawn more often (they
#: cost little); ``Q`` is log-uniform in the range, capped so that ``N <= 4096`` at large ``M``
#: (a 2048 x 16384 Gram matrix costs ~15 s on one core).
DEFAULT_SHAPES: tuple[tuple[int, tuple[float, float], float], ...] = (
    (128, (1.0, 8.0), 0.30),
    (256, (1.0, 8.0), 0.25),
    (512, (1.0, 8.0), 0.20),
    (1024, (1.0, 4.0), 0.15),
    (2048, (1.0, 2.0), 0.10),
)
#: Default range of the Pareto element exponent mu of the heavy-tailed kind (the issue's).
MU_RANGE = (0.5, 3.5)
#: Pareto exponents of the weakly heavy-tailed class (JMLR 2021, Table 1: ``mu > 4``), for
#: ``zoo_specs(mu_range=MU_RANGE_WEAK)``: finite variance, an MP bulk at every size, and the
#: few entries beyond the edge of :func:`expected_outliers` (mostly < 1 at M <= 2048).
MU_RANGE_WEAK = (4.0, 6.0)
#: Bleeding-out outliers land in ``[lambda_plus + BLEED_TW * tw, BLEED_REL * lambda_plus]``.
#: The lower end keeps them beyond the TW-widened edge (:data:`htsr.fit.mp.TW_MARGIN` = 3.5);
#: the upper end keeps them "just beyond" the edge (well inside the 25 % of
#: :data:`htsr.phases.SEPARATED_REL`).
BLEED_TW = TW_MARGIN + 1.5
BLEED_REL = 1.15
#: Bulk-decay strengths ``theta = DECAY_THETA_MIN theta_c U^{-1/a}``, ``a`` uniform in
#: ``DECAY_EXPONENT``. Far above the threshold an outlier sits at ``~theta``, so the tail of the ESD
#: has density ``~lambda^{-(a+1)}``: alpha 4 to 6, the weakly heavy-tailed range the paper gives
#: bulk-decay (JMLR 2021, Section 5 and Table 1). ``1.5 theta_c`` puts most perturbations beyond
#: the edge, so the tail starts at the edge (continuous, not a few isolated spikes).
DECAY_EXPONENT = (3.0, 5.0)
DECAY_THETA_MIN = 1.5


@dataclass(frozen=True, slots=True)
class ZooSpec:
    """One matrix of the zoo, not yet built.

    Attributes
    ----------
    kind : str
        One of :data:`KINDS` (the phase it was built to have).
    N, M : int
        Shape, ``N >= M``.
    param : float
        The kind's main parameter: sigma (random_like), fraction of perturbed directions
        (bleeding_out, bulk_decay), number of spikes (bulk_spikes), mu (heavy_tailed), rank
        fraction (rank_collapse).
    seed : int
        Seed of the draw (with ``kind``, ``N``, ``M``, ``param`` it fixes the matrix).
    """

    kind: str
    N: int
    M: int
    param: float
    seed: int

    @property
    def Q(self) -> float:
        """``N / M``."""
        return self.N / self.M

    def matrix(self) -> NDArray[np.float64]:
        """Build the ``N x M`` matrix."""
        gen = np.random.default_rng(self.seed)
        N, M, Q = self.N, self.M, self.Q
        if self.kind == "random_like":
            return gaussian_matrix(N, M, sigma=self.param, rng=gen)
        if self.kind == "bleeding_out":
            k = max(1, round(self.param * M))
            lp = mp_edges(Q)[1]
            lo = lp + BLEED_TW * tw_scale(Q, M)
            hi = max(BLEED_REL * lp, lo * 1.02)
            return spiked_matrix(N, M, spike_strength(gen.uniform(lo, hi, k), Q).tolist(), rng=gen)
        if self.kind == "bulk_spikes":
            k = int(self.param)
            theta = bbp_threshold(Q) * np.exp(gen.uniform(math.log(4.0), math.log(40.0), k))
            return spiked_matrix(N, M, theta.tolist(), rng=gen)
        if self.kind == "bulk_decay":
            k = max(1, round(self.param * M))
            a = gen.uniform(DECAY_EXPONENT[0], DECAY_EXPONENT[1])
            theta = DECAY_THETA_MIN * bbp_threshold(Q) * (1.0 - gen.random(k)) ** (-1.0 / a)
            return spiked_matrix(N, M, theta.tolist(), rng=gen)
        if self.kind == "heavy_tailed":
            return pareto_matrix(N, M, self.param, rng=gen)
        if self.kind == "rank_collapse":
            return low_rank_matrix(N, M, max(1, round(self.param * M)), rng=gen)
        raise ValueError(f"`kind` must be one of {', '.join(KINDS)}; got {self.kind!r}.")


def expected_outliers(
    N: int, M: int, mu: float, *, sigma: float, threshold: float, scale: float = 1.0
) -> float:
    r"""Expected number of entries of an ``N x M`` Pareto matrix (:func:`htsr.rmt.pareto_matrix`,
    exponent ``mu``, scale ``x_m``) whose single-entry eigenvalue lies beyond ``threshold``.

    A large entry ``W_ij = x`` on noise of element scale ``sigma`` is a rank-one perturbation of
    strength ``theta = x^2 / (N sigma^2)``; its eigenvalue of ``W^T W / N`` lands at
    ``sigma^2 (1 + theta)(1 + 1/(Q theta))`` (:func:`htsr.rmt.spike_location`), beyond
    ``threshold`` exactly when ``theta > theta_t = spike_strength(threshold, Q, sigma)``. With
    ``P(|W_ij| > t) = (t / x_m)^{-mu}``:

    .. math:: E[n] = N M \, P\big(|W_{ij}| > \sqrt{N \sigma^2 \theta_t}\big)
              = N M \min\big(1, (N \sigma^2 \theta_t / x_m^2)^{-\mu/2}\big)

    Far above the edge ``sigma^2 theta ~ x^2 / N``, so ``E[n] ~ N M (N lambda / x_m^2)^{-mu/2}``
    (the large-``theta`` form, which with ``lambda = lambda_+`` undercounts: near the edge the
    BBP map needs a smaller entry, ``sigma^2 theta_t < lambda_+``). ``E[n] < 1``: the matrix's
    tail is, spectrally, not visible at this size (its ESD is an MP bulk).

    Parameters
    ----------
    N, M : int
        Shape, ``N >= M``.
    mu : float
        Element tail exponent.
    sigma : float
        Element scale of the bulk (the MP fit's ``sigma``).
    threshold : float
        Where an eigenvalue counts as an outlier (the MP fit's ``threshold``, ``lambda_+ + c tw``).
    scale : float, default 1.0
        Pareto scale ``x_m`` of the entries.

    Examples
    --------
    >>> from htsr.rmt import mp_edges
    >>> lp = mp_edges(2.0)[1]  # 2.91
    >>> round(expected_outliers(1000, 500, 3.0, sigma=1.0, threshold=1.1 * lp), 1)
    10.3
    >>> round(1000 * 500 * (1000 * 1.1 * lp) ** -1.5, 1)  # the large-theta form undercounts
    2.8
    """
    theta = float(spike_strength(threshold, N / M, sigma))
    t2 = N * sigma**2 * theta / scale**2
    return float(N * M * min(1.0, t2 ** (-mu / 2.0))) if t2 > 0 else float(N * M)


def _param(kind: str, gen: np.random.Generator, mu_range: tuple[float, float]) -> float:
    if kind == "random_like":
        return float(np.exp(gen.uniform(math.log(0.1), math.log(10.0))))
    if kind == "bleeding_out":
        return float(gen.uniform(0.01, 0.02))
    if kind == "bulk_spikes":
        return float(gen.integers(1, 6))
    if kind == "bulk_decay":
        return float(gen.uniform(0.05, 0.15))
    if kind == "heavy_tailed":
        return float(gen.uniform(*mu_range))
    return float(gen.uniform(0.05, 0.70))


def zoo_specs(
    n_per_kind: int,
    *,
    shapes: tuple[tuple[int, tuple[float, float], float], ...] = DEFAULT_SHAPES,
    kinds: tuple[str, ...] = KINDS,
    mu_range: tuple[float, float] = MU_RANGE,
    rng: np.random.Generator | int | None = None,
) -> list[ZooSpec]:
    """Draw ``n_per_kind`` specs of each kind.

    ``mu_range`` is the range of the Pareto exponent of the heavy-tailed kind (uniform).

    Shapes are assigned by stratified proportions of the ``shapes`` weights (every ``M`` gets
    at least one matrix per kind when ``n_per_kind >= len(shapes)``); ``Q`` is log-uniform in the
    shape's range and ``N = round(Q M)``.

    Examples
    --------
    >>> specs = zoo_specs(5, rng=0)
    >>> len(specs), sorted({s.M for s in specs})
    (30, [128, 256, 512, 1024, 2048])
    """
    bad = sorted(set(kinds) - set(KINDS))
    if bad:
        raise ValueError(f"`kinds` must be among {', '.join(KINDS)}; got {bad}.")
    if not (isinstance(n_per_kind, (int, np.integer)) and n_per_kind >= 1):
        raise ValueError(f"`n_per_kind` must be an int >= 1; got {n_per_kind!r}.")
    gen = np.random.default_rng(rng)
    w = np.array([s[2] for s in shapes], dtype=np.float64)
    counts = np.maximum(np.floor(w / w.sum() * n_per_kind), 1).astype(int)
    while counts.sum() > n_per_kind:
        counts[np.argmax(counts)] -= 1
    while counts.sum() < n_per_kind:
        counts[np.argmax(w / w.sum() * n_per_kind - counts)] += 1
    specs = []
    for kind in kinds:
        for (M, (qlo, qhi), _), c in zip(shapes, counts, strict=True):
            for _ in range(int(c)):
                Q = float(np.exp(gen.uniform(math.log(qlo), math.log(qhi))))
                specs.append(
                    ZooSpec(
                        kind,
                        max(M, round(Q * M)),
                        M,
                        _param(kind, gen, mu_range),
                        int(gen.integers(2**31)),
                    )
                )
    return specs


__all__ = [
    "BLEED_REL",
    "BLEED_TW",
    "DEFAULT_SHAPES",
    "KINDS",
    "MU_RANGE",
    "MU_RANGE_WEAK",
    "ZooSpec",
    "expected_outliers",
    "zoo_specs",
]
