"""Start the Qt application and the main window.

Kept small so that start-up is quick: nothing here imports torch; model features import it
lazily when first used.
"""

from __future__ import annotations

import logging
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from crystalview import __version__
from crystalview.paths import APP_NAME, demo_paths, resources_dir

log = logging.getLogger(__name__)

ORGANIZATION = "CrystalView"


def app_icon() -> QIcon:
    """The application icon in every size shipped in ``resources/icons``."""
    icon = QIcon()
    folder = resources_dir() / "icons"
    for png in sorted(folder.glob("crystalview-*.png")):
        icon.addFile(str(png))
    svg = folder / "crystalview.svg"
    if icon.isNull() and svg.is_file():
        icon.addFile(str(svg))
    return icon


def _warm_up_readers() -> None:
    """Read a tiny TIFF once so the readers' first-use imports happen while the window builds.

    The first `open_image` call imports the vendor readers and their dependencies (about a
    second on a slow machine); doing it in the background means the user's first image appears
    that much sooner. Failures here are irrelevant: the real load reports its own errors.
    """
    try:
        import numpy as np
        import tifffile

        from crystalview.io import open_image

        with tempfile.TemporaryDirectory(prefix="crystalview-warmup-") as folder:
            path = Path(folder) / "warmup.tif"
            tifffile.imwrite(path, np.zeros((8, 8), np.uint16))
            open_image(path)
    except Exception:  # pragma: no cover - best effort only
        log.debug("reader warm-up failed", exc_info=True)


def ensure_application(argv: Sequence[str] | None = None) -> QApplication:
    """The running QApplication, created (with names and icon) if there is none yet."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(list(argv) if argv is not None else sys.argv[:1])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APP_NAME)
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("crystalview")
    app.setWindowIcon(app_icon())
    return app


def run(paths: Sequence[str | Path] = (), demo: bool = False) -> int:
    """Open the window (with ``paths`` and/or the demo images) and run until it closes."""
    threading.Thread(target=_warm_up_readers, name="reader-warm-up", daemon=True).start()
    app = ensure_application()
    from crystalview.diagnostics import install_recent_errors
    from crystalview.gui.exceptions import install_exception_hook
    from crystalview.gui.main_window import MainWindow

    install_recent_errors()
    window = MainWindow()
    install_exception_hook(window)
    window.show()
    to_open = [Path(p) for p in paths] + (demo_paths() if demo else [])
    if to_open:
        # after the window is on screen, so it appears at once and fills as images arrive
        QTimer.singleShot(0, lambda: window.open_paths(to_open, remember=not demo))
    return int(app.exec())
