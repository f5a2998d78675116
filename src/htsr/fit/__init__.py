"""Fits of an empirical spectral density: power law on the tail, alternatives, MP bulk.

Power law (Clauset, Shalizi & Newman 2009; reproduces ``powerlaw`` 1.x)
    fit_power_law(evals) -> PowerLawFit, power_law_scan(evals) -> PowerLawScan
Alternatives on the same tail (Vuong likelihood ratios)
    compare_tail(evals, fit) -> TailComparison, vuong(ll_a, ll_b) -> Vuong
Marchenko-Pastur bulk, Tracy-Widom edge, spikes
    fit_mp(evals, N, M) -> MPFit
"""

from htsr.fit.alternatives import (
    Distribution,
    LikelihoodRatio,
    TailComparison,
    Vuong,
    compare_tail,
    vuong,
)
from htsr.fit.mp import TW_MARGIN, MPFit, fit_mp, spike_margin
from htsr.fit.powerlaw import (
    Fingers,
    PowerLawFit,
    PowerLawScan,
    XminMethod,
    fit_power_law,
    power_law_scan,
)
from htsr.fit.status import FitStatus

__all__ = [
    "TW_MARGIN",
    "Distribution",
    "Fingers",
    "FitStatus",
    "LikelihoodRatio",
    "MPFit",
    "PowerLawFit",
    "PowerLawScan",
    "TailComparison",
    "Vuong",
    "XminMethod",
    "compare_tail",
    "fit_mp",
    "fit_power_law",
    "power_law_scan",
    "spike_margin",
    "vuong",
]
