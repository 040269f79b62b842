"""A tiny memory budget sends a small BigTIFF down the region-wise path, with the same answers."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from crystalview.batch.worker import classify_file
from crystalview.core.memory import set_memory_budget
from crystalview.core.progress import run_to_completion
from crystalview.inference import regions
from crystalview.inference.predict import InferenceSettings, make_runner, predict_micrograph
from crystalview.io import open_image, tiff_regions
from crystalview.models.catalog import load_model


@pytest.fixture(params=[64 * 1024, 1024 * 1024], ids=["one-tile-row", "several-tile-rows"])
def tiny_budget(request):
    """Budgets below what the 240 KiB image needs in memory; the larger one gives strips of
    several tile rows, the smaller one strips of a single tile row."""
    set_memory_budget(request.param)
    yield request.param
    set_memory_budget(None)


def test_region_path_equals_the_in_memory_path(bigtiff, tiny_model, tiny_budget, monkeypatch):
    loaded = load_model(tiny_model)
    settings = InferenceSettings(device="cpu", fast=False, probability_map=False, batch_size=7)
    runner = make_runner(loaded, settings)
    assert regions.needs_regions(bigtiff, tiny_budget) is not None
    whole_reads = []
    monkeypatch.setattr(regions, "PREVIEW_SIDE", 64)  # the look at the image is a strided read
    monkeypatch.setattr(
        tiff_regions.ContiguousImage,
        "read_rows",
        lambda self, a, b, step=1, _orig=tiff_regions.ContiguousImage.read_rows: (
            whole_reads.append((a, min(b, self.shape[0]), step)) or _orig(self, a, b, step)
        ),
    )
    record = classify_file(loaded, runner, bigtiff, settings)
    assert record.ok, record.error
    assert whole_reads and all(b - a <= 256 or step > 1 for a, b, step in whole_reads)
    large = tiff_regions.locate_contiguous(bigtiff)
    by_region = run_to_completion(regions.predict_regions(loaded, large, settings, runner))
    set_memory_budget(None)
    micrograph = open_image(bigtiff)
    expected = run_to_completion(predict_micrograph(loaded, micrograph, settings, runner=runner))
    assert by_region.n_tiles == expected.n_tiles > 20
    np.testing.assert_array_equal(by_region.tile_boxes, expected.tile_boxes)
    np.testing.assert_allclose(by_region.tile_probabilities, expected.tile_probabilities, atol=1e-5)
    assert by_region.label == expected.label == record.label
    assert by_region.probability_map is None  # tile resolution only


def test_a_compressed_tiff_is_not_taken_for_a_contiguous_one(tmp_path):
    path = tmp_path / "lzw.tif"
    tifffile.imwrite(path, np.zeros((64, 64), np.uint16), compression="zlib")
    assert tiff_regions.locate_contiguous(path) is None


@pytest.fixture(
    params=[
        {"compression": "zlib", "tile": (64, 48)},
        {"compression": "lzw", "rowsperstrip": 5, "bigtiff": True},
        {"compression": "zlib", "predictor": True, "tile": (32, 32), "byteorder": ">"},
    ],
    ids=["zlib-tiles", "lzw-strips-bigtiff", "zlib-predictor-big-endian"],
)
def compressed_mosaic(request, bigtiff, tmp_path):
    path = tmp_path / "compressed.tif"
    tifffile.imwrite(path, tifffile.imread(bigtiff), **request.param)
    return path


def test_a_compressed_tiff_is_read_segment_by_segment(tmp_path, compressed_mosaic):
    data = tifffile.imread(compressed_mosaic)
    image = tiff_regions.locate_region_image(compressed_mosaic)
    assert isinstance(image, tiff_regions.SegmentedImage)
    for start, stop, step in [(0, 300, 1), (37, 170, 1), (3, 300, 7), (290, 999, 1)]:
        np.testing.assert_array_equal(image.read_rows(start, stop, step), data[start:stop:step])


def test_compressed_region_path_equals_the_in_memory_path(
    compressed_mosaic, tiny_model, monkeypatch
):
    loaded = load_model(tiny_model)
    settings = InferenceSettings(device="cpu", fast=False, probability_map=False, batch_size=7)
    runner = make_runner(loaded, settings)
    set_memory_budget(256 * 1024)
    try:
        image = regions.needs_regions(compressed_mosaic, 256 * 1024)
        assert isinstance(image, tiff_regions.SegmentedImage)
        decoded_per_read = []
        original = tiff_regions.SegmentedImage._decode_band

        def counting_read(self, start, stop, step=1, _orig=tiff_regions.SegmentedImage.read_rows):
            decoded_per_read.append([min(stop, 300) - start, step, 0])
            return _orig(self, start, stop, step)

        def counting_band(self, *args):
            decoded_per_read[-1][2] += 1
            return original(self, *args)

        def no_whole_decode(*args, **kwargs):
            raise AssertionError("the whole image was decoded")

        monkeypatch.setattr(regions, "PREVIEW_SIDE", 64)
        monkeypatch.setattr(tiff_regions.SegmentedImage, "read_rows", counting_read)
        monkeypatch.setattr(tiff_regions.SegmentedImage, "_decode_band", counting_band)
        with monkeypatch.context() as patched:
            patched.setattr(tifffile.TiffPage, "asarray", no_whole_decode)
            record = classify_file(loaded, runner, compressed_mosaic, settings)
        assert record.ok, record.error
        # a read of n rows decodes only the bands of segments those rows cross
        reads = [(n, bands) for n, step, bands in decoded_per_read if step == 1]
        assert len(reads) > 3 and all(n <= 256 for n, _ in reads)
        assert all(bands <= -(-n // image.segment_rows) + 1 for n, bands in reads)
        by_region = run_to_completion(regions.predict_regions(loaded, image, settings, runner))
    finally:
        set_memory_budget(None)
    expected = run_to_completion(
        predict_micrograph(loaded, open_image(compressed_mosaic), settings, runner=runner)
    )
    assert by_region.n_tiles == expected.n_tiles > 20
    np.testing.assert_allclose(by_region.tile_probabilities, expected.tile_probabilities, atol=1e-5)
    assert by_region.label == expected.label == record.label
