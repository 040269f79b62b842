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
from crystalview.io import open_image
from crystalview.models.catalog import load_model


@pytest.fixture
def bigtiff(tmp_path):
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[:300, :410]
    image = np.sin(xx / 5.0) * np.cos(yy / 9.0) + 0.4 * rng.standard_normal(xx.shape)
    image[:, 200:] = 0.5 * rng.standard_normal((300, 210))  # two textures, so tiles disagree
    path = tmp_path / "mosaic.tif"
    data = ((image - image.min()) / np.ptp(image) * 60000).astype(np.uint16)
    tifffile.imwrite(path, data, bigtiff=True)
    return path


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
        regions.ContiguousImage,
        "read_rows",
        lambda self, a, b, step=1, _orig=regions.ContiguousImage.read_rows: (
            whole_reads.append((a, min(b, self.shape[0]), step)) or _orig(self, a, b, step)
        ),
    )
    record = classify_file(loaded, runner, bigtiff, settings)
    assert record.ok, record.error
    assert whole_reads and all(b - a <= 256 or step > 1 for a, b, step in whole_reads)
    large = regions.locate_contiguous(bigtiff)
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
    assert regions.locate_contiguous(path) is None
