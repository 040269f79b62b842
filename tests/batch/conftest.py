"""Fixtures of the batch tests: a folder of small generated images and a tiny model file."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
import torch

from crystalview.models.bundle import save_bundle
from crystalview.models.manifest import ModelManifest
from crystalview.models.registry import build_model

CLASSES = ["amorphous", "crystalline", "mixed"]
N_IMAGES = 16


def _image(shape, seed):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    pattern = np.sin(xx / (3.0 + seed % 5)) * np.cos(yy / (4.0 + seed % 3))
    pattern += 0.3 * rng.standard_normal(shape)
    scaled = (pattern - pattern.min()) / np.ptp(pattern)
    return (scaled * 65535).astype(np.uint16)


@pytest.fixture(scope="session")
def image_folder(tmp_path_factory):
    """16 small TIFFs in two sub-folders, plus one broken file."""
    root = tmp_path_factory.mktemp("batch-images")
    for i in range(N_IMAGES):
        folder = root / ("a" if i % 2 else "b")
        folder.mkdir(exist_ok=True)
        tifffile.imwrite(folder / f"img{i:02d}.tif", _image((48, 64), seed=i))
    (root / "broken.tif").write_bytes(b"II*\x00 this is not really a TIFF")
    return root


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """A seeded diffraction CNN (32 px input) saved as a bundle file."""
    torch.manual_seed(0)
    model = build_model("diffraction_cnn", len(CLASSES)).eval()
    with torch.no_grad():
        model.fc.weight.mul_(10)  # decisive answers, so labels are not coin flips
    manifest = ModelManifest(architecture="diffraction_cnn", classes=CLASSES, input_size=32)
    return save_bundle(tmp_path_factory.mktemp("model") / "tiny.cvmodel", model, manifest)


@pytest.fixture
def bigtiff(tmp_path):
    """A 300 × 410 uint16 BigTIFF of two textures (tiles disagree), stored contiguous."""
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[:300, :410]
    image = np.sin(xx / 5.0) * np.cos(yy / 9.0) + 0.4 * rng.standard_normal(xx.shape)
    image[:, 200:] = 0.5 * rng.standard_normal((300, 210))  # two textures, so tiles disagree
    path = tmp_path / "mosaic.tif"
    data = ((image - image.min()) / np.ptp(image) * 60000).astype(np.uint16)
    tifffile.imwrite(path, data, bigtiff=True)
    return path
