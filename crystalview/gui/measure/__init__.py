"""The viewer's measuring tools (Measure menu and toolbar); the maths is `crystalview.measure`.

``install(window)`` is the feature hook listed in `crystalview.gui.docks.FEATURES`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crystalview.gui.main_window import MainWindow


def install(window: MainWindow) -> None:
    from crystalview.gui.measure.tools import MeasureTools

    window.measure = MeasureTools(window)
