"""What a bug report needs: versions, machine, compute device, settings and the last errors.

No Qt and no torch import here (torch's version is read from its package metadata), so the text
can be built from the CLI, the GUI's "Copy Diagnostics" action, or a test, at no start-up cost.
"""

from __future__ import annotations

import collections
import logging
import os
import platform
import sys
from importlib import metadata

from crystalview import __version__
from crystalview.core.memory import format_bytes, memory_budget_bytes
from crystalview.logs import log_file_path

PACKAGES = (
    "numpy",
    "torch",
    "torchvision",
    "PySide6-Essentials",
    "pyqtgraph",
    "tifffile",
    "imagecodecs",
    "rosettasciio",
    "scikit-image",
    "safetensors",
)


class RecentErrors(logging.Handler):
    """Keeps the last few WARNING-or-worse log records for the diagnostics text."""

    def __init__(self, capacity: int = 20):
        super().__init__(level=logging.WARNING)
        self.records: collections.deque[str] = collections.deque(maxlen=capacity)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.records.append(self.format(record).splitlines()[0])
        except Exception:  # a broken record must not break logging
            self.handleError(record)


_recent = RecentErrors()


def install_recent_errors() -> RecentErrors:
    """Attach the recent-errors buffer to the root logger (once)."""
    root = logging.getLogger()
    if _recent not in root.handlers:
        root.addHandler(_recent)
    return _recent


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def diagnostics_text(device: str | None = None) -> str:
    """A plain-text report to paste into a bug report; ``device`` is what the GUI shows."""
    lines = [
        f"CrystalView {__version__}",
        f"Python {sys.version.split()[0]} ({sys.executable})",
        f"OS {platform.platform()}; machine {platform.machine()}; {os.cpu_count()} CPU cores",
        f"Compute device: {device or 'not chosen yet'}",
        f"Memory budget for one image: {format_bytes(memory_budget_bytes())}",
        f"Log file: {log_file_path()}",
        "",
        "Packages:",
        *(f"  {name} {_version(name)}" for name in PACKAGES),
        "",
        "Recent warnings and errors:",
        *(f"  {line}" for line in _recent.records),
    ]
    if not _recent.records:
        lines.append("  (none)")
    return "\n".join(lines)
