"""Random-matrix reference for HT-SR: what a random layer of the same shape looks like.

Marchenko-Pastur law (defined in :mod:`htsr.fit.mp`, re-exported here)
    :func:`mp_pdf`, :func:`mp_cdf`, :func:`mp_ppf`, :func:`mp_edges`, :func:`tw_scale`,
    :func:`spike_margin`, :data:`TW_MARGIN`
Ensembles (seeded through ``numpy.random.Generator``)
    :func:`gaussian_matrix`, :func:`spiked_matrix` (with :func:`bbp_threshold`,
    :func:`spike_location`), :func:`pareto_matrix`, :func:`low_rank_matrix`
Randomized ESD (correlation traps)
    :func:`shuffle_elements`, :func:`compare_randomized` -> :class:`RandomizedESD`,
    :func:`log_wasserstein`
Calibration of alpha against the element tail exponent mu
    :func:`calibrate_alpha` -> :class:`Calibration`, :func:`mu_from_alpha`, :func:`alpha_of_mu`
"""

from htsr.fit.mp import TW_MARGIN, mp_cdf, mp_edges, mp_pdf, mp_ppf, spike_margin, tw_scale
from htsr.rmt.calibration import (
    AlphaMuRelation,
    Calibration,
    alpha_of_mu,
    calibrate_alpha,
    fit_relation,
    mu_from_alpha,
)
from htsr.rmt.ensembles import (
    bbp_threshold,
    gaussian_matrix,
    low_rank_matrix,
    pareto_matrix,
    spike_location,
    spike_strength,
    spiked_matrix,
)
from htsr.rmt.randomize import RandomizedESD, compare_randomized, log_wasserstein, shuffle_elements

__all__ = [
    "TW_MARGIN",
    "AlphaMuRelation",
    "Calibration",
    "RandomizedESD",
    "alpha_of_mu",
    "bbp_threshold",
    "calibrate_alpha",
    "compare_randomized",
    "fit_relation",
    "gaussian_matrix",
    "log_wasserstein",
    "low_rank_matrix",
    "mp_cdf",
    "mp_edges",
    "mp_pdf",
    "mp_ppf",
    "mu_from_alpha",
    "pareto_matrix",
    "shuffle_elements",
    "spike_location",
    "spike_margin",
    "spike_strength",
    "spiked_matrix",
    "tw_scale",
]
