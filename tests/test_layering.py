"""The layers: core packages import without Qt (core/io without torch), and nothing cycles.

Each import check runs in a fresh interpreter in which importing PySide6, pyqtgraph (and torch
where forbidden) raises, so an accidental import anywhere in the chain fails the test; it walks
every submodule, not only the package roots. An import inside a function would still pass that,
so the sources are also read: no Qt import anywhere outside `crystalview.gui`, and no Qt or
torch import anywhere in `crystalview.core` and `crystalview.io`, lazy ones included.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "crystalview"

BLOCKER = textwrap.dedent(
    """
    import sys
    class Blocker:
        def __init__(self, names):
            self.names = names
        def find_spec(self, name, path=None, target=None):
            if name.split('.')[0] in self.names:
                raise ImportError('blocked import of ' + name)
            return None
    sys.meta_path.insert(0, Blocker({blocked!r}))
    import importlib
    for module in {modules!r}:
        importlib.import_module(module)
    """
)

NO_QT = ("PySide6", "pyqtgraph", "shiboken6", "superqt")


def _import_blocked(modules: list[str], blocked: tuple[str, ...]) -> subprocess.CompletedProcess:
    code = BLOCKER.format(blocked=set(blocked), modules=modules)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    ("modules", "blocked"),
    [
        (
            ["crystalview.core", "crystalview.core.units", "crystalview.core.tiling"],
            (*NO_QT, "torch"),
        ),
        (["crystalview.io"], (*NO_QT, "torch")),
        (
            [
                "crystalview.measure",
                "crystalview.measure.geometry",
                "crystalview.measure.profile",
                "crystalview.measure.fft",
                "crystalview.measure.rings",
                "crystalview.measure.calibration",
                "crystalview.measure.export",
            ],
            (*NO_QT, "torch"),
        ),
        (["crystalview.models", "crystalview.inference", "crystalview.cam"], NO_QT),
        (["crystalview.training", "crystalview.sim"], NO_QT),
        (  # batch jobs: no Qt; torch and Dask only once a model runs or a cluster is used
            [f"crystalview.batch.{m}" for m in ("job", "cluster", "worker", "merge", "resume")],
            (*NO_QT, "torch", "dask", "distributed"),
        ),
    ],
)
def test_core_packages_import_without_qt(modules, blocked):
    result = _import_blocked(modules, blocked)
    assert result.returncode == 0, result.stderr


WALK = textwrap.dedent(
    """
    import pkgutil
    for root in {roots!r}:
        package = importlib.import_module(root)
        for info in pkgutil.walk_packages(package.__path__, root + "."):
            importlib.import_module(info.name)
    """
)


@pytest.mark.parametrize(
    ("roots", "blocked"),
    [
        (
            ["crystalview.core", "crystalview.io"],
            (*NO_QT, "torch", "torchvision"),
        ),
        (
            [
                "crystalview.models",
                "crystalview.inference",
                "crystalview.cam",
                "crystalview.training",
                "crystalview.sim",
                "crystalview.cli",
                "crystalview.jobs",
            ],
            NO_QT,
        ),
    ],
)
def test_every_submodule_imports_without_what_its_layer_forbids(roots, blocked):
    code = BLOCKER.format(blocked=set(blocked), modules=[]) + WALK.format(roots=roots)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_the_settings_and_plan_import_without_torch():
    result = _import_blocked(
        ["crystalview.inference.settings", "crystalview.inference.plan"], (*NO_QT, "torch")
    )
    assert result.returncode == 0, result.stderr


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def imports_of(name: str) -> list[tuple[str, int]]:
    """``(imported module, line)`` for every import in module ``name``, however deeply nested.

    ``from a import b`` counts as importing ``a.b`` when that is a module of ours, else ``a``.
    Imports under ``if TYPE_CHECKING:`` never run, so they do not count.
    """
    path = MODULES[name]
    found: list[tuple[str, int]] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if _is_type_checking(child):
                for other in child.orelse:
                    visit_node(other)
                continue
            visit_node(child)

    def visit_node(node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name if path.name == "__init__.py" else name.rpartition(".")[0]
                for _ in range(node.level - 1):
                    package = package.rpartition(".")[0]
                base = f"{package}.{base}" if base else package
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.append((full if full in MODULES else base, node.lineno))
        visit(node)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return found


def _forbidden_imports(packages: tuple[str, ...], roots: tuple[str, ...]) -> list[str]:
    return [
        f"{MODULES[name].relative_to(PACKAGE.parent)}:{line} imports {imported}"
        for name in MODULES
        if name.startswith(packages)
        for imported, line in imports_of(name)
        if imported.split(".")[0] in roots
    ]


def test_core_and_io_sources_import_neither_qt_nor_torch_even_lazily():
    roots = (*NO_QT, "torch", "torchvision")
    assert _forbidden_imports(("crystalview.core", "crystalview.io"), roots) == []


def test_only_the_gui_imports_qt_even_lazily():
    outside_gui = tuple(
        name for name in MODULES if not name.startswith("crystalview.gui") and "." in name
    )
    assert _forbidden_imports(outside_gui, NO_QT) == []


# GUI wiring that needs no Qt name of its own: the window's exception hook.
GUI_WITHOUT_QT = {"crystalview.gui.exceptions"}


def test_gui_holds_only_qt_code():
    # headless code belongs below gui/ (crystalview.jobs …), where the CLI can run it too
    qt_free = [
        name
        for name, path in MODULES.items()
        if name.startswith("crystalview.gui.")
        and path.name != "__init__.py"
        and name not in GUI_WITHOUT_QT
        and not any(imported.split(".")[0] in NO_QT for imported, _ in imports_of(name))
    ]
    assert qt_free == []


def test_the_source_check_sees_lazy_imports(tmp_path, monkeypatch):
    module = tmp_path / "crystalview" / "core" / "sneaky.py"
    module.parent.mkdir(parents=True)
    module.write_text("def f():\n    import torch\n")
    monkeypatch.setitem(MODULES, "crystalview.core.sneaky", module)
    assert imports_of("crystalview.core.sneaky") == [("torch", 2)]


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_package_has_no_import_cycles():
    graph = {
        name: {imported for imported, _ in imports_of(name) if imported in MODULES} - {name}
        for name in MODULES
    }
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_cycles():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
