"""The one registry of table columns: name, dtype, unit, formula, source and display flags.

The DataFrame builder orders columns by this list, ``docs/columns.md`` is generated from it,
and a test checks that every column the analysis produces is registered with a formula and
a source. Every list of columns elsewhere (the terminal table, the HTML table, the summary
means, the monitor's history, the experiment tables) is derived from the flags here.
Names follow WeightWatcher's ``details`` where the quantity is the same (docs/weightwatcher.md).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Column:
    """One column of :attr:`htsr.Report.layers`.

    Attributes
    ----------
    name : str
        Column name.
    dtype : str
        pandas dtype (``float64``, ``int64``, ``string``).
    unit : str
        Unit or scale (``ESD`` = eigenvalues of X = W^T W / N; ``W`` = of W itself).
    formula : str
        Definition.
    source : str
        Paper, equation or document defining it.
    table : int or None
        Priority in the default terminal table (1 = shown first, kept at any width);
        None: not a default column (``--columns`` can still ask for it).
    summary : bool
        Averaged over analysed layers in :attr:`htsr.Report.summary`.
    fit_status : str
        For a summary mean that needs a fit: the status column that must be ``ok``.
    recorded : bool
        Recorded by :mod:`htsr.monitor` in each epoch's history (and in experiment tables).
    html : bool
        Shown in the HTML report's table.
    """

    name: str
    dtype: str
    unit: str
    formula: str
    source: str
    table: int | None = None
    summary: bool = False
    fit_status: str = ""
    recorded: bool = False
    html: bool = False

    @property
    def header(self) -> str:
        """Name with its unit where the unit is not plain (``lambda_max [W]``)."""
        return f"{self.name} [{self.unit}]" if self.unit else self.name


_DEFS = "docs/definitions.md"
_JMLR = "Martin & Mahoney, JMLR 22(165) 2021"
_NATCOM = "Martin, Peng & Mahoney, Nat. Commun. 12, 4122 (2021)"

_CSN = "Clauset, Shalizi & Newman, SIAM Rev. 51 (2009)"

#: Columns from the fits of the ESD (power law, alternatives, MP) and the randomized ESD.
FIT_COLUMNS: tuple[Column, ...] = (
    Column(
        "alpha",
        "float64",
        "",
        "power-law exponent of the ESD tail: "
        "1 + n / sum ln(lambda_i / xmin) over the n eigenvalues >= xmin",
        f"{_CSN}, eq. (3.1); reproduces powerlaw 1.x",
        table=1,
        summary=True,
        fit_status="pl_status",
        recorded=True,
        html=True,
    ),
    Column(
        "alpha_weighted",
        "float64",
        "",
        "alpha * log10 s_max^2",
        f"{_NATCOM}, eq. (5)",
        summary=True,
        fit_status="pl_status",
        html=True,
    ),
    Column(
        "log_alpha_norm",
        "float64",
        "W",
        "log10 sum_i (s_i^2)^alpha",
        f"{_NATCOM}, eq. (6)",
        summary=True,
        fit_status="pl_status",
        html=True,
    ),
    Column(
        "xmin",
        "float64",
        "ESD",
        "start of the tail: the candidate with the smallest KS distance D "
        "(ESD units; WeightWatcher's xmin is N times larger)",
        f"{_CSN}, Section 3.3",
        html=True,
    ),
    Column(
        "xmax",
        "float64",
        "ESD",
        "end of the tail (largest eigenvalue unless truncated)",
        "docs/powerlaw.md",
    ),
    Column(
        "D",
        "float64",
        "",
        "KS distance between the tail and the fitted power law",
        f"{_CSN}, eq. (3.9)",
        table=5,
        html=True,
    ),
    Column(
        "sigma",
        "float64",
        "",
        "standard error of alpha: (alpha - 1) / sqrt(n)",
        f"{_CSN}, eq. (3.2)",
    ),
    Column(
        "num_pl_spikes",
        "float64",
        "",
        "n, eigenvalues in the fitted tail [xmin, xmax]",
        _DEFS,
        html=True,
    ),
    Column(
        "pl_status",
        "string",
        "",
        "ok, or why the power-law fit failed",
        "htsr.fit.status.FitStatus",
    ),
    Column(
        "best_fit",
        "string",
        "",
        "power_law unless an alternative (truncated power law, "
        "lognormal, exponential, stretched exponential) has Vuong R < 0 with p <= 0.05",
        f"Vuong, Econometrica 57 (1989); {_CSN}, Section 5",
    ),
    Column(
        "tpl_alpha",
        "float64",
        "",
        "alpha of the truncated power law x^-alpha e^(-Lambda x)",
        f"{_CSN}, Table 2.1",
    ),
    Column(
        "tpl_lambda", "float64", "1/ESD", "Lambda of the truncated power law", f"{_CSN}, Table 2.1"
    ),
    Column(
        "mp_sigma",
        "float64",
        "",
        "element scale sigma of the fitted Marchenko-Pastur bulk, in units of W's entries "
        "(not WeightWatcher's sigma_mp, which is fitted on the ESD rescaled to mean 1)",
        "docs/rmt.md",
    ),
    Column(
        "lambda_plus",
        "float64",
        "ESD",
        "MP bulk edge sigma^2 (1 + 1/sqrt(Q))^2",
        f"{_JMLR}, eq. (9)",
    ),
    Column(
        "num_tw_spikes",
        "float64",
        "",
        "eigenvalues above lambda_plus + c * tw (Tracy-Widom margin, htsr.fit.mp.TW_MARGIN); "
        "not WeightWatcher's num_spikes, which counts above a wider margin (lower or equal)",
        f"{_DEFS}; docs/rmt.md",
        table=7,
        html=True,
    ),
    Column("spike_fraction", "float64", "", "num_tw_spikes / num_evals", _DEFS, recorded=True),
    Column(
        "mp_softrank",
        "float64",
        "",
        "lambda_plus / lambda_max (the same ratio as WeightWatcher's; lambda_plus from "
        "htsr's MP fit, not WeightWatcher's density fit)",
        f"{_JMLR}, Section 5; {_DEFS}",
        table=7,
        summary=True,
        fit_status="mp_status",
        recorded=True,
        html=True,
    ),
    Column(
        "mp_ks",
        "float64",
        "",
        "KS distance between the bulk eigenvalues and the fitted MP CDF",
        "docs/rmt.md",
    ),
    Column("mp_status", "string", "", "ok, or why the MP fit failed", "htsr.fit.status.FitStatus"),
    Column(
        "rand_lambda_max",
        "float64",
        "ESD",
        "largest eigenvalue of the element-shuffled W",
        f"{_DEFS}; Martin & Mahoney, SDM 2020",
    ),
    Column(
        "rand_log_w1",
        "float64",
        "decades",
        "Wasserstein-1 distance between the log10 ESDs of W and of shuffled W "
        "(WeightWatcher's rand_distance is a Jensen-Shannon distance: not the same)",
        "docs/rmt.md",
        table=6,
    ),
    Column(
        "num_traps",
        "float64",
        "",
        "eigenvalues of the shuffled ESD above its own MP edge + TW margin (correlation traps)",
        f"{_DEFS}; docs/rmt.md",
        table=3,
        html=True,
    ),
)

COLUMNS: tuple[Column, ...] = (
    Column("name", "string", "", "full dotted tensor name", "the model", table=1, html=True),
    Column(
        "kind",
        "string",
        "",
        "dense, conv1d/2d/3d, embedding, recurrent, attention, ...",
        "module type, else shape and name (htsr.layers.infer_kind)",
        table=4,
        html=True,
    ),
    Column("shape", "string", "", "stored shape, e.g. 384x1536", "the model", html=True),
    Column("dtype", "string", "", "stored dtype of the weights", "the model"),
    Column(
        "quant_type",
        "string",
        "",
        "stored quantisation of the tensor (GGUF ggml type: Q4_K, Q8_0, F16, ...), "
        "dequantised to float32 for the analysis",
        "the model file; docs/formats.md",
    ),
    Column("N", "Int64", "", "larger side of each matrix (slice)", _DEFS, table=3, html=True),
    Column("M", "Int64", "", "smaller side of each matrix (slice)", _DEFS, table=3, html=True),
    Column("Q", "float64", "", "N / M", _DEFS, html=True),
    Column(
        "num_slices",
        "Int64",
        "",
        "matrices pooled: k1*...*kd for convolutions, else 1",
        f"{_JMLR}, Section 4",
    ),
    Column("num_evals", "Int64", "", "eigenvalues in the ESD (M * num_slices pooled)", _DEFS),
    Column("lambda_max", "float64", "W", "s_max^2, squared spectral norm of W", _DEFS),
    Column(
        "log_norm",
        "float64",
        "W",
        "log10 ||W||_F^2",
        f"{_NATCOM}, Table 1",
        summary=True,
        html=True,
    ),
    Column(
        "log_spectral_norm",
        "float64",
        "W",
        "log10 s_max^2",
        f"{_NATCOM}, Table 1",
        summary=True,
        html=True,
    ),
    Column(
        "stable_rank",
        "float64",
        "W",
        "||W||_F^2 / s_max^2",
        f"{_JMLR}, eq. (2)",
        table=6,
        summary=True,
        recorded=True,
        html=True,
    ),
    Column(
        "hard_rank",
        "float64",
        "",
        "#{s_i > 2 eps(stored dtype) ||W||_F (N^-1/2 + M^-1/2)} (storage round-off); "
        "NaN with the float32 solver",
        _DEFS,
        table=8,
        html=True,
    ),
    Column("rank_loss", "float64", "", "num_evals - hard_rank", _DEFS),
    Column(
        "rank_collapse_fraction",
        "float64",
        "",
        "fraction of lambda_i in a cluster at (numerically) zero, below a gap of >= 2 decades",
        _DEFS,
        recorded=True,
    ),
    Column(
        "entropy",
        "float64",
        "",
        "-sum p_i ln p_i / ln(hard_rank), p_i = s_i^2 / sum s_j^2",
        f"{_JMLR}, eq. (3)",
        summary=True,
        html=True,
    ),
    *FIT_COLUMNS,
    Column(
        "phase",
        "string",
        "",
        "random_like, bleeding_out, bulk_spikes, bulk_decay, "
        "heavy_tailed or rank_collapse, by the rules of htsr.phases",
        f"{_JMLR}, Section 5; docs/phases.md",
        table=2,
        recorded=True,
        html=True,
    ),
    Column(
        "phase_reason",
        "string",
        "",
        "the measured quantities that put the layer in its phase",
        "htsr.phases.classify_layer",
    ),
    Column(
        "universality",
        "string",
        "",
        "very / moderately / weakly heavy-tailed, or none",
        f"{_JMLR}, Table 1",
        html=True,
    ),
    Column(
        "mu",
        "float64",
        "",
        "element tail exponent estimated from alpha by the project's "
        "calibration of alpha(mu) at the layer's shape",
        "htsr.rmt.mu_from_alpha; docs/rmt.md",
    ),
    Column(
        "element_mu",
        "float64",
        "",
        "tail exponent of the entries abs(W_ij) (Hill estimate on the top 1%)",
        "htsr.metrics.element_tail_index; docs/phases.md",
    ),
    Column(
        "localization",
        "float64",
        "",
        "largest inverse participation ratio of the top 5 eigenvectors of X, over a random "
        "unit vector's 3/(M+2) (1 delocalized, (M+2)/3 one column); computed only where "
        "element_mu < 4, else NaN",
        "htsr.localization.localization_ratio; JMLR 2021, Section 3; docs/phases.md",
    ),
    Column(
        "warning",
        "string",
        "",
        "over-trained (alpha < 2), under-trained (alpha > 6), rank-collapsed or random-like "
        "(from the phase), joined by ', '; empty when none applies",
        "WeightWatcher 0.7.7 ``warning`` thresholds; docs/definitions.md",
        table=1,
        html=True,
    ),
    Column(
        "status",
        "string",
        "",
        "ok, skipped: <reason> or error: <reason>",
        _DEFS,
        table=9,
        html=True,
    ),
    Column(
        "group",
        "string",
        "",
        "mixture-of-experts group: the name with the expert index replaced by *",
        "htsr.layers.expert_group; docs/engine.md",
    ),
    Column(
        "note",
        "string",
        "",
        "why a fused projection was analysed whole",
        "htsr.layers.split_parts; docs/engine.md",
    ),
)

COLUMNS_BY_NAME: dict[str, Column] = {c.name: c for c in COLUMNS}

#: Columns averaged in the summary, in registry order.
SUMMARY_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.summary)
#: Columns recorded per epoch by the monitor (and shown in experiment tables).
RECORDED_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.recorded)
#: Columns of the HTML table, in registry order.
HTML_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.html)
#: Default terminal-table columns, in registry order (see :func:`table_columns`).
TABLE_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.table is not None)


def columns_markdown() -> str:
    """The registry as a Markdown table (for ``docs/columns.md``)."""
    lines = ["| column | unit | formula | source |", "|---|---|---|---|"]
    lines += [f"| `{c.name}` | {c.unit} | {c.formula} | {c.source} |" for c in COLUMNS]
    return "\n".join(lines) + "\n"


#: The command that writes ``docs/columns.md``.
COLUMNS_PAGE_COMMAND = (
    "python -c 'from htsr.report.columns import columns_page; "
    'print(columns_page(), end="")\' > docs/columns.md'
)


def columns_page() -> str:
    """The whole ``docs/columns.md`` page (see :data:`COLUMNS_PAGE_COMMAND`)."""
    flags = (
        "Flags: `table` = default column of the terminal table, with its priority (1 is kept at "
        "any width); `summary` = averaged in the summary; `recorded` = recorded by "
        "`htsr.monitor`; `html` = shown in the HTML table. Units: `ESD` = eigenvalues of "
        "X = W^T W / N; `W` = of W itself (s_i^2, N times the ESD unit); `decades` = log10 of "
        "an ESD ratio. See docs/definitions.md.\n"
    )
    rows = ["| column | unit | flags | formula | source |", "|---|---|---|---|---|"]
    for c in COLUMNS:
        marks = [f"table {c.table}"] if c.table is not None else []
        marks += [f for f, on in (("summary", c.summary), ("recorded", c.recorded)) if on]
        marks += ["html"] if c.html else []
        rows.append(f"| `{c.name}` | {c.unit} | {', '.join(marks)} | {c.formula} | {c.source} |")
    return (
        "# Columns of `Report.layers`\n\n"
        f"Generated from `htsr.report.columns.COLUMNS` by\n`{COLUMNS_PAGE_COMMAND}`.\n\n"
        + flags
        + "\n"
        + "\n".join(rows)
        + "\n"
    )


__all__ = [
    "COLUMNS",
    "COLUMNS_BY_NAME",
    "FIT_COLUMNS",
    "HTML_COLUMNS",
    "RECORDED_COLUMNS",
    "SUMMARY_COLUMNS",
    "TABLE_COLUMNS",
    "Column",
    "columns_markdown",
    "columns_page",
]
