"""Pixel sizes and image sizes on screen: the unit a person would use, width x height."""

from __future__ import annotations

import numpy as np

from crystalview.core.micrograph import Micrograph, Modality
from crystalview.gui.docks.metadata import MetadataDock


def _zeiss_like() -> Micrograph:
    return Micrograph(
        data=np.zeros((768, 1024), np.uint8),
        pixel_size=2615.349807739258,
        pixel_unit="nm",
        modality=Modality.SEM,
        metadata={"CZ_SEM": {"ap_image_pixel_size_long_vendor_key": "2.615 µm"}},
    )


def _item(tree, *labels):
    parent = tree.invisibleRootItem()
    for label in labels:
        parent = next(
            parent.child(i) for i in range(parent.childCount()) if parent.child(i).text(0) == label
        )
    return parent


def test_metadata_dock_shows_rounded_pixel_size_and_width_by_height(qtbot):
    dock = MetadataDock()
    qtbot.addWidget(dock)
    dock.resize(500, 400)
    dock.set_micrograph(_zeiss_like())
    assert _item(dock.tree, "Image", "pixel_size").text(1) == "2.615 µm/px"
    assert _item(dock.tree, "Image", "size").text(1) == "1024 x 768 px"


def test_metadata_dock_keys_are_not_cut_off(qtbot):
    dock = MetadataDock()
    qtbot.addWidget(dock)
    dock.resize(700, 400)
    dock.show()
    dock.set_micrograph(_zeiss_like())
    item = _item(dock.tree, "Metadata", "CZ_SEM", "ap_image_pixel_size_long_vendor_key")
    needed = dock.tree.fontMetrics().horizontalAdvance(item.text(0)) + 2 * dock.tree.indentation()
    assert dock.tree.columnWidth(0) >= needed
    assert item.toolTip(0) == item.text(0)


def test_status_bar_pixel_size_uses_the_right_unit(qtbot, window, make_tiff, tmp_path):
    path = make_tiff(tmp_path / "sem.tif", np.zeros((30, 50), np.uint8), pixel_size_nm=2615.3498)
    window.open_paths([path], remember=False)
    qtbot.waitUntil(lambda: window.current is not None, timeout=10_000)
    text = window.pixel_label.text()
    assert "50 x 30 px" in text and "2.615 µm/px" in text, text
