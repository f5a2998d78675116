r"""Alternatives to the power law on the same tail, and Vuong likelihood-ratio comparisons.

On the tail ``[xmin, xmax]`` of a :class:`~htsr.fit.powerlaw.PowerLawFit` (``[xmin, inf)`` when
it is not truncated) this module fits, by maximum likelihood, a truncated power law
:math:`x^{-\alpha} e^{-\Lambda x}`, an exponential :math:`e^{-\Lambda x}`, a stretched
exponential :math:`x^{\beta-1} e^{-(\Lambda x)^\beta}` and a lognormal, each normalised on the
tail as in Clauset, Shalizi & Newman (2009, Table 2.1), and compares the power law with each
(:func:`compare_tail`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import integrate, optimize, special, stats

from htsr._compat import StrEnum
from htsr.fit.powerlaw import _clean
from htsr.fit.status import FitStatus

if TYPE_CHECKING:
    from collections.abc import Callable

    from htsr.fit.powerlaw import PowerLawFit

#: A better alternative needs a likelihood ratio significant at this level (the papers' rule,
#: Clauset, Shalizi & Newman 2009, Section 5.1; Martin & Mahoney 2021).
P_THRESHOLD = 0.05
#: Fewest tail points for a comparison (the two-parameter fits need more than two).
MIN_TAIL_COMPARE = 5
_LOG_2PI = math.log(2.0 * math.pi)
_NM = {"xatol": 1e-10, "fatol": 1e-12, "maxiter": 4000, "maxfev": 8000}
_NM_RIDGE = {"xatol": 1e-8, "fatol": 1e-10, "maxiter": 800, "maxfev": 1200}


class Distribution(StrEnum):
    """Candidate laws of the tail; ``best_fit`` is one of them."""

    POWER_LAW = "power_law"
    TRUNCATED_POWER_LAW = "truncated_power_law"
    LOGNORMAL = "lognormal"
    EXPONENTIAL = "exponential"
    STRETCHED_EXPONENTIAL = "stretched_exponential"


@dataclass(frozen=True, slots=True)
class LikelihoodRatio:
    r"""Power law against one alternative on the same tail.

    Attributes
    ----------
    distribution : Distribution
        The alternative.
    R : float
        Normalised log-likelihood ratio :math:`\mathcal{R} / (\sqrt{n}\,\sigma)`; positive favours
        the power law, negative the alternative.
    p : float
        Significance of the sign of ``R``: Vuong's two-sided
        :math:`\mathrm{erfc}(|\mathcal R| / \sqrt{2 n \sigma^2})`, or for the nested truncated
        power law the chi-squared (1 dof) tail of :math:`2|\mathcal R|` (as ``powerlaw`` 1.x).
    loglik_ratio : float
        Unnormalised :math:`\mathcal R = \sum_i (\ln p_{PL}(x_i) - \ln p_{alt}(x_i))`.
    nested : bool
        Whether the power law is a special case of the alternative.
    params : tuple of float
        Fitted parameters of the alternative, named by ``param_names``.
    param_names : tuple of str
        ``('alpha', 'Lambda')``, ``('Lambda',)``, ``('Lambda', 'beta')`` or ``('mu', 'sigma')``
        (``mu``, ``sigma`` of :math:`\ln x`, natural log).
    """

    distribution: Distribution
    R: float
    p: float
    loglik_ratio: float
    nested: bool
    params: tuple[float, ...]
    param_names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TailComparison:
    """Result of :func:`compare_tail`.

    Attributes
    ----------
    best_fit : Distribution or None
        ``power_law`` unless an alternative has ``R < 0`` with ``p <= P_THRESHOLD``; among those,
        the one with the most negative ``R``. None when the comparison could not be made.
    ratios : tuple of LikelihoodRatio
        One per alternative, in the order truncated power law, lognormal, exponential,
        stretched exponential.
    tpl_alpha, tpl_lambda : float
        Truncated power law :math:`x^{-\\alpha} e^{-\\Lambda x}` fitted to the tail (NaN if not).
    n_tail : int
        Number of tail values compared.
    status : FitStatus
        ``ok`` or why no comparison was made (then the numbers are NaN and ``ratios`` empty).
    message : str
        Details.
    """

    best_fit: Distribution | None
    ratios: tuple[LikelihoodRatio, ...]
    tpl_alpha: float
    tpl_lambda: float
    n_tail: int
    status: FitStatus
    message: str

    def ratio(self, distribution: str | Distribution) -> LikelihoodRatio:
        """The comparison with ``distribution`` (KeyError if it was not made)."""
        dist = Distribution(distribution)
        for r in self.ratios:
            if r.distribution is dist:
                return r
        raise KeyError(dist.value)


@dataclass(frozen=True, slots=True)
class _Tail:
    x: NDArray[np.float64]
    xmin: float
    xmax: float | None  # truncation point, or None for [xmin, inf)

    @property
    def n(self) -> int:
        return int(self.x.size)


# --------------------------------------------------------------------------- fits, each returning
# (params, per-point log-likelihoods)


def _minimize_restarts(
    fun: Callable[[NDArray[np.float64]], float],
    start: NDArray[np.float64],
    restarts: int = 3,
    options: dict[str, float] | None = None,
) -> NDArray[np.float64]:
    """Nelder-Mead restarted from its own result until it stops improving (a restart rebuilds
    the simplex, which avoids its premature convergence on the flat ridges of these
    likelihoods)."""
    opts = _NM if options is None else options
    best = optimize.minimize(fun, start, method="Nelder-Mead", options=opts)
    for _ in range(restarts):
        again = optimize.minimize(fun, best.x, method="Nelder-Mead", options=opts)
        if not again.fun < best.fun - 1e-9 * max(1.0, abs(best.fun)):
            break
        best = again
    return np.asarray(best.x, dtype=np.float64)


def _power_law_ll(t: _Tail, alpha: float) -> NDArray[np.float64]:
    lny = np.log(t.x / t.xmin)
    ll = math.log(alpha - 1.0) - math.log(t.xmin) - alpha * lny
    if t.xmax is not None:
        ll -= math.log(-math.expm1((1.0 - alpha) * math.log(t.xmax / t.xmin)))
    return ll


def _exponential(t: _Tail) -> tuple[tuple[float, ...], NDArray[np.float64]]:
    z = t.x - t.xmin
    zbar = float(z.mean())
    if t.xmax is None:
        lam = 1.0 / zbar
        return (lam,), math.log(lam) - lam * z
    from htsr.fit._plscan import solve_trunc_exp

    w = t.xmax - t.xmin
    q = min(max(zbar / w, 1e-300), 0.5 - 1e-12)  # Lambda > 0: the MLE is on [0, 1/2) in q
    lam = float(solve_trunc_exp(np.array([q]))[0]) / w
    return (lam,), math.log(lam) - lam * z - math.log(-math.expm1(-lam * w))


def _stretched_exponential(t: _Tail) -> tuple[tuple[float, ...], NDArray[np.float64]]:
    lny = np.log(t.x / t.xmin)
    n, s_lny = t.n, float(lny.sum())
    lnymax = None if t.xmax is None else math.log(t.xmax / t.xmin)

    def ll_points(lnc: float, beta: float) -> NDArray[np.float64]:
        c = math.exp(lnc)
        ll = math.log(beta) - math.log(t.xmin) + lnc + (beta - 1.0) * lny - c * np.expm1(beta * lny)
        if lnymax is not None:
            ll -= math.log(-math.expm1(-c * math.expm1(beta * lnymax)))
        return ll

    def profile(lnb: float) -> tuple[float, float]:
        beta = math.exp(lnb)
        with np.errstate(over="ignore"):
            tot = float(np.expm1(beta * lny).sum())
        if not (math.isfinite(tot) and tot > 0):
            return math.inf, 0.0
        lnc = math.log(n / tot)
        return -(n * lnb + n * lnc + (beta - 1.0) * s_lny - n), lnc

    res = optimize.minimize_scalar(lambda v: profile(v)[0], bounds=(-9.0, 4.0), method="bounded",
                                   options={"xatol": 1e-10})  # fmt: skip
    lnb = float(res.x)
    lnc = profile(lnb)[1]
    if lnymax is not None:

        def nll(p: NDArray[np.float64]) -> float:
            if not -9.0 <= p[1] <= 4.0:  # the bounds of the profile search on ln(beta)
                return math.inf
            with np.errstate(all="ignore"):
                v = -float(ll_points(p[0], math.exp(p[1])).sum())
            return v if math.isfinite(v) else math.inf

        res2 = _minimize_restarts(nll, np.array([lnc, lnb]))
        lnc, lnb = float(res2[0]), float(res2[1])
    beta = math.exp(lnb)
    with np.errstate(over="ignore"):
        lam = float(np.exp(lnc / beta)) / t.xmin  # inf when beta -> 0 (the power-law limit)
    return (lam, beta), ll_points(lnc, beta)


def _lognormal(t: _Tail) -> tuple[tuple[float, ...], NDArray[np.float64]]:
    lx = np.log(t.x)
    n, s1, s2 = t.n, float(lx.sum()), float((lx**2).sum())
    la, lb = math.log(t.xmin), (None if t.xmax is None else math.log(t.xmax))

    def log_mass(mu: float, sig: float) -> float:
        upper_tail = float(special.log_ndtr((mu - la) / sig))  # ln P(ln X >= ln xmin)
        if lb is None:
            return upper_tail
        beyond = float(special.log_ndtr((mu - lb) / sig))
        gap = math.exp(beyond - upper_tail)
        return upper_tail + math.log1p(-gap) if gap < 1.0 else -math.inf

    def nll(p: NDArray[np.float64]) -> float:
        mu, lns = float(p[0]), float(p[1])
        sig = math.exp(lns)
        quad = (s2 - 2.0 * mu * s1 + n * mu * mu) / (2.0 * sig * sig)
        v = s1 + n * lns + 0.5 * n * _LOG_2PI + quad + n * log_mass(mu, sig)
        return v if math.isfinite(v) else math.inf

    # The likelihood has a ridge towards mu -> -inf (the power-law limit) where Nelder-Mead
    # drifts; so start from the best point of a profile over ln(sigma): for a fixed sigma the
    # negative log-likelihood is convex in mu (log Phi is concave), found by Brent.
    m0, lns0 = float(lx.mean()), math.log(max(float(lx.std()), 1e-3))
    best = (nll(np.array([m0, lns0])), m0, lns0)
    for lns in lns0 + np.linspace(-3.0, 6.0, 28):
        prof = optimize.minimize_scalar(
            lambda mu, lns=lns: nll(np.array([mu, lns])), bracket=(m0, m0 - math.exp(lns))
        )
        if prof.fun < best[0]:
            best = (float(prof.fun), float(prof.x), float(lns))
    # on the ridge Nelder-Mead never meets xatol: cap it (the likelihood changes by < 1e-9 there)
    res = _minimize_restarts(nll, np.array(best[1:]), restarts=1, options=_NM_RIDGE)
    mu, sig = float(res[0]), math.exp(float(res[1]))
    ll = -lx - math.log(sig) - 0.5 * _LOG_2PI - (lx - mu) ** 2 / (2 * sig * sig)
    return (mu, sig), ll - log_mass(mu, sig)


def _upper_gamma_log_cf(s: float, c: float) -> float:
    """``ln Gamma(s, c)`` by its continued fraction (modified Lentz; Numerical Recipes, 3rd ed.,
    eq. 6.2.7), valid for any real ``s`` and fast for ``c > 1``."""
    tiny = 1e-300
    b = c + 1.0 - s
    cc = 1.0 / tiny
    d = 1.0 / b
    h = d
    for i in range(1, 500):
        an = -i * (i - s)
        b += 2.0
        d = an * d + b
        d = d if abs(d) > tiny else tiny
        cc = b + an / cc
        cc = cc if abs(cc) > tiny else tiny
        d = 1.0 / d
        delta = d * cc
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return -c + s * math.log(c) + math.log(h) if h > 0 else math.nan


def _upper_gamma_log(s: float, c: float) -> float:
    """``ln Gamma(s, c)`` for ``s <= 0``: continued fraction for ``c > 1.5``, else the recurrence
    ``Gamma(a, c) = (Gamma(a+1, c) - c^a e^-c) / a`` from ``a = s + k`` in (0, 1]
    (``scipy.special.gammaincc``); NaN where that loses precision (``s`` within 1e-6 of an
    integer), so the caller integrates."""
    if c > 1.5:
        return _upper_gamma_log_cf(s, c)
    k = math.ceil(-s) if s < 0 else 0
    a = s + k
    if a < 1e-6 or (a > 1.0 - 1e-6 and k > 0):
        return math.nan
    g = float(special.gammaincc(a, c) * special.gamma(a))
    ec = math.exp(-c)
    for _ in range(k):
        a -= 1.0
        g = (g - c**a * ec) / a
    return math.log(g) if g > 0 else math.nan


def _tpl_log_norm(alpha: float, c: float, lnymax: float | None) -> float:
    """``ln Z`` of the truncated power law in units of xmin (``c = Lambda * xmin``).

    ``Z = int_1^ymax y^-alpha e^(-c y) dy = e^-c int_0^ln(ymax) e^(-(alpha-1)t - c(e^t-1)) dt``.

    Untruncated: ``Z = c^(alpha-1) Gamma(1-alpha, c)`` (:func:`_upper_gamma_log`), else or where
    that loses precision, adaptive quadrature (relative accuracy 1e-11).
    """
    b = alpha - 1.0
    if lnymax is None:
        lg = _upper_gamma_log(-b, c)
        if math.isfinite(lg):
            return lg + b * math.log(c)

    def f(v: float) -> float:
        return math.exp(-b * v - c * math.expm1(v)) if v < 700 else 0.0

    top = math.inf if lnymax is None or lnymax > 50.0 else lnymax  # e^-c(e^50) is 0 for c > 1e-19
    val, _ = integrate.quad(f, 0.0, top, epsabs=0.0,
                            epsrel=1e-11, limit=200)  # fmt: skip
    return -c + math.log(val) if val > 0 else math.inf


def _truncated_power_law(t: _Tail, alpha0: float) -> tuple[tuple[float, ...], NDArray[np.float64]]:
    y = t.x / t.xmin
    lny = np.log(y)
    n, s_lny, s_y = t.n, float(lny.sum()), float(y.sum())
    lnymax = None if t.xmax is None else math.log(t.xmax / t.xmin)

    def nll(p: NDArray[np.float64]) -> float:
        alpha, c = 1.0 + math.exp(p[0]), math.exp(p[1])
        try:
            v = alpha * s_lny + c * s_y + n * _tpl_log_norm(alpha, c, lnymax)
        except (OverflowError, ValueError, ZeroDivisionError):
            return math.inf
        return v if math.isfinite(v) else math.inf

    start = np.array([math.log(max(alpha0 - 1.0, 1e-3)), math.log(1.0 / float(y.mean()))])
    res = _minimize_restarts(nll, start)
    alpha, c = 1.0 + math.exp(float(res[0])), math.exp(float(res[1]))
    ll = -alpha * lny - c * y - math.log(t.xmin) - _tpl_log_norm(alpha, c, lnymax)
    return (alpha, c / t.xmin), ll


def vuong(
    ll_a: NDArray[np.float64], ll_b: NDArray[np.float64], *, nested: bool = False
) -> tuple[float, float, float]:
    r"""Normalised log-likelihood ratio, its p-value and the raw ratio of two fits.

    .. math::
        \mathcal R = \sum_i \ell_i, \quad \ell_i = \ln p_a(x_i) - \ln p_b(x_i), \quad
        \sigma^2 = \frac1n \sum_i (\ell_i - \bar\ell)^2, \quad
        R = \frac{\mathcal R}{\sqrt{n}\,\sigma}, \quad
        p = \operatorname{erfc}\Big(\frac{|\mathcal R|}{\sqrt{2n\sigma^2}}\Big)

    (Vuong 1989, eq. 5.6; Clauset, Shalizi & Newman 2009, eq. C.6). ``nested``: ``p`` is the
    chi-squared (1 dof) survival of :math:`2|\mathcal R|` (Wilks), as ``powerlaw`` 1.x does.
    Identical log-likelihoods give ``(0, 1, 0)``; a constant non-zero difference, NaN.
    """
    d = np.asarray(ll_a, dtype=np.float64) - np.asarray(ll_b, dtype=np.float64)
    n = d.size
    big_r = float(d.sum())
    var = float(np.mean((d - d.mean()) ** 2))
    if var <= (1e-14 * float(np.max(np.abs(d)))) ** 2:  # constant difference, up to round-off
        return (0.0, 1.0, 0.0) if big_r == 0.0 else (math.nan, math.nan, big_r)
    r = big_r / math.sqrt(n * var)
    if nested:
        p = float(stats.chi2.sf(abs(2.0 * big_r), 1))
    else:
        p = float(special.erfc(abs(big_r) / math.sqrt(2.0 * n * var)))
    return r, p, big_r


_FITS: tuple[tuple[Distribution, tuple[str, ...], bool], ...] = (
    (Distribution.TRUNCATED_POWER_LAW, ("alpha", "Lambda"), True),
    (Distribution.LOGNORMAL, ("mu", "sigma"), False),
    (Distribution.EXPONENTIAL, ("Lambda",), False),
    (Distribution.STRETCHED_EXPONENTIAL, ("Lambda", "beta"), False),
)


def _failed(status: FitStatus, message: str, n_tail: int = 0) -> TailComparison:
    return TailComparison(None, (), math.nan, math.nan, n_tail, status, message)


def compare_tail(evals: ArrayLike, fit: PowerLawFit) -> TailComparison:
    r"""Fit the alternatives on the tail of ``fit`` and compare the power law with each.

    Parameters
    ----------
    evals : array_like
        The eigenvalues ``fit`` was made from (cleaned the same way: zeros dropped).
    fit : PowerLawFit
        Gives the tail ``[xmin, xmax]`` (``[xmin, inf)`` unless ``fit.truncated``) and alpha.

    Returns
    -------
    TailComparison
        Non-ok status (NaN numbers, no ratios) when ``fit`` is not ok, ``evals`` is invalid or
        the tail has fewer than ``MIN_TAIL_COMPARE`` values.

    Notes
    -----
    Densities on the tail, each normalised on ``[xmin, xmax]`` (Clauset et al. 2009, Table 2.1):
    truncated power law :math:`\propto x^{-\alpha} e^{-\Lambda x}` (``alpha > 1``, ``Lambda > 0``
    as in ``powerlaw`` 1.x; the normaliser by quadrature), exponential
    :math:`\propto e^{-\Lambda x}` (closed-form MLE), stretched exponential
    :math:`\propto (\Lambda x)^{\beta-1} e^{-(\Lambda x)^\beta}` (``Lambda`` profiled out in
    closed form), lognormal (a normal in :math:`\ln x` cut at :math:`\ln x_{min}`). Then
    :func:`vuong`. ``best_fit``: the power law unless an alternative has ``R < 0`` and
    ``p <= P_THRESHOLD``; then the one with the most negative ``R``.

    References
    ----------
    .. [1] Q. H. Vuong, "Likelihood ratio tests for model selection and non-nested
       hypotheses", Econometrica 57(2), 307-333 (1989).
    .. [2] A. Clauset, C. R. Shalizi, M. E. J. Newman, SIAM Review 51(4), 661-703 (2009),
       Section 5 and Appendix C.

    Examples
    --------
    >>> import numpy as np
    >>> from htsr.fit.powerlaw import fit_power_law
    >>> x = np.random.default_rng(0).pareto(2.0, 2000) + 1.0
    >>> compare_tail(x, fit_power_law(x)).best_fit
    <Distribution.POWER_LAW: 'power_law'>
    """
    if not fit.ok:
        return _failed(
            FitStatus.FAILED, f"the power-law fit is not ok ({fit.status}: {fit.message})"
        )
    x, _, status, message = _clean(evals)
    if x is None:
        return _failed(status, message)
    sel = x >= fit.xmin
    if fit.truncated:
        sel &= x <= fit.xmax
    tail = _Tail(x[sel], fit.xmin, fit.xmax if fit.truncated else None)
    if tail.n < MIN_TAIL_COMPARE:
        return _failed(FitStatus.TOO_FEW_POINTS, f"{tail.n} tail values; need >= "
                       f"{MIN_TAIL_COMPARE}", tail.n)  # fmt: skip
    ll_pl = _power_law_ll(tail, fit.alpha)
    fitters: dict[Distribution, Callable[[], tuple[tuple[float, ...], NDArray[np.float64]]]] = {
        Distribution.TRUNCATED_POWER_LAW: lambda: _truncated_power_law(tail, fit.alpha),
        Distribution.LOGNORMAL: lambda: _lognormal(tail),
        Distribution.EXPONENTIAL: lambda: _exponential(tail),
        Distribution.STRETCHED_EXPONENTIAL: lambda: _stretched_exponential(tail),
    }
    ratios = []
    problems = []
    for dist, names, nested in _FITS:
        try:
            with np.errstate(all="ignore"):
                params, ll = fitters[dist]()
            r, p, big_r = vuong(ll_pl, ll, nested=nested)
        except (ArithmeticError, ValueError) as e:  # pragma: no cover - defensive
            params, r, p, big_r = (math.nan,) * len(names), math.nan, math.nan, math.nan
            problems.append(f"{dist}: {e}")
        if not np.isfinite(big_r):
            problems.append(f"{dist}: non-finite log-likelihood")
            r = p = math.nan
        ratios.append(LikelihoodRatio(dist, r, p, big_r, nested, tuple(params), names))
    better = [q for q in ratios if q.R < 0 and q.p <= P_THRESHOLD]
    best = min(better, key=lambda q: q.R).distribution if better else Distribution.POWER_LAW
    tpl = ratios[0].params
    return TailComparison(
        best_fit=best,
        ratios=tuple(ratios),
        tpl_alpha=tpl[0],
        tpl_lambda=tpl[1],
        n_tail=tail.n,
        status=FitStatus.OK,
        message="; ".join(problems),
    )


__all__ = ["P_THRESHOLD", "Distribution", "LikelihoodRatio", "TailComparison", "compare_tail",
           "vuong"]  # fmt: skip
