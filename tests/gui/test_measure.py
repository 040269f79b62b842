"""The Measure tools in the real window: drag a line, move the FFT region, read a ring pattern,
set a scale, export. Mouse gestures are real events sent to the viewer's graphics view."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QFileDialog

from crystalview.measure.calibration import MANUAL_SCALE_KEY, ScaleStore
from crystalview.measure.export import write_imagej_tiff


def fringes(size: int, pixel_nm: float, d_nm: float, angle_deg: float) -> np.ndarray:
    rows, cols = np.indices((size, size), dtype=float)
    theta = math.radians(angle_deg)
    phase = 2 * math.pi / d_nm * pixel_nm * (cols * math.cos(theta) - rows * math.sin(theta))
    rng = np.random.default_rng(1)
    return (1000 + 200 * np.cos(phase) + rng.normal(0, 40, (size, size))).astype(np.float32)


def gold_rings(size: int, centre, camera_constant: float) -> np.ndarray:
    rows, cols = np.indices((size, size), dtype=float)
    radius = np.hypot(rows - centre[0], cols - centre[1])
    image = 3000.0 / (1.0 + radius / 5.0) ** 1.5 + 5.0
    for n, d in enumerate(GOLD_D):
        image += (300.0 / (n + 1)) * np.exp(-0.5 * ((radius - camera_constant / d) / 1.2) ** 2)
    return np.random.default_rng(2).poisson(image).astype(np.float32)


GOLD_D = [0.40782 / math.sqrt(s) for s in (3, 4, 8, 11)]


def open_and_wait(qtbot, window, path: Path) -> None:
    window.open_paths([path], remember=False)
    qtbot.waitUntil(
        lambda: window.viewer.micrograph is not None and not window.pool.active(), timeout=60_000
    )


def _widget_pos(viewer, point: QPointF) -> QPointF:
    """``point`` (image coordinates) on the graphics view's viewport, kept to sub-pixel: a press
    rounded to whole screen pixels lands off a marker's centre, and the drag carries that offset."""
    scene = viewer.view_box.mapViewToScene(point)
    return viewer.graphics.viewportTransform().map(scene)


def _settled_widget_pos(qtbot, viewer, point: QPointF) -> QPointF:
    """Where ``point`` is on the widget once the window has stopped changing size.

    A dock shown just before a gesture (the radial profile's) can make the window grow, which
    the platform applies over several turns of the event loop; a drag mapped before that lands
    elsewhere on the image. Wait until three looks in a row agree."""
    looks = []
    for _ in range(60):
        QApplication.sendPostedEvents()
        qtbot.wait(25)
        looks.append((viewer.window().size(), _widget_pos(viewer, point)))
        if len(looks) >= 3 and looks[-1] == looks[-2] == looks[-3]:
            return looks[-1][1]
    raise AssertionError(f"the window kept changing: {looks[-3:]}")


def mouse_drag(qtbot, viewer, start: QPointF, end: QPointF, steps: int = 8) -> None:
    """A left-button drag from ``start`` to ``end`` (image coordinates) on the viewer."""
    target = viewer.graphics.viewport()
    a = _settled_widget_pos(qtbot, viewer, start)

    def send(kind, pos, button, buttons):
        event = QMouseEvent(
            kind,
            pos,
            target.mapToGlobal(pos),
            button,
            buttons,
            Qt.KeyboardModifier.NoModifier,
        )
        QApplication.sendEvent(target, event)

    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    send(QEvent.Type.MouseMove, a, none, none)
    qtbot.wait(15)
    send(QEvent.Type.MouseButtonPress, a, left, left)
    for i in range(1, steps + 1):
        qtbot.wait(15)  # pyqtgraph drops moves closer than its rate limit (100 per second)
        point = start + (end - start) * (i / steps)
        send(QEvent.Type.MouseMove, _widget_pos(viewer, point), none, left)
    qtbot.wait(15)
    send(QEvent.Type.MouseButtonRelease, _widget_pos(viewer, end), left, none)
    qtbot.wait(30)


@pytest.fixture
def tools(window):
    return window.measure


