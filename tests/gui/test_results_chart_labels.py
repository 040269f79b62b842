"""Class names under the probability bars never run into each other."""

from __future__ import annotations

from PySide6.QtGui import QFontMetrics

from crystalview.gui.docks.results import ProbabilityChart

NAMES = ["orthorhombic (pseudo-hexagonal)", "monoclinic or triclinic", "tetragonal", "cubic"]


def test_long_class_names_are_shortened_to_their_bar(qtbot):
    chart = ProbabilityChart()
    qtbot.addWidget(chart)
    chart.resize(320, 180)
    chart.show()
    qtbot.waitExposed(chart)
    chart.set_probabilities(NAMES, [0.5, 0.3, 0.15, 0.05])
    labels = chart.tick_labels()
    axis = chart.getAxis("bottom")
    metrics = QFontMetrics(axis.style.get("tickFont") or chart.font())
    slot = chart.getViewBox().width() / len(NAMES)
    assert all(metrics.horizontalAdvance(text) <= slot for text in labels), labels
    assert labels[3] == "cubic"  # short names stay whole
    assert "orthorhombic (pseudo-hexagonal): 50.0%" in chart.toolTip()

    chart.resize(1400, 180)  # room enough: full names
    qtbot.waitUntil(lambda: chart.tick_labels()[0] == NAMES[0], timeout=2000)
