"""The core packages must import without Qt (and core/io without torch).

Each check runs in a fresh interpreter in which importing PySide6, pyqtgraph (and torch where
forbidden) raises, so an accidental import anywhere in the chain fails the test.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

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
