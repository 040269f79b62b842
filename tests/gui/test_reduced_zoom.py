"""Zoomed into a mosaic shown reduced, the window reads the part in view at full resolution."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import tifffile

from crystalview.core.memory import set_memory_budget
from crystalview.gui import detail as gui_detail

BUDGET = 64 * 1024


@pytest.fixture
def small_budget():
    set_memory_budget(BUDGET)
    yield BUDGET
    set_memory_budget(None)


@pytest.fixture
def mosaic(tmp_path):
    """A 300 × 410 uint16 mosaic of noise (every pixel differs from its neighbours), zlib tiles."""
    data = np.random.default_rng(5).integers(1000, 60000, (300, 410)).astype(np.uint16)
    path = tmp_path / "mosaic.tif"
    tifffile.imwrite(path, data, compression="zlib", tile=(64, 64))
    return path, data


def _open(qtbot, window, path):
    window.open_paths([path])
    qtbot.waitUntil(
        lambda: window.gallery_model.rowCount() == 1 and not window.pool.active(), timeout=180_000
    )
    window.select_entry(window.gallery_model.entries[0])
    viewer = window.viewer
    assert viewer.micrograph.downsampled > 1
    return viewer


def _zoom(qtbot, viewer, x_range, y_range):
    """Zoom to the given range of shown pixels and wait until a finished patch covers it."""
    viewer.view_box.setRange(xRange=x_range, yRange=y_range, padding=0)
    factor = viewer.micrograph.downsampled

    def covered():
        plan = viewer.detail.plan
        if plan is None or viewer.detail.pool.active() or viewer.detail._timer.isActive():
            return False
        x, y, width, height = plan.file_rect
        return (
            x <= x_range[0] * factor
            and y <= y_range[0] * factor
            and x + width >= min(x_range[1] * factor, 410)
            and y + height >= min(y_range[1] * factor, 300)
        )

    qtbot.waitUntil(covered, timeout=60_000)
    return viewer.detail.plan


def test_zooming_in_reads_the_view_at_full_resolution_off_the_gui_thread(
    qtbot, window, mosaic, small_budget, monkeypatch
):
    path, data = mosaic
    threads = []
    original = gui_detail.read_detail
    monkeypatch.setattr(
        gui_detail,
        "read_detail",
        lambda *a, **k: threads.append(threading.current_thread()) or original(*a, **k),
    )
    viewer = _open(qtbot, window, path)
    step = viewer.micrograph.downsampled
    assert step == 4
    plan = _zoom(qtbot, viewer, (20, 40), (10, 25))
    assert threads and all(t is not threading.main_thread() for t in threads)
    assert (plan.level, plan.step) == (0, 1)
    np.testing.assert_array_equal(
        viewer.detail.raw, data[plan.top : plan.bottom, plan.left : plan.right]
    )
    # the patch lies where the file's pixels are: view point -> patch pixel -> file pixel
    for x, y in [(20.3, 10.6), (31.9, 17.2), (39.5, 24.8)]:
        local = viewer.detail.item.mapFromView(pg_point(x, y))
        column, row = int(np.floor(x * step)), int(np.floor(y * step))
        i, j = int(np.floor(local.y())), int(np.floor(local.x()))
        assert viewer.detail.raw[i, j] == data[row, column]
        assert viewer.readout_text(x, y).startswith(f"x {column}  y {row}")
        assert f"value {data[row, column]}" in viewer.readout_text(x, y)
    assert viewer.detail.item.isVisible()
    # the patch follows the viewer's levels and log view
    viewer.set_levels(2000.0, 50000.0)
    np.testing.assert_allclose(viewer.detail.item.getLevels(), viewer.image_item.getLevels())
    viewer.log_box.setChecked(True)
    np.testing.assert_allclose(viewer.detail.item.image, viewer.display_values(viewer.detail.raw))
    np.testing.assert_allclose(viewer.detail.item.getLevels(), viewer.image_item.getLevels())

    # zoomed far out, the reduced picture is finer than the screen: the patch goes
    viewer.view_box.setRange(xRange=(-2000, 2000), yRange=(-1500, 1500), padding=0)
    qtbot.waitUntil(lambda: viewer.detail.plan is None, timeout=10_000)
    assert not viewer.detail.item.isVisible()


def test_a_move_of_the_view_supersedes_the_read_in_flight(qtbot, window, mosaic, small_budget):
    path, data = mosaic
    viewer = _open(qtbot, window, path)
    viewer.view_box.setRange(xRange=(-2000, 2000), yRange=(-1500, 1500), padding=0)
    qtbot.waitUntil(lambda: viewer.detail.plan is None, timeout=10_000)
    shown = []
    viewer.detail.patch_shown.connect(shown.append)
    for left in (5, 30, 60):  # three views, each refreshed at once, before any read returns
        viewer.view_box.setRange(xRange=(left, left + 15), yRange=(5, 16), padding=0)
        viewer.detail.refresh()
    plan = _zoom(qtbot, viewer, (60, 75), (5, 16))
    assert len(shown) == 1 and shown[0] is plan  # only the last read is drawn
    np.testing.assert_array_equal(
        viewer.detail.raw, data[plan.top : plan.bottom, plan.left : plan.right]
    )


def test_a_pyramid_opens_at_the_level_that_fits_and_zooms_to_finer_levels(
    qtbot, window, tmp_path, small_budget
):
    data = np.random.default_rng(6).integers(1000, 60000, (300, 410)).astype(np.uint16)
    path = tmp_path / "pyramid.tif"
    with tifffile.TiffWriter(path, bigtiff=True) as tif:
        options = {"tile": (64, 64), "compression": "zlib", "photometric": "minisblack"}
        tif.write(data, subifds=2, **options)
        tif.write(data[::2, ::2], subfiletype=1, **options)
        tif.write(data[::4, ::4], subfiletype=1, **options)
    viewer = _open(qtbot, window, path)
    np.testing.assert_array_equal(viewer.micrograph.image, data[::4, ::4])  # level 2, as stored
    assert viewer.micrograph.downsampled == 4
    assert "pyramid level 2" in str(viewer.micrograph.metadata)
    plan = _zoom(qtbot, viewer, (10, 60), (10, 45))
    assert plan.step == 1 and plan.level in (0, 1)
    level = data[:: 2**plan.level, :: 2**plan.level]
    np.testing.assert_array_equal(
        viewer.detail.raw, level[plan.top : plan.bottom, plan.left : plan.right]
    )


def pg_point(x: float, y: float):
    from PySide6.QtCore import QPointF

    return QPointF(x, y)