def test_dragging_a_line_reads_its_length_and_plots_its_profile(
    qtbot, window, tools, tmp_path, make_tiff, monkeypatch
):
    image = np.zeros((160, 200), np.float32)
    image[:, 100:] = 50.0
    open_and_wait(qtbot, window, make_tiff(tmp_path / "edge.tif", image, pixel_size_nm=0.5))
    tools.line_action.trigger()
    assert tools.line_action.isChecked()
    assert window.dock("line-profile").isVisible()
    mouse_drag(qtbot, window.viewer, QPointF(40, 80), QPointF(160, 80))
    assert tools.line is not None
    (x0, y0), (x1, y1) = tools.line.endpoints()
    assert math.hypot(x1 - x0, y1 - y0) == pytest.approx(120, rel=0.03)
    expected_nm = math.hypot(x1 - x0, y1 - y0) * 0.5
    assert tools.line_text().startswith(f"{expected_nm:.4g} nm")
    assert tools.line.label.textItem.toPlainText() == tools.line_text()
    profile = tools.profile_panel.profile
    assert profile is not None and profile.unit == "nm"
    assert profile.distance[-1] == pytest.approx(expected_nm)
    assert profile.values[0] == pytest.approx(0.0) and profile.values[-1] == pytest.approx(50.0)
    assert "px)" in tools.profile_panel.info.text()

    tools.profile_panel.width_box.setValue(7)
    assert tools.profile_panel.profile.width == 7
    out = tmp_path / "profile.csv"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    tools.profile_panel.export_button.click()
    lines = out.read_text().splitlines()
    assert lines[0] == "distance_nm,value"
    assert len(lines) == len(profile.values) + 1


def test_angle_tool_reads_the_angle_between_its_arms(qtbot, window, tools, tmp_path, make_tiff):
    open_and_wait(qtbot, window, make_tiff(tmp_path / "a.tif", np.zeros((100, 100), np.uint8)))
    tools.angle_action.trigger()
    mouse_drag(qtbot, window.viewer, QPointF(30, 70), QPointF(80, 70))
    assert tools.angle_value() == pytest.approx(60.0, abs=2.0)  # second arm starts at 60°
    handle = tools.angle.roi.getHandles()[2]
    tools.angle.roi.movePoint(handle, QPointF(30, 20), coords="parent")  # straight up: 90°
    assert tools.angle_value() == pytest.approx(90.0, abs=1.5)
    assert tools.angle.label.textItem.toPlainText() == f"{tools.angle_value():.1f}°"


def test_fft_region_reads_the_fringe_spacing_and_follows_the_region_live(
    qtbot, window, tools, tmp_path, make_tiff
):
    pixel, d = 0.02, 0.39
    path = make_tiff(tmp_path / "hrtem.tif", fringes(320, pixel, d, 30.0), pixel_size_nm=pixel)
    open_and_wait(qtbot, window, path)
    tools.fft_action.trigger()
    assert tools.region is not None and window.dock("fft").isVisible()
    gram = tools.fft_panel.gram
    assert gram is not None and gram.unit == "1/nm"
    assert gram.power.shape == (256, 256)
    spot = tools.fft_panel.pick(math.cos(math.radians(30)) / d, math.sin(math.radians(30)) / d)
    assert spot.d == pytest.approx(d, rel=0.01)
    assert f"d {spot.d:.4g} nm" in tools.fft_panel.picked.text()
    assert tools.fft_panel.pick(-spot.gx, -spot.gy) is not None  # its Friedel mate
    assert "Angle between spots 1 and 2: 180.0°" in tools.fft_panel.picked.text()

    # hover and click on the spectrum with the mouse, as a user does
    panel = tools.fft_panel
    panel.clear_spots()
    qtbot.waitUntil(lambda: panel.graphics.width() > 50)
    target = panel.graphics.viewport()
    near = panel.plot.vb.mapViewToScene(QPointF(spot.gx + 0.05, spot.gy - 0.05))
    where = panel.graphics.mapFromScene(near)
    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    for kind, button, buttons in (
        (QEvent.Type.MouseMove, none, none),
        (QEvent.Type.MouseButtonPress, left, left),
        (QEvent.Type.MouseButtonRelease, left, none),
    ):
        event = QMouseEvent(
            kind,
            QPointF(where),
            QPointF(target.mapToGlobal(where)),
            button,
            buttons,
            Qt.KeyboardModifier.NoModifier,
        )
        QApplication.sendEvent(target, event)
    assert panel.hover.text().startswith("Cursor: |g| 2.")
    assert len(panel.spots) == 1 and panel.spots[0].d == pytest.approx(d, rel=0.01)

    before = tools.region.roi.pos()
    inside = QPointF(before.x() + 60, before.y() + 60)  # away from the corner handles
    mouse_drag(qtbot, window.viewer, inside, QPointF(inside.x() - 20, inside.y() + 15))
    after = tools.region.roi.pos()  # (the region stays inside the image: 32 px of play)
    assert after.x() - before.x() == pytest.approx(-20, abs=3)
    assert after.y() - before.y() == pytest.approx(15, abs=3)
    qtbot.waitUntil(lambda: tools.fft_panel.gram is not gram, timeout=2000)
    assert all(s.d == pytest.approx(d, rel=0.01) for s in tools.fft_panel.spots)


