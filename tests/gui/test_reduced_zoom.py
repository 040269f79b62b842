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
        lambda: window.gallery_model.rowCount() == 1 and not window.pool.active(), timeout=60_000
    )
    window.select_entry(window.gallery_model.entries[0])
    viewer = window.viewer
    assert viewer.micrograph.downsampled > 1
    return viewer


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
    assert viewer.detail.plan is None  # the whole mosaic in view: the reduced picture suffices
    step = viewer.micrograph.downsampled
    with qtbot.waitSignal(viewer.detail.patch_shown, timeout=30_000) as shown:
        viewer.view_box.setRange(xRange=(20, 40), yRange=(10, 25), padding=0)
    plan = shown.args[0]
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

    viewer.fit()  # zoomed back out: the patch goes
    qtbot.waitUntil(lambda: viewer.detail.plan is None, timeout=10_000)
    assert not viewer.detail.item.isVisible()


def test_a_move_of_the_view_supersedes_the_read_in_flight(qtbot, window, mosaic, small_budget):
    path, data = mosaic
    viewer = _open(qtbot, window, path)
    shown = []
    viewer.detail.patch_shown.connect(shown.append)
    for left in (5, 30, 60):  # three views, each refreshed at once, before any read returns
        viewer.view_box.setRange(xRange=(left, left + 15), yRange=(5, 16), padding=0)
        viewer.detail.refresh()
    qtbot.waitUntil(lambda: bool(shown) and not viewer.detail.pool.active(), timeout=30_000)
    assert len(shown) == 1  # only the last read is drawn
    plan = shown[0]
    x, _y, width, _h = plan.file_rect
    assert x <= 60 * viewer.micrograph.downsampled and x + width >= 75 * 4
    np.testing.assert_array_equal(
        viewer.detail.raw, data[plan.top : plan.bottom, plan.left : plan.right]
    )


def test_a_pyramid_opens_at_the_level_that_fits_and_zooms_to_finer_levels(
    qtbot, window, tmp_path, small_budget
):
    data = np.random.default_rng(6).integers(1000, 60000, (300, 412)).astype(np.uint16)
    path = tmp_path / "pyramid.tif"
    with tifffile.TiffWriter(path, bigtiff=True) as tif:
        options = {"tile": (64, 64), "compression": "zlib", "photometric": "minisblack"}
        tif.write(data, subifds=2, **options)
        tif.write(data[::2, ::2], subfiletype=1, **options)
        tif.write(data[::4, ::4], subfiletype=1, **options)
    viewer = _open(qtbot, window, path)
    np.testing.assert_array_equal(viewer.micrograph.image, data[::4, ::4])  # level 2, as stored
    assert viewer.micrograph.downsampled == 4
    with qtbot.waitSignal(viewer.detail.patch_shown, timeout=30_000) as shown:
        viewer.view_box.setRange(xRange=(10, 60), yRange=(10, 45), padding=0)
    plan = shown.args[0]
    assert plan.step == 1 and plan.level in (0, 1)
    level = data[:: 2**plan.level, :: 2**plan.level]
    np.testing.assert_array_equal(
        viewer.detail.raw, level[plan.top : plan.bottom, plan.left : plan.right]
    )


def pg_point(x: float, y: float):
    from PySide6.QtCore import QPointF

    return QPointF(x, y)
