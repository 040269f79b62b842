"""``crystalview classify --cam-dir``: a heat-map TIFF and an overlay PNG per input image."""

from __future__ import annotations

import numpy as np
import tifffile
from PIL import Image

from crystalview.cli import main


def test_classify_writes_a_cam_per_image(tmp_path, tiny_bundle):
    bundle = tiny_bundle
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    shapes = {"wide": (40, 90), "small": (20, 24)}  # tiled, and smaller than one tile
    for stem, shape in shapes.items():
        tifffile.imwrite(images / f"{stem}.tif", rng.integers(0, 4000, shape).astype(np.uint16))
    cam_dir = tmp_path / "cams"

    status = main(
        ["classify", str(images), "--model", str(bundle), "--cam-dir", str(cam_dir),
         "--out", str(tmp_path / "results.csv"), "--fp32"]
    )  # fmt: skip

    assert status == 0
    for stem, shape in shapes.items():
        heatmap = tifffile.imread(cam_dir / f"{stem}_cam.tif")
        assert heatmap.dtype == np.float32 and heatmap.shape == shape
        assert heatmap.min() >= 0.0 and heatmap.max() <= 1.0
        with Image.open(cam_dir / f"{stem}_cam.png") as overlay:
            # Tiny images are enlarged so the legend fits; the aspect ratio is kept.
            assert overlay.height == round(256 * shape[0] / max(shape))
