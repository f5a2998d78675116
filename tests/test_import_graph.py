"""The import graph: no cycle, and no stage imports a downstream stage.

Stages, upstream first: base helpers -> sources -> layers -> spectrum -> fit -> rmt -> metrics
-> phases -> report data (columns, results, verdict, table, report) -> analysis -> views
(report.display, html, plots) -> compare, monitor, experiments -> cli -> the package root.
The report package's data modules sit before analysis: the analysis produces their
``LayerResult`` and ``Report``, and nothing in them imports the analysis. Imports inside
functions (lazy) are checked too; the only downstream ones allowed are the facades listed in
``LAZY_FACADES`` (``Report.plot_layer`` reaching ``htsr.plots``, the way ``DataFrame.plot``
reaches matplotlib).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).parents[1] / "src" / "htsr"

STAGES: tuple[tuple[str, ...], ...] = (
    ("htsr._compat", "htsr._optional", "htsr.errors", "htsr._version", "htsr._io"),
    ("htsr._execution",),
    ("htsr._validation",),
    ("htsr.sources",),
    ("htsr.layers",),
    ("htsr.spectrum", "htsr.lowrank", "htsr.entries"),
    ("htsr.localization",),  # top eigenvectors of heavy-tailed layers (the worker's)
    ("htsr.cache",),
    ("htsr.fit",),
    ("htsr.rmt",),
    ("htsr.compute",),  # what a worker runs: no fits, pandas or report imported
    ("htsr.metrics",),
    ("htsr.phases",),
    ("htsr.report.columns",),
    ("htsr.report.results", "htsr.report.verdict"),
    ("htsr.report.table", "htsr.report.groups"),
    ("htsr.report.report",),
    ("htsr.report",),  # the package's __init__ re-exports the data modules above
    ("htsr.analysis",),
    ("htsr.report.display",),
    ("htsr.report.figure_data",),
    ("htsr.report.html", "htsr.plots"),
    ("htsr.compare", "htsr.distances", "htsr.monitor", "htsr.experiments"),
    ("htsr.cli",),
    ("htsr", "htsr.__main__"),
)
#: (importer, imported) pairs of lazy imports that go downstream on purpose.
LAZY_FACADES = {
    # the process-pool initializer imports the per-tensor code in each new worker
    ("htsr._execution", "htsr.compute"),
    ("htsr.report.report", "htsr.plots"),
    ("htsr.report.report", "htsr.report.html"),
    ("htsr.report.report", "htsr.report.display"),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def stage(module: str) -> int:
    best, best_len = -1, -1
    for rank, prefixes in enumerate(STAGES):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = rank, len(prefix)
    assert best >= 0, f"{module} is in no stage; add it to STAGES"
    return best


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(path: Path) -> tuple[set[str], set[str]]:
    """(module-level, lazy) htsr imports of a file; TYPE_CHECKING blocks are left out."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    top: set[str] = set()
    lazy: set[str] = set()

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for sub in child.orelse:
                    visit(sub, in_function)
                continue
            inner = in_function or isinstance(
                child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
            )
            names: list[str] = []
            if isinstance(child, ast.Import):
                names = [a.name for a in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - child.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                names = [base]
                names += [f"{base}.{a.name}" for a in child.names]
            for name in names:
                if name == "htsr" or name.startswith("htsr."):
                    (lazy if inner else top).add(_known(name))
            visit(child, inner)

    visit(ast.parse(path.read_text()), False)
    top.discard(module)
    lazy.discard(module)
    return top, lazy


def _known(name: str) -> str:
    """The longest prefix of ``name`` that is a module of the package."""
    parts = name.split(".")
    while parts:
        candidate = SRC.parent.joinpath(*parts)
        if candidate.with_suffix(".py").exists() or (candidate / "__init__.py").exists():
            return ".".join(parts)
        parts.pop()
    return name


MODULES = {module_name(p): p for p in sorted(SRC.rglob("*.py"))}
GRAPH = {m: imports(p) for m, p in MODULES.items()}


def test_no_module_imports_a_downstream_stage() -> None:
    bad = []
    for module, (top, lazy) in GRAPH.items():
        for target in top | lazy:
            if target == "htsr" and module != "htsr.__main__":
                bad.append(f"{module} imports the package root")
                continue
            if stage(target) > stage(module) and (module, target) not in LAZY_FACADES:
                kind = "lazily " if target in lazy - top else ""
                bad.append(f"{module} {kind}imports downstream {target}")
    assert not bad, "\n".join(bad)


def test_module_level_imports_have_no_cycle() -> None:
    edges = {m: {t for t in top if t in GRAPH and t != m} for m, (top, _) in GRAPH.items()}
    # a package's __init__ importing its own submodules is not a cycle
    for m in edges:
        edges[m] = {t for t in edges[m] if not t.startswith(m + ".")}
    state: dict[str, int] = {}
    path: list[str] = []

    def walk(node: str) -> None:
        state[node] = 1
        path.append(node)
        for target in sorted(edges[node]):
            if state.get(target) == 1:
                cycle = [*path[path.index(target) :], target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                walk(target)
        path.pop()
        state[node] = 2

    for module in sorted(edges):
        if module not in state:
            walk(module)


@pytest.mark.parametrize("module", ["htsr.report", "htsr.cli.main"])
def test_each_module_imports_alone_without_views(module: str) -> None:
    """Imported alone in a fresh interpreter, the data modules load no view and no plotting."""
    code = (
        f"import sys, {module}; "
        "print(' '.join(m for m in sys.modules if m.startswith(('matplotlib', 'rich', "
        "'htsr.plots', 'htsr.report.html', 'htsr.report.figure_data', 'htsr.report.display', "
        "'jinja2'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert not out, f"importing {module} loaded {out}"
