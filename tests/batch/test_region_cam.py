"""Heat maps of images over the memory budget: tile by tile, downsampled, never decoded whole."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import tifffile
from PIL import Image

from crystalview.cam import compute_cam
from crystalview.cam.blend import TileMapBlender
from crystalview.cam.export import CAM_DESCRIPTION_KEY
from crystalview.cam.regions import compute_region_cam, map_step
from crystalview.cli import main
from crystalview.core.memory import set_memory_budget
from crystalview.core.progress import run_to_completion
from crystalview.core.tiling import tile_grid
from crystalview.inference.predict import InferenceSettings
from crystalview.io import open_image, tiff_regions
from crystalview.models.catalog import load_model

BUDGET_MB = 0.25  # the 240 KiB image needs ~1.4 MiB in memory: region path


@pytest.fixture(params=["contiguous", "zlib-tiles"])
def huge_image(request, bigtiff, tmp_path):
    if request.param == "contiguous":
        return bigtiff
    path = tmp_path / "tiled.tif"
    tifffile.imwrite(path, tifffile.imread(bigtiff), compression="zlib", tile=(64, 48))
    return path


def _in_memory_map(loaded, path, label, step, method="auto"):
    """The in-memory path's map, downsampled the same way (every step-th pixel), renormalised."""
    set_memory_budget(None)
    settings = InferenceSettings(device="cpu", fast=False, batch_size=7)
    cam = run_to_completion(
        compute_cam(
            loaded, open_image(path, timeout_s=None), method=method, target=label, settings=settings
        )
    )
    sampled = cam.heatmap[::step, ::step]
    return sampled / sampled.max(), cam


def test_classify_cam_dir_writes_a_downsampled_map_of_a_huge_image(
    huge_image, tiny_model, tmp_path, monkeypatch
):
    monkeypatch.setenv("CRYSTALVIEW_MEMORY_BUDGET_MB", str(BUDGET_MB))
    reads = []
    for layout in (tiff_regions.ContiguousImage, tiff_regions.SegmentedImage):
        monkeypatch.setattr(
            layout,
            "read_rows",
            lambda self, a, b, step=1, _orig=layout.read_rows: (
                reads.append((a, min(b, self.shape[0]), step)) or _orig(self, a, b, step)
            ),
        )

    def no_whole_decode(*args, **kwargs):
        raise AssertionError("the whole image was decoded")

    cam_dir, out = tmp_path / "cams", tmp_path / "rows.csv"
    with monkeypatch.context() as patched:
        patched.setattr(tifffile.TiffPage, "asarray", no_whole_decode)
        status = main(
            ["classify", str(huge_image), "--model", str(tiny_model), "--cam-dir", str(cam_dir),
             "--out", str(out), "--fp32", "--batch", "7"]
        )  # fmt: skip
    with open(out, newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    assert status == 0 and row["error"] == "" and row["label"], row
    assert reads and all(b - a <= 256 or step > 1 for a, b, step in reads)

    step = map_step((300, 410), int(BUDGET_MB * 1024**2))
    assert step > 1
    stem = huge_image.stem
    with tifffile.TiffFile(cam_dir / f"{stem}_cam.tif") as tif:
        heatmap = tif.pages.first.asarray()
        facts = json.loads(tif.pages.first.description)[CAM_DESCRIPTION_KEY]
        x_resolution = tif.pages.first.tags["XResolution"].value
    assert heatmap.dtype == np.float32 and heatmap.shape == (-(-300 // step), -(-410 // step))
    assert facts["downsampled"] == step
    assert (facts["image_height"], facts["image_width"]) == (300, 410)
    assert x_resolution[0] / x_resolution[1] == pytest.approx(1 / step)
    assert heatmap.min() >= 0.0 and heatmap.max() == pytest.approx(1.0)
    with Image.open(cam_dir / f"{stem}_cam.png") as overlay:
        assert overlay.height == round(256 * heatmap.shape[0] / max(heatmap.shape))

    monkeypatch.delenv("CRYSTALVIEW_MEMORY_BUDGET_MB")
    expected, _cam = _in_memory_map(load_model(tiny_model), huge_image, row["label"], step)
    np.testing.assert_allclose(heatmap, expected, atol=1e-4)


def test_grad_cam_by_region_equals_the_in_memory_map(bigtiff, tiny_model):
    loaded = load_model(tiny_model)
    image = tiff_regions.locate_region_image(bigtiff)
    settings = InferenceSettings(device="cpu", fast=False, batch_size=5)
    expected, full = _in_memory_map(loaded, bigtiff, "crystalline", 3, method="gradcam")
    set_memory_budget(256 * 1024)  # strips of a single tile row
    try:
        cam = run_to_completion(
            compute_region_cam(loaded, image, "crystalline", 3, "gradcam", settings=settings)
        )
    finally:
        set_memory_budget(None)
    assert cam.method == full.method == "gradcam" and cam.downsampled == 3
    assert cam.class_name == "crystalline" and cam.n_tiles == full.n_tiles > 20
    np.testing.assert_allclose(cam.heatmap, expected, atol=1e-4)
    np.testing.assert_allclose(cam.probabilities, full.probabilities, atol=1e-5)


def test_a_sampled_blend_is_the_full_blend_at_those_pixels():
    grid = tile_grid((97, 131), 32, 0.25)
    maps = np.random.default_rng(1).random((grid.n_tiles, 32, 32)).astype(np.float32)
    full = TileMapBlender(grid)
    full.add(0, maps)
    for step in (2, 5, 32, 40):
        sampled = TileMapBlender(grid, step)
        sampled.add(0, maps[:3])
        sampled.add(3, maps[3:])
        np.testing.assert_array_equal(sampled.result(), full.result()[::step, ::step])


def test_the_map_step_keeps_the_map_small():
    assert map_step((300, 410), 1 << 30) == 1
    assert map_step((40_000, 40_000), 1 << 40) == -(-40_000 // 4096)
    step = map_step((40_000, 30_000), 64 << 20)
    assert -(-40_000 // step) * -(-30_000 // step) * 16 <= (64 << 20) // 4
