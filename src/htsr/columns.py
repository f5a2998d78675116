"""The one registry of table columns: name, dtype, unit, formula and source.

The DataFrame builder orders columns by this list, ``docs/columns.md`` is generated from it,
and a test checks that every column the analysis produces is registered with a formula and
a source. Names follow WeightWatcher's ``details`` where the quantity is the same.
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
    """

    name: str
    dtype: str
    unit: str
    formula: str
    source: str


_DESIGN = "DESIGN.md section 2"
_JMLR = "Martin & Mahoney, JMLR 22(165) 2021"
_NATCOM = "Martin, Peng & Mahoney, Nat. Commun. 12, 4122 (2021)"

COLUMNS: tuple[Column, ...] = (
    Column("name", "string", "", "full dotted tensor name", "the model"),
    Column(
        "kind",
        "string",
        "",
        "dense, conv1d/2d/3d, embedding, recurrent, attention, ...",
        "module type, else shape and name (htsr.layers.infer_kind)",
    ),
    Column("shape", "string", "", "stored shape, e.g. 384x1536", "the model"),
    Column("dtype", "string", "", "stored dtype of the weights", "the model"),
    Column("N", "Int64", "", "larger side of each matrix (slice)", _DESIGN),
    Column("M", "Int64", "", "smaller side of each matrix (slice)", _DESIGN),
    Column("Q", "float64", "", "N / M", _DESIGN),
    Column(
        "num_slices",
        "Int64",
        "",
        "matrices pooled: k1*...*kd for convolutions, else 1",
        f"{_JMLR}, Section 4",
    ),
    Column("num_evals", "Int64", "", "eigenvalues in the ESD (M * num_slices pooled)", _DESIGN),
    Column("lambda_max", "float64", "W", "s_max^2, squared spectral norm of W", _DESIGN),
    Column("log_norm", "float64", "W", "log10 ||W||_F^2", f"{_NATCOM}, Table 1"),
    Column("log_spectral_norm", "float64", "W", "log10 s_max^2", f"{_NATCOM}, Table 1"),
    Column("stable_rank", "float64", "W", "||W||_F^2 / s_max^2", f"{_JMLR}, eq. (2)"),
    Column(
        "hard_rank",
        "float64",
        "",
        "#{s_i > s_max max(N, M) eps(stored dtype)}; NaN with the float32 solver",
        _DESIGN,
    ),
    Column("rank_loss", "float64", "", "num_evals - hard_rank", _DESIGN),
    Column(
        "rank_collapse_fraction", "float64", "", "fraction of lambda_i < 1e-4 lambda_max", _DESIGN
    ),
    Column(
        "entropy",
        "float64",
        "",
        "-sum p_i ln p_i / ln(hard_rank), p_i = s_i^2 / sum s_j^2",
        f"{_JMLR}, eq. (3)",
    ),
    Column(
        "status", "string", "", "ok, skipped: <reason> or error: <reason>", "DESIGN.md section 4"
    ),
)

COLUMNS_BY_NAME: dict[str, Column] = {c.name: c for c in COLUMNS}


def columns_markdown() -> str:
    """The registry as a Markdown table (for ``docs/columns.md``)."""
    lines = ["| column | unit | formula | source |", "|---|---|---|---|"]
    lines += [f"| `{c.name}` | {c.unit} | {c.formula} | {c.source} |" for c in COLUMNS]
    return "\n".join(lines) + "\n"


__all__ = ["COLUMNS", "COLUMNS_BY_NAME", "Column", "columns_markdown"]
