"""The heat map's colour bar and exported legend name the method that made the map."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from crystalview.cam.names import evidence_label
from crystalview.gui.cam.heatmap_layer import HeatmapLayer
from crystalview.gui.viewer import ImageViewer


def _bar_title(bar: pg.ColorBarItem) -> str:
    return next(
        axis["item"].labelText
        for axis in bar.axes.values()
        if axis["item"].isVisible() and axis["item"].labelText
    )


def test_colour_bar_names_the_method(qtbot):
    viewer = ImageViewer()
    qtbot.addWidget(viewer)
    layer = HeatmapLayer(viewer)
    heat = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8)
    layer.set_heatmap(heat, method="gradcam")
    assert _bar_title(layer.colour_bar) == "class evidence (Grad-CAM)"
    layer.set_heatmap(heat, method="occlusion")
    assert _bar_title(layer.colour_bar) == "score drop (Occlusion)"
    layer.set_heatmap(heat, method="cam")
    assert _bar_title(layer.colour_bar) == "class evidence (CAM)"


def test_exported_legend_names_the_method(monkeypatch):
    from crystalview.cam import export

    seen = []
    original = export._colour_bar
    monkeypatch.setattr(
        export, "_colour_bar", lambda h, c, label: seen.append(label) or original(h, c, label)
    )
    image = np.random.default_rng(0).random((20, 20))
    export.render_overlay(image, np.zeros((20, 20), np.float32), method="gradcam++")
    assert seen == ["Grad-CAM++"]
    assert evidence_label("gradcam++") == "class evidence (Grad-CAM++)"
