"""Figures of one layer: its ESD (linear and log-log), the MP bulk, and the choice of xmin.

Computing and drawing are separate: :func:`layer_data` gathers the eigenvalues and the fits of
a layer (fitting what bare eigenvalues lack, and the xmin scan, which no result stores) into a
:class:`LayerPlotData`; every ``plot_*`` function takes that, or anything :func:`layer_data`
accepts, plus ``ax=None``, and returns the :class:`matplotlib.figure.Figure` it drew on. Nothing
here calls ``pyplot`` or ``show``, so it is safe on a headless machine and changes no global state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from htsr._optional import import_optional
from htsr._validation import LOG_FLOOR  # eigenvalues below it leave log axes
from htsr.fit.mp import fit_mp
from htsr.fit.powerlaw import fit_power_law, power_law_scan

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure, SubFigure

#: Colours shared by every figure (matplotlib's tab10 entries).
COLORS = {
    "esd": "#1f77b4",
    "rand": "#ff7f0e",
    "fit": "#d62728",
    "mp": "#2ca02c",
    "spike": "#9467bd",
    "xmin": "#7f7f7f",
}
#: Most bins of the ESD histograms; fewer for small ESDs (:func:`num_bins`).
NUM_BINS = 60


@dataclass(frozen=True)
class LayerPlotData:
    """What the layer figures show; built by :func:`layer_data`.

    Attributes
    ----------
    name : str
        Layer name (titles).
    evals : numpy.ndarray
        Ascending eigenvalues of ``X = W^T W / N``.
    N, M : int or None
        Shape of one slice (needed for the MP fit).
    power_law : object or None
        Power-law fit of the tail with ``alpha``, ``xmin``, ``xmax``, ``D``, ``status``
        (:class:`htsr.fit.powerlaw.PowerLawFit`).
    scan : object or None
        ``xmins``, ``alphas``, ``Ds`` for every candidate xmin
        (:class:`htsr.fit.powerlaw.PowerLawScan`).
    mp : object or None
        Marchenko-Pastur fit (:class:`htsr.fit.mp.MPFit`).
    rand_evals : numpy.ndarray or None
        ESD of the element-shuffled matrix, when it was computed.
    phase : str or None
        Phase of training, when known.
    """

    name: str
    evals: np.ndarray
    N: int | None = None
    M: int | None = None
    power_law: Any = None
    scan: Any = None
    mp: Any = None
    rand_evals: np.ndarray | None = None
    phase: str | None = None

    @property
    def alpha(self) -> float:
        """Fitted power-law exponent (NaN when not fitted)."""
        return _num(getattr(self.power_law, "alpha", math.nan))

    @property
    def xmin(self) -> float:
        """Lower end of the power-law tail (NaN when not fitted)."""
        return _num(getattr(self.power_law, "xmin", math.nan))

    @property
    def D(self) -> float:
        """KS distance of the power-law fit (NaN when not fitted)."""
        return _num(getattr(self.power_law, "D", math.nan))

    @property
    def positive(self) -> np.ndarray:
        """Eigenvalues above ``LOG_FLOOR * lambda_max`` (what log axes can show)."""
        return _positive(self.evals)

    def title(self) -> str:
        """``name  alpha=..  D=..  phase``: the title of every layer figure."""
        parts = [self.name] if self.name else []
        parts.append(f"α={_fmt(self.alpha)}")
        parts.append(f"D={_fmt(self.D, 3)}")
        parts.append(self.phase if self.phase else "phase ?")
        return "   ".join(parts)


def _num(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _fmt(value: float, digits: int = 2) -> str:
    return "-" if not math.isfinite(value) else f"{value:.{digits}f}"


def _positive(values: Any) -> np.ndarray:
    evals: np.ndarray = np.asarray(values, dtype=np.float64)
    evals = evals[np.isfinite(evals)]
    if evals.size == 0 or evals.max() <= 0:
        return evals[:0]
    kept: np.ndarray = evals[evals > LOG_FLOOR * evals.max()]
    return kept


def _is_ok(fit: Any) -> bool:
    return fit is not None and str(getattr(fit, "status", "ok")) == "ok"


def layer_data(
    result: Any,
    *,
    power_law: Any = None,
    scan: Any = None,
    mp: Any = None,
    rand_evals: Any = None,
    name: str | None = None,
    fit_missing: bool = True,
) -> LayerPlotData:
    """Gather what the layer figures need, fitting what is missing.

    Parameters
    ----------
    result : LayerResult, Spectrum, LayerPlotData or array_like
        A layer of a report (``report.result(name)``), a spectrum, or bare eigenvalues.
        Fits found on it (``power_law``, ``mp``, ``rand_evals``) are used.
    power_law, scan, mp, rand_evals : optional
        Override or supply the fits (see :class:`LayerPlotData`).
    name : str, optional
        Layer name for titles (default: the result's).
    fit_missing : bool, default True
        Fit the power law, its xmin scan and the MP law when they are not given (MP needs
        ``N`` and ``M``, which a bare array does not carry).

    Returns
    -------
    LayerPlotData
    """
    if isinstance(result, LayerPlotData):
        return result
    spectrum = getattr(result, "spectrum", result)
    row = getattr(result, "row", None) or {}
    evals = getattr(spectrum, "evals", spectrum)
    if evals is None:
        raise ValueError(f"layer {getattr(result, 'name', '')!r} has no spectrum to plot")
    evals = np.sort(np.asarray(evals, dtype=np.float64).ravel())
    N = getattr(spectrum, "N", None) or row.get("N")
    M = getattr(spectrum, "M", None) or row.get("M")
    power_law = power_law if power_law is not None else getattr(result, "power_law", None)
    mp = mp if mp is not None else getattr(result, "mp", None)
    if rand_evals is None:
        rand_evals = getattr(result, "rand_evals", None)
    if fit_missing:
        if power_law is None:
            power_law = fit_power_law(evals)
        if scan is None:
            scan = power_law_scan(evals)
        if mp is None and N and M:
            mp = fit_mp(evals, int(N), int(M))
    phase = row.get("phase")
    return LayerPlotData(
        name=name if name is not None else str(getattr(result, "name", row.get("name", ""))),
        evals=evals,
        N=int(N) if N else None,
        M=int(M) if M else None,
        power_law=power_law,
        scan=scan,
        mp=mp,
        rand_evals=None if rand_evals is None else np.sort(np.asarray(rand_evals, dtype=float)),
        phase=None
        if phase is None or (isinstance(phase, float) and math.isnan(phase))
        else str(phase),
    )


def _axes(ax: Axes | None, caller: str) -> Axes:
    """``ax`` or the single axes of a new figure (no pyplot involved)."""
    if ax is not None:
        return ax
    import_optional("matplotlib", extra="plot", caller=caller)
    from matplotlib.figure import Figure

    return Figure(figsize=(5.0, 3.6), layout="constrained").add_subplot()


def _figure(artist: Any) -> Figure:
    """The root Figure of an Axes or SubFigure (matplotlib >= 3.10 has ``root=True``)."""
    try:
        return artist.get_figure(root=True)  # type: ignore[no-any-return]
    except TypeError:  # matplotlib < 3.10: .figure is the root
        fig = artist if hasattr(artist, "savefig") else artist.figure
        while not hasattr(fig, "savefig"):
            fig = fig.figure
        return fig  # type: ignore[no-any-return]


def _log_ticks(axis: Any, lo: float, hi: float) -> None:
    """Readable, cheap ticks on a log axis (``ax.xaxis`` or ``ax.yaxis``) spanning [lo, hi].

    No minor tick labels (they crowd); 1-2-5 majors below 2 decades; no minor ticks at all
    beyond 4 decades (matplotlib would make hundreds of tick objects, seconds per figure).
    """
    from matplotlib.ticker import LogLocator, NullFormatter, NullLocator

    decades = math.log10(hi / lo) if lo > 0 and hi > lo else 1.0
    axis.set_minor_formatter(NullFormatter())
    if decades < 2:
        axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    else:
        axis.set_major_locator(LogLocator(numticks=7))
    if decades > 4:
        axis.set_minor_locator(NullLocator())


def _linear_ticks(ax: Axes) -> None:
    """At most 5 x ticks, in scientific notation outside [1e-2, 1e3] (labels must not collide)."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(5))
    ax.ticklabel_format(axis="x", style="sci", scilimits=(-2, 3))


def _empty(ax: Axes, message: str) -> None:
    import textwrap

    text = "\n".join(textwrap.wrap(message, 40))
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4")


def num_bins(n: int) -> int:
    """Histogram bins for ``n`` eigenvalues: ``2 sqrt(n)``, between 10 and :data:`NUM_BINS`."""
    return int(min(NUM_BINS, max(10, round(2 * math.sqrt(n)))))


def power_law_line(data: LayerPlotData, *, num: int = 50) -> tuple[np.ndarray, np.ndarray]:
    r"""The fitted power law as drawn over the ESD's density histogram.

    .. math:: y(x) = \frac{n_{tail}}{n} \, p(x), \quad
              p(x) = \frac{\alpha - 1}{x_{min}} \left(\frac{x}{x_{min}}\right)^{-\alpha},
              \quad x_{min} \le x \le x_{max}

    ``p`` is the tail's normalised density (Clauset, Shalizi & Newman 2009, eq. 2.2; the fit's
    own ``pdf`` when it has one, which also handles a truncated law), scaled by the fraction of
    all ``n`` eigenvalues that lie in the tail so that it sits on a histogram of all of them.

    Returns
    -------
    x, y : numpy.ndarray
        ``num`` log-spaced points on ``[xmin, xmax]``; empty when there is no successful fit.
    """
    fit = data.power_law
    alpha, xmin = data.alpha, data.xmin
    if not _is_ok(fit) or not (math.isfinite(alpha) and math.isfinite(xmin) and xmin > 0):
        return np.empty(0), np.empty(0)
    xmax = _num(getattr(fit, "xmax", math.nan))
    if not math.isfinite(xmax) or xmax <= xmin:
        xmax = float(data.evals[-1])
    x = np.geomspace(xmin, xmax, num)
    n_tail = _num(getattr(fit, "n_tail", math.nan))
    if not math.isfinite(n_tail):
        n_tail = float(np.count_nonzero((data.evals >= xmin) & (data.evals <= xmax)))
    pdf = getattr(fit, "pdf", None)
    dens = np.asarray(pdf(x)) if callable(pdf) else (alpha - 1.0) / xmin * (x / xmin) ** (-alpha)
    return x, n_tail / data.evals.size * dens


def plot_esd(result: Any, *, ax: Axes | None = None, bins: int | None = None) -> Figure:
    """Histogram of the ESD on linear axes, with the randomized ESD overlaid when present.

    Parameters
    ----------
    result : LayerPlotData or anything :func:`layer_data` accepts
    ax : matplotlib.axes.Axes, optional
        Draw here; by default on a new figure.
    bins : int, optional
        Default :func:`num_bins` of the number of eigenvalues.

    Returns
    -------
    matplotlib.figure.Figure
    """
    data = layer_data(result)
    ax = _axes(ax, "htsr.plots.plot_esd")
    evals = data.evals
    hi = max(float(evals[-1]), float(data.rand_evals[-1]) if data.rand_evals is not None else 0)
    bins = bins or num_bins(evals.size)
    edges = list(np.linspace(min(0.0, float(evals[0])), hi * 1.001 or 1.0, bins + 1))
    ax.hist(evals, bins=edges, density=True, color=COLORS["esd"], alpha=0.7, label="ESD", gid="esd")
    if data.rand_evals is not None:
        ax.hist(
            data.rand_evals,
            bins=edges,
            density=True,
            histtype="step",
            color=COLORS["rand"],
            lw=1.5,
            label="randomized",
            gid="rand",
        )
    if _is_ok(data.mp):
        ax.axvline(
            data.mp.lambda_plus, color=COLORS["mp"], ls="--", lw=1, label="λ+", gid="lambda_plus"
        )
    ax.set(xlabel="eigenvalue λ", ylabel="density", title="ESD (linear)")
    _linear_ticks(ax)
    ax.legend(fontsize="small", frameon=False)
    return _figure(ax)


def plot_esd_loglog(result: Any, *, ax: Axes | None = None, bins: int | None = None) -> Figure:
    """Log-log histogram of the ESD (log-spaced bins), the fitted power law and xmin.

    The fitted line is :func:`power_law_line` (gid ``"power_law"``); xmin is a vertical line
    (gid ``"xmin"``). Eigenvalues below ``LOG_FLOOR * lambda_max`` are left out.

    Parameters
    ----------
    result : LayerPlotData or anything :func:`layer_data` accepts
    ax : matplotlib.axes.Axes, optional
    bins : int, optional
        Default :func:`num_bins` of the number of eigenvalues.

    Returns
    -------
    matplotlib.figure.Figure
    """
    data = layer_data(result)
    ax = _axes(ax, "htsr.plots.plot_esd_loglog")
    pos = data.positive
    if pos.size < 2 or pos[0] == pos[-1]:
        _empty(ax, "no positive spread of eigenvalues")
        return _figure(ax)
    lo, hi = float(pos[0]), float(pos[-1])
    if data.rand_evals is not None:
        rpos = _positive(data.rand_evals)
        if rpos.size:
            lo, hi = min(lo, float(rpos[0])), max(hi, float(rpos[-1]))
    bins = bins or num_bins(pos.size)
    edges = np.geomspace(lo, hi * 1.001, bins + 1)
    # density of all eigenvalues (numerical zeros count in n): comparable with power_law_line
    counts, _ = np.histogram(pos, bins=edges)
    dens = counts / (data.evals.size * np.diff(edges))
    ax.stairs(dens, edges, fill=True, color=COLORS["esd"], alpha=0.7, label="ESD", gid="esd")
    if data.rand_evals is not None:
        rcounts, _ = np.histogram(_positive(data.rand_evals), bins=edges)
        rdens = rcounts / (data.rand_evals.size * np.diff(edges))
        ax.stairs(rdens, edges, color=COLORS["rand"], lw=1.5, label="randomized", gid="rand")
    x, y = power_law_line(data)
    if x.size:
        ax.plot(
            x, y, color=COLORS["fit"], lw=2, label=f"power law α={data.alpha:.2f}", gid="power_law"
        )
        ax.axvline(
            data.xmin,
            color=COLORS["xmin"],
            ls="--",
            lw=1,
            label=f"xmin={data.xmin:.3g}",
            gid="xmin",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    _log_ticks(ax.xaxis, lo, hi)
    positive_dens = dens[dens > 0]
    if positive_dens.size:
        ax.set_ylim(bottom=positive_dens.min() / 3)
        _log_ticks(ax.yaxis, positive_dens.min() / 3, positive_dens.max())
    ax.set(xlabel="eigenvalue λ", ylabel="density", title="ESD (log-log)")
    ax.legend(fontsize="small", frameon=False)
    return _figure(ax)


def mp_view(data: LayerPlotData) -> float:
    """Right end of the MP panel: the bulk and what lies just beyond it.

    ``lambda_max`` if it is within 1.6 times the spike threshold, else 1.6 times the threshold
    (so far spikes do not squash the bulk; they are counted in the panel's text).
    """
    lmax = float(data.evals[-1])
    if not _is_ok(data.mp):
        return lmax
    edge = max(_num(getattr(data.mp, "threshold", math.nan)), _num(data.mp.lambda_plus))
    return lmax if lmax <= 1.6 * edge else 1.6 * edge


def plot_mp(result: Any, *, ax: Axes | None = None, bins: int | None = None) -> Figure:
    """The bulk of the ESD with the fitted Marchenko-Pastur density, lambda+ and the spikes.

    The MP density (gid ``"mp"``) is scaled by ``n_bulk / n`` so that it sits on a histogram of
    all eigenvalues; ``lambda+`` is a dashed line (gid ``"lambda_plus"``), the spike threshold
    (``lambda+`` plus the Tracy-Widom margin) a dotted one, and every spike in view a tick
    (gid ``"spikes"``). The x-range is :func:`mp_view`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    data = layer_data(result)
    ax = _axes(ax, "htsr.plots.plot_mp")
    mp, evals = data.mp, data.evals
    right = mp_view(data)
    bins = bins or num_bins(int(np.count_nonzero(evals <= right)))
    edges = np.linspace(0.0, right * 1.001 or 1.0, bins + 1)
    counts, _ = np.histogram(evals, bins=edges)
    ax.stairs(
        counts / (evals.size * np.diff(edges)),
        edges,
        fill=True,
        color=COLORS["esd"],
        alpha=0.6,
        label="ESD",
        gid="esd",
    )
    if not _is_ok(mp):
        reason = getattr(mp, "message", "") or ("no MP fit" if mp is None else str(mp.status))
        _empty(ax, f"MP fit: {reason}")
        ax.set(xlabel="eigenvalue λ", ylabel="density", title="Marchenko-Pastur bulk")
        return _figure(ax)
    lplus = float(mp.lambda_plus)
    x = np.linspace(max(float(mp.lambda_minus), 0.0), lplus, 400)
    scale = _num(getattr(mp, "n_bulk", evals.size)) / evals.size
    ax.plot(x, scale * mp.pdf(x), color=COLORS["mp"], lw=2, label=f"MP σ={mp.sigma:.3g}", gid="mp")
    ax.axvline(lplus, color=COLORS["mp"], ls="--", lw=1, label=f"λ+={lplus:.3g}", gid="lambda_plus")
    threshold = _num(getattr(mp, "threshold", math.nan))
    if math.isfinite(threshold):
        ax.axvline(
            threshold, color=COLORS["spike"], ls=":", lw=1, label="λ+ + TW margin", gid="threshold"
        )
    spikes = evals[evals > threshold] if math.isfinite(threshold) else evals[:0]
    shown = spikes[spikes <= right]
    if shown.size:
        ax.plot(
            shown,
            np.zeros_like(shown),
            "|",
            ms=14,
            mew=2,
            color=COLORS["spike"],
            transform=ax.get_xaxis_transform(),
            clip_on=False,
            label=f"spikes ({spikes.size})",
            gid="spikes",
        )
    beyond = spikes.size - shown.size
    if beyond:
        ax.text(
            0.98,
            0.3,
            f"+{beyond} spikes beyond view\nλmax={evals[-1]:.3g}",
            ha="right",
            va="center",
            transform=ax.transAxes,
            fontsize="small",
            color=COLORS["spike"],
        )
    ax.set_xlim(0, right * 1.02)
    _linear_ticks(ax)
    ax.set(
        xlabel="eigenvalue λ",
        ylabel="density",
        title=f"Marchenko-Pastur bulk: {spikes.size} spikes",
    )
    ax.legend(fontsize="small", frameon=False, loc="upper right")
    return _figure(ax)


def plot_xmin_scan(result: Any, *, ax: Axes | None = None) -> Figure:
    """KS distance D (left axis) and alpha (right axis) for every candidate xmin.

    The chosen xmin (smallest D) is a vertical line (gid ``"xmin"``); the D curve has gid
    ``"D"``, the alpha curve ``"alpha"``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    data = layer_data(result)
    ax = _axes(ax, "htsr.plots.plot_xmin_scan")
    scan = data.scan
    xmins = np.asarray(getattr(scan, "xmins", []), dtype=float)
    if scan is None or xmins.size == 0:
        _empty(ax, "no xmin scan")
        ax.set(title="choice of xmin")
        return _figure(ax)
    Ds = np.asarray(scan.Ds, dtype=float)
    alphas = np.asarray(scan.alphas, dtype=float)
    ax.plot(xmins, Ds, color=COLORS["esd"], lw=1.5, label="KS distance D", gid="D")
    ax.set_xscale("log")
    _log_ticks(ax.xaxis, float(xmins.min()), float(xmins.max()))
    ax.set_xlabel("candidate xmin")
    ax.set_ylabel("D", color=COLORS["esd"])
    twin = ax.twinx()
    twin.plot(xmins, alphas, color=COLORS["fit"], lw=1, alpha=0.8, label="α", gid="alpha")
    twin.set_ylabel("α", color=COLORS["fit"])
    finite = alphas[np.isfinite(alphas)]
    if finite.size:  # alpha explodes for the last few candidates: clip the axis to its bulk
        lo, hi = np.percentile(finite, [1, 95])
        twin.set_ylim(max(lo - 0.5, 0.9), hi + 0.5)
    if math.isfinite(data.xmin):
        ax.axvline(data.xmin, color=COLORS["xmin"], ls="--", lw=1, gid="xmin")
        ax.set_title(f"choice of xmin: {data.xmin:.3g} (D={_fmt(data.D, 3)})")
    else:
        ax.set_title("choice of xmin")
    return _figure(ax)


def plot_layer(result: Any, *, fig: Figure | SubFigure | None = None, **fits: Any) -> Figure:
    """All four layer panels in one figure, titled with the layer name, alpha, D and phase.

    Panels: :func:`plot_esd`, :func:`plot_esd_loglog`, :func:`plot_mp`, :func:`plot_xmin_scan`.

    Parameters
    ----------
    result : LayerResult, Spectrum, LayerPlotData or array_like
    fig : matplotlib Figure or SubFigure, optional
        Draw into it; by default a new 10 x 7 inch figure.
    **fits
        Passed to :func:`layer_data` (``power_law``, ``scan``, ``mp``, ``rand_evals``, ``name``).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np, htsr
    >>> from htsr.plots import plot_layer
    >>> W = np.random.default_rng(0).standard_normal((300, 100))
    >>> fig = plot_layer(htsr.esd(W), name="fc")
    >>> fig.get_suptitle().split()[0]
    'fc'
    """
    data = layer_data(result, **fits)
    if fig is None:
        import_optional("matplotlib", extra="plot", caller="htsr.plots.plot_layer")
        from matplotlib.figure import Figure

        # fixed margins: constrained layout would cost ~40% more time per figure
        fig = Figure(figsize=(10.0, 7.0))
        fig.subplots_adjust(left=0.08, right=0.93, bottom=0.08, top=0.9, wspace=0.32, hspace=0.38)
    axes = fig.subplots(2, 2)
    plot_esd(data, ax=axes[0, 0])
    plot_esd_loglog(data, ax=axes[0, 1])
    plot_mp(data, ax=axes[1, 0])
    plot_xmin_scan(data, ax=axes[1, 1])
    fig.suptitle(data.title(), fontsize="large")
    return _figure(axes[0, 0])


__all__ = [
    "COLORS",
    "LayerPlotData",
    "layer_data",
    "mp_view",
    "num_bins",
    "plot_esd",
    "plot_esd_loglog",
    "plot_layer",
    "plot_mp",
    "plot_xmin_scan",
    "power_law_line",
]
