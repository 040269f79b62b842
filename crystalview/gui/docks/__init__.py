"""Dock widgets of the main window, and the one place where features add theirs.

A feature (model runs, heat maps, the fine-tune wizard) is a module with an
``install(window: MainWindow) -> None`` function that builds its widgets and calls
``window.add_dock(...)``, ``window.viewer.add_layer(...)`` or adds menu actions. List the module
in `FEATURES` and the window installs it at start-up, in this order. Keep torch out of the
module's top-level imports (import it inside the functions that run models), so the window
still opens in about a second.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crystalview.gui.main_window import MainWindow

FEATURES: tuple[str, ...] = (
    "crystalview.gui.docks.model",
    "crystalview.gui.cam",
    "crystalview.gui.measure",
    "crystalview.gui.wizard.launch",
)
"""Dotted module names, each with ``install(window)``; e.g. ``"crystalview.gui.docks.model"``."""


def install_features(window: MainWindow, features: tuple[str, ...] | None = None) -> None:
    """Call ``install(window)`` of every feature module (`FEATURES` by default)."""
    for name in FEATURES if features is None else features:
        importlib.import_module(name).install(window)