def test_ring_pattern_gives_d_spacings_from_the_beam_centre(qtbot, window, tools, tmp_path):
    centre = (120.4, 131.2)
    camera_constant = 14.0  # px·nm: 0.0714 1/nm per pixel
    path = write_imagej_tiff(
        tmp_path / "saed.tif", gold_rings(256, centre, camera_constant), 1 / camera_constant, "1/nm"
    )
    open_and_wait(qtbot, window, path)
    m = window.viewer.micrograph
    assert m.is_diffraction
    assert math.dist(tools.centre, centre) < 1.5
    tools.radial_action.trigger()
    assert tools.centre_marker.isVisible() and window.dock("radial-profile").isVisible()
    table = tools.radial_panel.table
    found = [float(table.item(r, 2).text()) for r in range(table.rowCount())]
    for expected in GOLD_D:
        assert min(found, key=lambda v: abs(v - expected)) == pytest.approx(expected, rel=0.01)
    # the cursor read-out measures from the beam centre, not the image corner
    row, col = tools.centre
    text = window.viewer.readout_text(col + 0.5 + camera_constant / GOLD_D[0], row + 0.5)
    assert f"|g| {1 / GOLD_D[0]:.4g} 1/nm  d {GOLD_D[0]:.4g} nm" in text

    marker = tools.centre_marker.pos()
    size_before, view_before = window.size(), window.viewer.graphics.size()
    mouse_drag(qtbot, window.viewer, marker, QPointF(marker.x(), marker.y() + 6), steps=12)
    qtbot.waitUntil(lambda: "moved by hand" in tools.radial_panel.info.text(), timeout=2000)
    # (the view rounds events to whole screen pixels, about one image pixel here)
    assert tools.centre[0] - row == pytest.approx(6.0, abs=1.5)
    assert tools.centre[1] == pytest.approx(col, abs=1.0)
    # hovering and dragging resize neither the window nor the image under the cursor
    assert window.size() == size_before and window.viewer.graphics.size() == view_before
    tools.set_centre(centre[0] + 3, centre[1])  # typed in, as a script would
    assert tools.centre_marker.pos().y() == pytest.approx(centre[0] + 3.5)
    tools.radial_panel.refind_button.click()
    assert "found automatically" in tools.radial_panel.info.text()

    window.close_all()  # a real-space image next: no beam centre, no |g| read-out
    write_imagej_tiff(tmp_path / "real.tif", np.ones((50, 50)), 1.0, "nm")
    open_and_wait(qtbot, window, tmp_path / "real.tif")
    assert tools.centre is None and not tools.centre_marker.isVisible()
    assert "|g|" not in window.viewer.readout_text(10, 10)
    assert "Open a diffraction pattern" in tools.radial_panel.info.text()


def test_uncalibrated_pattern_says_so_and_shows_pixels(qtbot, window, tools, tmp_path):
    path = tmp_path / "spots.tif"
    tifffile.imwrite(path, gold_rings(200, (100.0, 100.0), 12.0))
    open_and_wait(qtbot, window, path)
    m = window.viewer.micrograph
    if not m.is_diffraction:
        pytest.skip("content detection did not call it a pattern")  # pragma: no cover
    assert "No calibration" in tools.radial_panel.info.text()
    assert "px from beam centre (no calibration)" in window.viewer.readout_text(150, 100)


def test_set_scale_on_an_uncalibrated_image_is_kept_for_the_file(
    qtbot, window, tools, tmp_path, make_tiff
):
    path = make_tiff(tmp_path / "sem.tif", np.zeros((120, 300), np.uint8))
    open_and_wait(qtbot, window, path)
    assert window.viewer.micrograph.pixel_size is None
    assert not window.viewer.scale_bar.isVisible()
    tools.scale_action.trigger()  # no line yet: asks for one
    assert tools.line_action.isChecked()
    mouse_drag(qtbot, window.viewer, QPointF(50, 100), QPointF(250, 100))
    qtbot.waitUntil(lambda: tools.scale_dialog is not None and tools.scale_dialog.isVisible())
    dialog = tools.scale_dialog
    length_px = dialog.length_px
    assert length_px == pytest.approx(200, rel=0.03)
    dialog.length_box.setValue(2.0)
    dialog.unit_box.setCurrentText("µm")
    assert "nm/px" in dialog.result_label.text()
    dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok).click()

    m = window.viewer.micrograph
    assert m.pixel_unit == "nm" and m.pixel_size == pytest.approx(2000 / length_px)
    assert m.metadata[MANUAL_SCALE_KEY]["source"] == "set by hand"
    assert window.current.pixel_size == m.pixel_size  # what tiling and classification read
    assert window.viewer.scale_bar.isVisible() and window.viewer.scale_bar.text
    assert "(set by hand)" in window.pixel_label.text()
    assert tools.line_text().startswith("2 µm")
    assert window.metadata_dock.tree.findItems(MANUAL_SCALE_KEY, Qt.MatchFlag.MatchRecursive)
    assert ScaleStore().get(path, 0) == (pytest.approx(m.pixel_size), "nm")

    window.close_all()
    open_and_wait(qtbot, window, path)  # a new session would do the same
    again = window.viewer.micrograph
    assert again is not m and again.pixel_size == pytest.approx(m.pixel_size)
    assert window.viewer.scale_bar.isVisible()

    tools.draw_line(QPointF(10, 10), QPointF(110, 10))
    tools.set_scale()
    remove = [
        b for b in tools.scale_dialog.findChildren(type(dialog.ok_button)) if "Remove" in b.text()
    ]
    remove[0].click()
    assert window.viewer.micrograph.pixel_size is None
    assert ScaleStore().get(path, 0) is None


