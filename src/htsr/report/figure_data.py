"""What the HTML report's charts draw, computed once in Python (numpy only).

The browser draws every figure of the HTML report from these small arrays: a layer's ESD as a
log-binned density histogram (and the randomized ESD on the same bins), its empirical CCDF
(thinned to at most :data:`MAX_CCDF_POINTS` points), the fitted power law on both, xmin, the
Marchenko-Pastur density over a linear histogram of the bulk with lambda+ and the spike
threshold, and the spikes. Each layer costs a few hundred numbers whatever its size, so the
file grows linearly with the number of layers and not with their width.

Nothing here draws; :mod:`htsr.report.html` embeds the result as JSON.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from htsr._validation import LOG_FLOOR  # eigenvalues below it leave log axes

#: Most bins of a histogram; fewer for small ESDs (``2 sqrt(n)``, at least 10).
NUM_BINS = 60
#: Most points of an empirical CCDF sent to the browser (all of the top ones, then thinned).
MAX_CCDF_POINTS = 240
#: Points of a fitted curve (power law, MP density).
CURVE_POINTS = 48
#: Significant digits kept in the embedded numbers (charts need no more).
DIGITS = 5


def num_bins(n: int) -> int:
    """Histogram bins for ``n`` values: ``2 sqrt(n)`` between 10 and :data:`NUM_BINS`."""
    return int(min(NUM_BINS, max(10, round(2 * math.sqrt(max(n, 0))))))


def _round(values: Any) -> list[float | None]:
    """Values rounded to :data:`DIGITS` significant digits (short in JSON); None if not finite.

    Vectorised: ``round(x * 10^e) / 10^e`` with ``e = DIGITS - 1 - floor(log10 |x|)`` (a division
    by an exact power of ten for ``e >= 0``, a multiplication otherwise), whose shortest ``repr``
    has at most :data:`DIGITS` significant digits.
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    finite = np.isfinite(x)
    out = np.where(finite, x, 0.0)
    nonzero = out != 0
    e = np.zeros(out.shape)
    e[nonzero] = DIGITS - 1 - np.floor(np.log10(np.abs(out[nonzero])))
    e = np.clip(e, -300, 300)
    up = e >= 0
    scale = 10.0 ** np.abs(e)
    out = np.where(up, np.round(out * scale) / scale, np.round(out / scale) * scale)
    rounded: list[float | None] = out.tolist()
    if not finite.all():
        for i in np.flatnonzero(~finite):
            rounded[i] = None
    return rounded


def _positive(evals: np.ndarray) -> np.ndarray:
    evals = evals[np.isfinite(evals)]
    if evals.size == 0 or evals.max() <= 0:
        return evals[:0]
    kept: np.ndarray = evals[evals > LOG_FLOOR * evals.max()]
    return kept


