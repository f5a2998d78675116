"""The report stage: per-layer results, the table and its column registry, the verdict, and
the text/notebook rendering.

Modules, in import order (each imports only the ones before it and the computing stages):

``columns``
    The column registry with display flags (:data:`COLUMNS`).
``results``
    :class:`LayerResult`, what the analysis produces for one row.
``verdict``
    The ``warning`` column and ``summary["verdict"]``.
``table``
    :func:`layers_frame` and :func:`summarize`.
``report``
    :class:`Report` and :func:`load_report`.
``display``
    Terminal and notebook rendering (imported lazily by :class:`Report`).
``figure_data``, ``html``
    The self-contained HTML report (:meth:`Report.to_html`): what its charts draw, and the
    writer (page, style, script and the vendored chart library in ``static/``).
"""

from htsr.report.columns import COLUMNS, COLUMNS_BY_NAME, Column
from htsr.report.report import Report, load_report
from htsr.report.results import LayerResult
from htsr.report.table import layers_frame, summarize
from htsr.report.verdict import layer_warning, summary_highlights, verdict

__all__ = [
    "COLUMNS",
    "COLUMNS_BY_NAME",
    "Column",
    "LayerResult",
    "Report",
    "layer_warning",
    "layers_frame",
    "load_report",
    "summarize",
    "summary_highlights",
    "verdict",
]
