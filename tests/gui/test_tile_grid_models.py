"""The tile grid says whole pixels, and never suggests tiles to a whole-image model's user."""

from __future__ import annotations

import numpy as np


def test_tile_size_reads_whole_pixels(qtbot, window):
    dock = window.tile_dock
    assert dock.size_box.text() == "224"
    dock.unit_box.setCurrentText("nm")
    assert dock.size_box.decimals() == 1
    dock.unit_box.setCurrentText("px")
    assert dock.size_box.decimals() == 0


def test_choosing_a_whole_image_model_switches_the_grid_off_and_says_why(
    qtbot, window, make_tiff, tmp_path
):
    path = make_tiff(tmp_path / "big.tif", np.zeros((300, 500), np.uint8))
    window.open_paths([path], remember=False)
    qtbot.waitUntil(lambda: window.current is not None, timeout=10_000)
    dock = window.tile_dock
    dock.set_whole_image_model(None)
    dock.show_box.setChecked(True)
    dock.set_whole_image_model("saed-crystal-system")
    assert not dock.show_box.isChecked()
    assert "reads the whole image" in dock.show_box.toolTip()
    dock.show_box.setChecked(True)  # still usable as a drawing aid, with the warning
    assert "Not what saed-crystal-system sees" in dock.info.text()
    dock.set_whole_image_model(None)
    assert "Not what" not in dock.info.text()