def test_export_view_png_and_raw_tiff(qtbot, window, tools, tmp_path, make_tiff):
    data = (np.arange(80 * 120) % 97).reshape(80, 120).astype(np.uint16)
    open_and_wait(qtbot, window, make_tiff(tmp_path / "img.tif", data, pixel_size_nm=1.5))
    window.viewer.set_color_map("viridis")
    tools.draw_line(QPointF(10, 10), QPointF(100, 60))
    window.viewer.view_box.setRange(xRange=(0, 30), yRange=(0, 20))  # zoomed in: exports all

    from crystalview.gui.measure.export_view import ExportOptions, render_view

    plain = render_view(window.viewer, ExportOptions(scale=1.0, overlays=False, scale_bar=False))
    assert (plain.width(), plain.height()) == (120, 80)
    figure = render_view(window.viewer, ExportOptions(scale=4.0, colour_bar=True))
    assert figure.height() == 320 and figure.width() > 480
    bar_pixel = figure.pixelColor(480 - 30, 320 - 30)  # inside the scale bar's box
    assert bar_pixel != plain.pixelColor(120 - 8, 80 - 8)
    out = tools.export_view(tmp_path / "view.png")
    assert out.is_file() and out.stat().st_size > 1000

    tiff = tools.export_tiff(tmp_path / "raw.tif")
    with tifffile.TiffFile(tiff) as tif:
        assert tif.imagej_metadata["unit"] == "nm"
        np.testing.assert_array_equal(tif.pages[0].asarray(), data.astype(np.float32))
        x_res = tif.pages[0].tags["XResolution"].value
    assert x_res[1] / x_res[0] == pytest.approx(1.5, rel=1e-6)


def test_measurements_follow_the_frame_of_a_stack(qtbot, window, tools, tmp_path):
    stack = np.zeros((2, 40, 60), np.float32)
    stack[1] = 5.0
    path = tmp_path / "stack.tif"
    tifffile.imwrite(path, stack, imagej=True, metadata={"axes": "TYX"})
    open_and_wait(qtbot, window, path)
    assert window.viewer.micrograph.n_frames == 2
    tools.draw_line(QPointF(5, 20), QPointF(50, 20))
    assert np.nanmax(tools.profile_panel.profile.values) == 0.0
    window.viewer.set_frame(1)
    assert np.nanmin(tools.profile_panel.profile.values) == pytest.approx(5.0)


def test_real_dark_subtracted_pattern_plots_its_whole_profile(qtbot, window, tools, test_data):
    """A real TIA SAED frame with a beam stop; its dark-subtracted counts go below zero."""
    open_and_wait(qtbot, window, test_data / "em" / "64x64_diffraction_acquire.emi")
    m = window.viewer.micrograph
    assert m.is_diffraction and m.pixel_unit == "1/nm"
    row, col = tools.centre
    assert 0 <= row < 64 and 0 <= col < 64
    tools.radial_action.trigger()
    x, y = tools.radial_panel.curve.getData()
    assert x[0] < 0.1  # from the beam centre outwards, negative means included
    assert (y < 0).any()
    assert "log" not in tools.radial_panel.plot.getAxis("left").labelText
    assert "from beam: |g|" in window.viewer.readout_text(col + 10.5, row + 0.5)

    panel = tools.radial_panel
    counted = panel.profile.counts.sum()
    panel.mask_box.setChecked(True)  # leave out the beam stop (level proposed by the app)
    qtbot.waitUntil(lambda: panel.profile.counts.sum() < counted, timeout=2000)
    data = window.viewer.frame_data
    assert panel.profile.counts.sum() == (data >= panel.threshold_box.value()).sum()
    assert "beam-stop pixels left out" in panel.info.text()