def _num(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number


def _ok(fit: Any) -> bool:
    return fit is not None and str(getattr(fit, "status", "")) == "ok"


def log_histogram(
    evals: np.ndarray, rand_evals: np.ndarray | None = None
) -> dict[str, list[float | None]]:
    r"""Density histogram of the ESD on log-spaced bins (and of the randomized ESD, same bins).

    .. math:: \rho_k = \frac{c_k}{n \, (e_{k+1} - e_k)}

    where ``c_k`` counts the eigenvalues in bin ``k`` and ``n`` is the number of all eigenvalues
    (numerical zeros included), so that :func:`power_law_curve` sits on it.

    Returns
    -------
    dict
        ``x``: the ``bins + 1`` edges; ``esd`` (and ``rand``): ``bins + 1`` densities, the last
        repeating the one before (a step chart's final segment); None for empty bins.
    """
    pos = _positive(evals)
    if pos.size < 2 or pos[0] == pos[-1]:
        return {}
    lo, hi = float(pos[0]), float(pos[-1])
    rpos = _positive(rand_evals) if rand_evals is not None else None
    if rpos is not None and rpos.size:
        lo, hi = min(lo, float(rpos[0])), max(hi, float(rpos[-1]))
    edges = np.geomspace(lo, hi * 1.001, num_bins(pos.size) + 1)
    out = {"x": _round(edges), "esd": _steps(pos, edges, evals.size)}
    if rpos is not None and rand_evals is not None:
        out["rand"] = _steps(rpos, edges, rand_evals.size)
    return out


def _steps(values: np.ndarray, edges: np.ndarray, n: int) -> list[float | None]:
    counts, _ = np.histogram(values, bins=edges)
    dens = counts / (max(n, 1) * np.diff(edges))
    dens = np.where(counts > 0, dens, np.nan)
    return _round(np.append(dens, dens[-1]))


def ccdf(evals: np.ndarray) -> dict[str, list[float | None]]:
    r"""Empirical CCDF :math:`P(\lambda \ge x)` at the positive eigenvalues, thinned.

    The top :data:`MAX_CCDF_POINTS` / 2 eigenvalues are all kept (the tail is what matters);
    below, evenly spaced ranks fill the other half.
    """
    pos = np.sort(_positive(evals))
    n = evals.size
    if pos.size < 2 or n == 0:
        return {}
    ranks = np.arange(pos.size)
    half = MAX_CCDF_POINTS // 2
    if pos.size > MAX_CCDF_POINTS:
        low = np.unique(np.linspace(0, pos.size - half - 1, half).round().astype(int))
        ranks = np.concatenate([low, np.arange(pos.size - half, pos.size)])
    y = (pos.size - ranks) / n
    return {"x": _round(pos[ranks]), "y": _round(y)}


def power_law_curve(evals: np.ndarray, power_law: Any) -> dict[str, Any]:
    r"""The fitted power law as drawn over the density histogram and over the CCDF.

    .. math:: \rho(x) = \frac{n_{tail}}{n} p(x), \qquad
              P(\lambda \ge x) = \frac{n_{tail}}{n} S(x), \qquad x_{min} \le x \le x_{max}

    with ``p`` and ``S`` the tail's normalised density and survival function (the fit's own
    ``pdf``/``ccdf``, which handle a truncated law; Clauset, Shalizi & Newman 2009, eq. 2.2),
    scaled by the fraction of all ``n`` eigenvalues in the tail.

    Returns
    -------
    dict
        ``alpha``, ``xmin``, ``xmax``, ``D``, ``x``, ``pdf``, ``ccdf``; empty without a fit.
    """
    if not _ok(power_law):
        return {}
    alpha, xmin, xmax = (_num(getattr(power_law, k, math.nan)) for k in ("alpha", "xmin", "xmax"))
    if not (math.isfinite(alpha) and math.isfinite(xmin) and xmin > 0):
        return {}
    if not math.isfinite(xmax) or xmax <= xmin:
        xmax = float(np.max(evals))
    x = np.geomspace(xmin, xmax, CURVE_POINTS)
    n_tail = _num(getattr(power_law, "n_tail", math.nan))
    if not math.isfinite(n_tail):
        n_tail = float(np.count_nonzero((evals >= xmin) & (evals <= xmax)))
    scale = n_tail / max(evals.size, 1)
    pdf = np.asarray(power_law.pdf(x), dtype=np.float64)
    surv = np.asarray(power_law.ccdf(x), dtype=np.float64)
    return {
        "alpha": _num(alpha),
        "xmin": xmin,
        "xmax": xmax,
        "D": _num(getattr(power_law, "D", math.nan)),
        "x": _round(x),
        "pdf": _round(scale * pdf),
        "ccdf": _round(scale * surv),
    }


def mp_view(evals: np.ndarray, mp: Any) -> float:
    """Right end of the bulk panel: ``lambda_max``, or 1.6 x the spike threshold if beyond."""
    lmax = float(np.max(evals))
    if not _ok(mp):
        return lmax
    edge = max(_num(getattr(mp, "threshold", math.nan)), _num(mp.lambda_plus))
    return lmax if not math.isfinite(edge) or lmax <= 1.6 * edge else 1.6 * edge


def mp_curve(evals: np.ndarray, mp: Any) -> dict[str, Any]:
    r"""Linear histogram of the bulk, the fitted Marchenko-Pastur density and the spikes.

    The MP density ``p_MP(x; Q, sigma)`` (Marchenko & Pastur 1967; JMLR 2021, eq. 9) is scaled
    by ``n_bulk / n`` so that it sits on the density histogram of all ``n`` eigenvalues.

    Returns
    -------
    dict
        ``x``/``esd``: histogram edges and densities on ``[0, mp_view]``; with a fit also
        ``lambda_plus``, ``threshold``, ``sigma``, ``curve_x``/``curve_y`` and ``spikes`` (every
        eigenvalue above the threshold).
    """
    if evals.size == 0:
        return {}
    right = mp_view(evals, mp)
    inside = evals[evals <= right]
    edges = np.linspace(0.0, right * 1.001 or 1.0, num_bins(inside.size) + 1)
    counts, _ = np.histogram(inside, bins=edges)
    dens = counts / (evals.size * np.diff(edges))
    out: dict[str, Any] = {"x": _round(edges), "esd": _round(np.append(dens, dens[-1]))}
    if not _ok(mp):
        out["message"] = str(getattr(mp, "message", "") or "no Marchenko-Pastur fit")
        return out
    lplus = _num(mp.lambda_plus)
    threshold = _num(getattr(mp, "threshold", math.nan))
    x = np.linspace(max(_num(mp.lambda_minus), 0.0), lplus, 2 * CURVE_POINTS)
    scale = _num(getattr(mp, "n_bulk", evals.size)) / evals.size
    out |= {
        "lambda_plus": lplus,
        "threshold": threshold,
        "sigma": _num(mp.sigma),
        "curve_x": _round(x),
        "curve_y": _round(scale * np.asarray(mp.pdf(x), dtype=np.float64)),
        "spikes": _round(evals[evals > threshold]) if math.isfinite(threshold) else [],
    }
    return out


def layer_figure_data(
    evals: Any, *, power_law: Any = None, mp: Any = None, rand_evals: Any = None
) -> dict[str, Any]:
    """Everything the HTML report draws for one layer (see the module docstring).

    Parameters
    ----------
    evals : array_like
        Eigenvalues of ``X = W^T W / N``.
    power_law : PowerLawFit, optional
        The layer's power-law fit (:class:`htsr.fit.powerlaw.PowerLawFit`).
    mp : MPFit, optional
        The layer's Marchenko-Pastur fit (:class:`htsr.fit.mp.MPFit`).
    rand_evals : array_like, optional
        ESD of the element-shuffled matrix.

    Returns
    -------
    dict
        ``hist`` (:func:`log_histogram`), ``ccdf`` (:func:`ccdf`), ``pl``
        (:func:`power_law_curve`), ``mp`` (:func:`mp_curve`); JSON-ready.
    """
    values = np.sort(np.asarray(evals, dtype=np.float64).ravel())
    rand = None if rand_evals is None else np.sort(np.asarray(rand_evals, dtype=np.float64))
    return {
        "hist": log_histogram(values, rand),
        "ccdf": ccdf(values),
        "pl": power_law_curve(values, power_law),
        "mp": mp_curve(values, mp),
    }


__all__ = [
    "LOG_FLOOR",
    "MAX_CCDF_POINTS",
    "ccdf",
    "layer_figure_data",
    "log_histogram",
    "mp_curve",
    "mp_view",
    "num_bins",
    "power_law_curve",
]
