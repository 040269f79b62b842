"""Tiles cover every pixel with at least the stated overlap, and stitching blends correctly."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crystalview.core.tiling import extract_tiles, stitch_tiles, tile_grid


@settings(max_examples=60, deadline=None)
@given(
    h=st.integers(1, 700),
    w=st.integers(1, 700),
    tile=st.integers(8, 128),
    overlap=st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.75]),
)
def test_grid_covers_every_pixel_with_the_stated_overlap(h, w, tile, overlap):
    grid = tile_grid((h, w), tile, overlap)
    coverage = np.zeros((h, w), dtype=np.int32)
    for y0, x0, y1, x1 in grid.boxes:
        coverage[y0:y1, x0:x1] += 1
    assert coverage.min() >= 1
    for starts, length in ((grid.row_starts, h), (grid.col_starts, w)):
        assert starts[0] == 0
        if length >= tile:
            assert starts[-1] + tile == length  # flush with the far edge
            gaps = np.diff(starts)
            assert np.all(tile - gaps >= np.floor(tile * overlap) - 1)  # rounding of even spacing
            assert np.all(gaps >= 1)


def test_known_grid():
    grid = tile_grid((100, 60), 40, 0.25)
    assert grid.row_starts.tolist() == [0, 30, 60]
    assert grid.col_starts.tolist() == [0, 20]
    assert grid.n_tiles == 6
    assert grid.boxes[1].tolist() == [0, 20, 40, 60]


def test_extract_tiles_match_the_boxes():
    image = np.arange(90 * 70, dtype=np.float32).reshape(90, 70)
    grid = tile_grid(image.shape, 32, 0.25)
    tiles = extract_tiles(image, grid)
    assert tiles.shape == (grid.n_tiles, 32, 32)
    for tile, (y0, x0, y1, x1) in zip(tiles, grid.boxes, strict=True):
        np.testing.assert_array_equal(tile, image[y0:y1, x0:x1])
    some = extract_tiles(image, grid, slice(2, 5))
    np.testing.assert_array_equal(some, tiles[2:5])


def test_extract_pads_axes_shorter_than_a_tile():
    image = np.random.default_rng(0).random((10, 50)).astype(np.float32)
    grid = tile_grid(image.shape, 16, 0.25)
    tiles = extract_tiles(image, grid)
    assert tiles.shape[1:] == (16, 16)
    np.testing.assert_array_equal(tiles[0, :10], image[:10, :16])
    assert grid.boxes[:, 2].max() == 10  # reported boxes stay inside the image


def test_stitch_of_constant_values_is_constant_and_respects_tiles():
    grid = tile_grid((120, 90), 32, 0.5)
    ones = np.ones((grid.n_tiles, 2))
    ones[:, 1] = 0.25
    stitched = stitch_tiles(ones, grid)
    assert stitched.shape == (2, 120, 90)
    np.testing.assert_allclose(stitched[0], 1.0, rtol=1e-5)
    np.testing.assert_allclose(stitched[1], 0.25, rtol=1e-5)


def test_stitch_is_the_value_of_the_only_tile_covering_a_pixel():
    grid = tile_grid((64, 64), 32, 0.0)  # four disjoint tiles
    values = np.array([[1.0], [2.0], [3.0], [4.0]])
    stitched = stitch_tiles(values, grid)[0]
    assert stitched[0, 0] == pytest.approx(1.0)
    assert stitched[10, 40] == pytest.approx(2.0)
    assert stitched[40, 10] == pytest.approx(3.0)
    assert stitched[63, 63] == pytest.approx(4.0)


def test_stitch_blends_smoothly_between_overlapping_tiles():
    grid = tile_grid((64, 128), 64, 0.5)
    assert grid.col_starts.tolist() == [0, 32, 64]
    values = np.array([[0.0], [1.0], [0.0]])
    row = stitch_tiles(values, grid)[0, 32]
    assert row[64] == pytest.approx(1.0, abs=0.03)  # centre of the middle tile: mostly its own
    assert row[0] == pytest.approx(0.0) and row[127] == pytest.approx(0.0)
    assert np.all(np.diff(row[32:64]) >= -1e-6)  # rises monotonically towards its centre
    assert np.all(np.diff(row[64:96]) <= 1e-6)
    assert np.all(row >= 0) and np.all(row <= 1)


def test_stitch_to_another_resolution_maps_pixel_centres():
    grid = tile_grid((64, 64), 32, 0.0)
    values = np.array([[1.0], [2.0], [3.0], [4.0]])
    small = stitch_tiles(values, grid, (8, 8))[0]
    assert small[0, 0] == pytest.approx(1.0) and small[7, 7] == pytest.approx(4.0)


def test_invalid_arguments():
    with pytest.raises(ValueError):
        tile_grid((10, 10), 0)
    with pytest.raises(ValueError):
        tile_grid((10, 10), 4, 1.0)
    with pytest.raises(ValueError):
        stitch_tiles(np.zeros((3, 1)), tile_grid((64, 64), 32))
