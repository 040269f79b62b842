"""The heat-map layer: a colour-mapped `ImageItem` over the viewer's image, and its colour bar.

The map is drawn in the image's own pixel coordinates (a map of shape ``(H, W)`` covers exactly
the image's ``W x H`` pixels), so it follows zoom and pan with the image. Colour map, threshold
and opacity are view settings: they re-colour the same map without recomputing it. The colours
come from `crystalview.cam.colormaps`, the tables the exported PNG uses, so what the user saw is
what they export.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from crystalview.cam.names import evidence_label
from crystalview.gui.viewer import ImageViewer

LAYER_NAME = "heat-map"
HEATMAP_COLORMAPS: tuple[str, ...] = ("inferno", "viridis", "magma", "jet")
# Above the per-tile class colours (z 15), below the tile grid (z 20) and the selected-tile
# highlight (z 25), so tile boundaries stay visible over the map.
_Z = 17.0


def threshold_lut(colormap: str, threshold: float) -> np.ndarray:
    """RGBA lookup table ``(256, 4)`` uint8: the colour map, transparent below ``threshold``.

    Hiding weak evidence lets the user see the image under everything but the hot spots.
    """
    from crystalview.cam.colormaps import colormap_lut

    lut = np.empty((256, 4), dtype=np.uint8)
    lut[:, :3] = colormap_lut(colormap, 256)
    lut[:, 3] = 255
    cut = int(np.ceil(np.clip(threshold, 0.0, 1.0) * 255))
    lut[:cut, 3] = 0
    return lut


class HeatmapLayer:
    """A heat map drawn over an `ImageViewer`, with a colour bar beside the image.

    Parameters
    ----------
    viewer
        Receives the map as its ``"heat-map"`` layer; the colour bar goes in the viewer's
        graphics layout to the right of the image while a map is shown.
    """

    def __init__(self, viewer: ImageViewer):
        self.viewer = viewer
        self.item = pg.ImageItem()
        self.item.setVisible(False)
        viewer.add_layer(LAYER_NAME, self.item, z=_Z)
        self.heatmap: np.ndarray | None = None
        self.colormap = HEATMAP_COLORMAPS[0]
        self.threshold = 0.0
        self.opacity = 0.5
        self.enabled = True
        self._bar: pg.ColorBarItem | None = None
        self._bar_shown = False
        self.label = evidence_label(None)
        viewer.set_layer_opacity(LAYER_NAME, self.opacity)

    # -- content ---------------------------------------------------------------------------------

    def set_heatmap(self, heatmap: np.ndarray | None, method: str | None = None) -> None:
        """Show ``heatmap`` (float 0..1, the image's shape) or clear the layer with ``None``;
        ``method`` (``"gradcam"`` …) names what made it on the colour bar."""
        self.heatmap = None if heatmap is None else np.asarray(heatmap, dtype=np.float32)
        self.label = evidence_label(method)
        if self._bar is not None:
            self._bar.getAxis("left").setLabel(self.label)  # where ColorBarItem puts it
        if self.heatmap is None:
            self.item.clear()
        else:
            self.item.setImage(self.heatmap, levels=(0.0, 1.0), autoLevels=False)
            self._recolour()
        self._update_visibility()

    @property
    def shown(self) -> bool:
        """True when a map is on screen."""
        return self.item.isVisible()

    # -- view settings ---------------------------------------------------------------------------

    def set_colormap(self, name: str) -> None:
        if name not in HEATMAP_COLORMAPS:
            raise ValueError(f"unknown colour map {name!r}")
        self.colormap = name
        self._recolour()

    def set_threshold(self, threshold: float) -> None:
        """Hide map values below ``threshold`` (0..1)."""
        self.threshold = float(np.clip(threshold, 0.0, 1.0))
        self._recolour()

    def set_opacity(self, opacity: float) -> None:
        self.opacity = float(np.clip(opacity, 0.0, 1.0))
        self.viewer.set_layer_opacity(LAYER_NAME, self.opacity)

    def set_enabled(self, enabled: bool) -> None:
        """The on/off switch: hide the layer and its colour bar without forgetting the map."""
        self.enabled = bool(enabled)
        self._update_visibility()

    def _recolour(self) -> None:
        if self.heatmap is None:
            return
        self.item.setLookupTable(threshold_lut(self.colormap, self.threshold))
        if self._bar is not None:
            self._bar.setColorMap(self._bar_colormap())

    # -- colour bar ------------------------------------------------------------------------------

    def _bar_colormap(self) -> pg.ColorMap:
        from crystalview.cam.colormaps import colormap_lut

        lut = colormap_lut(self.colormap, 64)
        return pg.ColorMap(np.linspace(0.0, 1.0, len(lut)), lut, name=self.colormap)

    def _update_visibility(self) -> None:
        visible = self.enabled and self.heatmap is not None
        self.item.setVisible(visible)
        self._show_bar(visible)

    def _show_bar(self, show: bool) -> None:
        # Taken out of the layout when hidden, so the image gets the full width back.
        layout = self.viewer.graphics
        if show and not self._bar_shown:
            if self._bar is None:
                self._bar = pg.ColorBarItem(
                    values=(0.0, 1.0),
                    colorMap=self._bar_colormap(),
                    label=self.label,
                    interactive=False,
                    colorMapMenu=False,
                    width=14,
                )
            else:
                self._bar.setColorMap(self._bar_colormap())
            layout.addItem(self._bar, row=0, col=1)
            self._bar_shown = True
        elif not show and self._bar_shown:
            layout.removeItem(self._bar)
            self._bar_shown = False

    @property
    def colour_bar(self) -> pg.ColorBarItem | None:
        """The legend item while it is shown, else ``None``."""
        return self._bar if self._bar_shown else None

    def remove(self) -> None:
        """Take the layer and its colour bar off the viewer."""
        self._show_bar(False)
        self.viewer.remove_layer(LAYER_NAME)
