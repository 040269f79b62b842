"""Which pyramid level, stride and window the window reads for a zoomed view (no Qt)."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from crystalview.io import detail, reduced, tiff_regions


@pytest.fixture
def pyramid(tmp_path):
    data = np.random.default_rng(4).integers(0, 60000, (300, 410)).astype(np.uint16)
    path = tmp_path / "pyramid.tif"
    with tifffile.TiffWriter(path, bigtiff=True) as tif:
        options = {"tile": (64, 64), "compression": "zlib", "photometric": "minisblack"}
        tif.write(data, subifds=2, **options)
        tif.write(data[::2, ::2], subfiletype=1, **options)
        tif.write(data[::4, ::4], subfiletype=1, **options)
    return path, data


def test_the_levels_of_a_pyramid_are_read_by_region(pyramid):
    path, data = pyramid
    levels = tiff_regions.locate_levels(path)
    assert [image.shape for image in levels] == [(300, 410), (150, 205), (75, 103)]
    assert [detail.level_step(levels, i) for i in range(3)] == [1.0, 2.0, 4.0]
    for image, expected in zip(levels, [data, data[::2, ::2], data[::4, ::4]], strict=True):
        for top, bottom, left, right, step in [(0, 999, 0, 999, 1), (37, 140, 13, 170, 3)]:
            np.testing.assert_array_equal(
                image.read_window(top, bottom, left, right, step),
                expected[top:bottom:step, left:right:step],
            )


def test_a_contiguous_window_reads_only_its_columns(tmp_path):
    data = np.arange(300 * 410, dtype=np.uint32).reshape(300, 410)
    path = tmp_path / "plain.tif"
    tifffile.imwrite(path, data)
    (image,) = tiff_regions.locate_levels(path)
    assert isinstance(image, tiff_regions.ContiguousImage)
    for window in [(5, 9, 400, 999, 1), (0, 300, 17, 61, 4), (290, 300, 0, 410, 1)]:
        top, bottom, left, right, step = window
        np.testing.assert_array_equal(
            image.read_window(*window), data[top:bottom:step, left:right:step]
        )


def test_the_coarsest_level_still_as_fine_as_the_screen_is_chosen(pyramid):
    levels = tiff_regions.locate_levels(pyramid[0])
    assert detail.choose_level(levels, 1.0) == 0
    assert detail.choose_level(levels, 1.9) == 0
    assert detail.choose_level(levels, 2.0) == 1
    assert detail.choose_level(levels, 3.99) == 1
    assert detail.choose_level(levels, 50.0) == 2


def test_a_view_is_planned_at_the_resolution_the_screen_shows(pyramid):
    levels = tiff_regions.locate_levels(pyramid[0])
    # whole file on 100 screen pixels: 4.1 file pixels per screen pixel, shown every 4th
    assert detail.plan_detail(levels, (0, 0, 410, 300), (100, 73), 4.0) is None
    # 80 × 60 file pixels on 640 × 480 screen pixels: full resolution, only that window
    plan = detail.plan_detail(levels, (100, 50, 180, 110), (640, 480), 4.0)
    assert (plan.level, plan.step) == (0, 1)
    assert plan.left <= 100 and plan.right >= 180 and plan.top <= 50 and plan.bottom >= 110
    assert plan.right - plan.left <= 80 * (1 + 2 * detail.MARGIN) + 2
    # 3 file pixels per screen pixel: level 1 (2 per pixel) is fine enough, read whole
    plan = detail.plan_detail(levels, (0, 0, 300, 225), (100, 75), 4.0)
    assert (plan.level, plan.step) == (1, 1)
    x, y, width, height = plan.file_rect
    assert (x, y) == (0, 0) and width >= 300 and height >= 225


def test_a_plan_never_exceeds_its_pixel_cap(pyramid, monkeypatch):
    levels = tiff_regions.locate_levels(pyramid[0])[:1]
    monkeypatch.setattr(detail, "MAX_DETAIL_PIXELS", 1000)
    plan = detail.plan_detail(levels, (0, 0, 200, 150), (400, 300), 16.0)
    rows = -(-(plan.bottom - plan.top) // plan.step)
    cols = -(-(plan.right - plan.left) // plan.step)
    assert plan.step > 1 and rows * cols <= 1000
    assert detail.read_detail(levels, plan).shape == (rows, cols)


def test_the_reduced_view_reads_the_level_that_fits(pyramid):
    path, data = pyramid
    levels = tiff_regions.locate_levels(path)
    assert reduced.reduced_source(levels, 1 << 30) == (0, 1)
    assert reduced.reduced_source(levels, 300 * 1024) == (1, 1)
    assert reduced.reduced_source(levels, 70 * 1024) == (2, 1)
    assert reduced.reduced_source(levels, 8 * 1024) == (2, 3)
    micrograph = reduced.open_reduced(path, 70 * 1024)
    np.testing.assert_array_equal(micrograph.image, data[::4, ::4])
    assert micrograph.downsampled == 4
