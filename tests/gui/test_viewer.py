"""The viewer: contrast, log view, scale bar, read-out, frames and layers."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtWidgets import QGraphicsRectItem

from crystalview.core.micrograph import Micrograph, Modality
from crystalview.gui.scalebar import nice_length, scale_bar_label
from crystalview.gui.viewer import ImageViewer
from crystalview.io.display import auto_levels


@pytest.fixture
def viewer(qtbot):
    widget = ImageViewer()
    qtbot.addWidget(widget)
    widget.resize(800, 600)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def sixteen_bit() -> np.ndarray:
    rng = np.random.default_rng(1)
    image = rng.normal(20000, 1500, (64, 80)).clip(0, 65535).astype(np.uint16)
    image[0, 0], image[-1, -1] = 0, 65535  # outliers must not set the levels
    return image


def test_sixteen_bit_levels_are_robust_percentiles(viewer):
    data = sixteen_bit()
    viewer.set_micrograph(Micrograph(data, modality=Modality.SEM))
    lo, hi = viewer.levels()
    assert (lo, hi) == pytest.approx(auto_levels(data, Modality.SEM))
    assert 10000 < lo < 20000 < hi < 30000
    assert not viewer.log_box.isChecked()


def test_diffraction_opens_in_log_view_with_data_unit_levels(viewer):
    yy, xx = np.mgrid[-32:32, -32:32]
    pattern = (1e5 * np.exp(-(xx**2 + yy**2) / 4.0) + 10).astype(np.float32)
    viewer.set_micrograph(
        Micrograph(pattern, pixel_size=0.17, pixel_unit="1/nm", modality=Modality.SAED)
    )
    assert viewer.log_box.isChecked()
    assert viewer.levels() == pytest.approx(auto_levels(pattern, True), rel=1e-4)
    assert viewer.scale_bar.text.endswith("1/nm")
    viewer.log_box.setChecked(False)
    assert viewer.levels() == pytest.approx(auto_levels(pattern, False), rel=1e-4)


def test_scale_bar_for_calibrated_and_hidden_for_uncalibrated(viewer, qtbot):
    viewer.set_micrograph(Micrograph(sixteen_bit(), pixel_size=2.5, pixel_unit="nm"))
    qtbot.waitUntil(lambda: viewer.scale_bar.isVisible())
    # 80 px x 2.5 nm = 200 nm wide; a fifth of the view (with padding) rounds down to 20 nm
    assert viewer.scale_bar.text == "20 nm"
    viewer.set_micrograph(Micrograph(sixteen_bit()))
    assert not viewer.scale_bar.isVisible()
    assert viewer.scale_bar.text == ""


def test_scale_bar_follows_zoom(viewer, qtbot):
    viewer.set_micrograph(
        Micrograph(np.zeros((1000, 1000), np.uint8), pixel_size=1.0, pixel_unit="nm")
    )
    wide = viewer.scale_bar.text
    viewer.view_box.setRange(xRange=(0, 50), yRange=(0, 50), padding=0)
    assert viewer.scale_bar.text != wide
    assert viewer.scale_bar.text == "10 nm"


@pytest.mark.parametrize(
    ("limit", "expected"), [(187.3, 100.0), (0.0042, 0.002), (5.0, 5.0), (1999, 1000.0), (7, 5)]
)
def test_nice_length(limit, expected):
    assert nice_length(limit) == pytest.approx(expected)


def test_scale_bar_label_units():
    assert scale_bar_label(2000.0, "nm") == "2 µm"
    assert scale_bar_label(0.5, "nm") == "500 pm"
    assert scale_bar_label(5.0, "1/nm") == "5 1/nm"


def test_readout_reports_pixel_position_and_raw_value(viewer):
    data = np.arange(12, dtype=np.uint16).reshape(3, 4) * 1000
    viewer.set_micrograph(Micrograph(data, pixel_size=0.5, pixel_unit="nm"))
    text = viewer.readout_text(2.5, 1.2)
    assert text.startswith("x 2  y 1")
    assert "1 nm" in text and "500 pm" in text
    assert text.endswith("value 6000")
    assert viewer.readout_text(10, 1) == ""


def test_frame_slider_for_stacks(viewer):
    stack = np.stack([np.full((8, 8), i, np.uint8) for i in range(3)])
    viewer.set_micrograph(Micrograph(stack))
    assert not viewer.frame_slider.isHidden()
    viewer.frame_slider.setValue(2)
    assert viewer.frame_index == 2
    assert viewer.readout_text(1, 1).endswith("value 2")
    viewer.set_micrograph(Micrograph(stack[0]))
    assert viewer.frame_slider.isHidden()


def test_layers_can_be_added_hidden_and_faded(viewer):
    item = QGraphicsRectItem(0, 0, 5, 5)
    viewer.add_layer("heat", item)
    assert viewer.layer_names() == ["heat"]
    viewer.set_layer_visible("heat", False)
    assert not item.isVisible()
    viewer.set_layer_opacity("heat", 0.3)
    assert item.opacity() == pytest.approx(0.3)
    viewer.remove_layer("heat")
    assert viewer.layer("heat") is None


def test_colour_map_switch(viewer):
    viewer.set_color_map("inferno")
    assert viewer.cmap_box.currentText() == "inferno"


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_float_image_with_nan_and_inf_shows_with_finite_levels(viewer):
    data = np.random.default_rng(3).random((40, 40)).astype(np.float32)
    data[0, :5] = np.nan
    data[1, :5] = np.inf
    viewer.set_micrograph(Micrograph(data))
    lo, hi = viewer.levels()
    assert np.isfinite(lo) and np.isfinite(hi) and 0 <= lo < hi <= 1
    viewer.log_box.setChecked(True)
    assert np.isfinite(viewer.levels()).all()
    viewer.graphics.grab()  # paints without error or Qt warning


def test_complex_data_is_shown_as_magnitude(viewer):
    data = (np.ones((16, 16)) * (3 + 4j)).astype(np.complex64)
    viewer.set_micrograph(Micrograph(data))
    assert viewer.readout_text(2, 2).endswith("value 5")


def test_a_long_read_out_wraps_in_a_narrow_viewer_and_never_resizes_it(viewer, qtbot):
    """A |g| and d line wider than the viewer is shown whole on the reserved second line; the
    viewer asks for no more width and the image keeps its size."""
    viewer.resize(360, 400)
    qtbot.wait(50)
    view_before, minimum_before = viewer.graphics.size(), viewer.minimumSizeHint()
    long_line = "x 359  y 250   (12.82 1/nm, 8.929 1/nm)   value 56   from beam: |g| 3.459 1/nm"
    viewer.readout.setText(long_line + "  d 0.2891 nm (2.891 Å)")
    qtbot.wait(50)
    label = viewer.readout
    assert label.fontMetrics().horizontalAdvance(label.text()) > label.width()  # too long
    wrapped = label.heightForWidth(label.width())
    assert wrapped > 1.5 * label.fontMetrics().lineSpacing()  # laid out on two lines
    assert wrapped <= label.height()  # and both are seen
    assert viewer.graphics.size() == view_before
    assert viewer.minimumSizeHint() == minimum_before
