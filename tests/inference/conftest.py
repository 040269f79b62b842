"""Fixtures for the inference tests: seeded tiny bundles and textured images.

The helpers are offered as fixtures (``bundle_factory``, ``textured``) because test modules
cannot import a conftest. ``wrong_kind`` (generated images no diffraction model reads) is a
plain module next to the tests, importable by name.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from crystalview.models.bundle import load_bundle, save_bundle
from crystalview.models.manifest import ModelManifest, default_normalization
from crystalview.models.registry import build_model

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

CLASSES = ["amorphous", "crystalline", "mixed"]


def make_bundle(path, arch="diffraction_cnn", input_size=32, decisive=True, **manifest_fields):
    """Save a seeded model; ``decisive`` scales its head so answers are not near-uniform."""
    torch.manual_seed(0)
    model = build_model(arch, len(CLASSES)).eval()
    if decisive:
        with torch.no_grad():
            model.fc.weight.mul_(10)
    manifest = ModelManifest(
        architecture=arch, classes=list(CLASSES), input_size=input_size, **manifest_fields
    )
    return save_bundle(path, model, manifest)


def textured_image(shape, seed=0, dtype=np.uint16):
    """A patterned image with noise, so tiles differ from one another."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    pattern = np.sin(xx / 7.0) * np.cos(yy / 11.0) + 0.3 * rng.standard_normal(shape)
    scaled = (pattern - pattern.min()) / np.ptp(pattern)
    if np.issubdtype(dtype, np.integer):
        return (scaled * np.iinfo(dtype).max).astype(dtype)
    return scaled.astype(dtype)


@pytest.fixture
def tiny_loaded(tmp_path):
    return load_bundle(make_bundle(tmp_path / "tiny.cvmodel"))


@pytest.fixture
def calibrated_loaded(tmp_path):
    path = make_bundle(
        tmp_path / "cal.cvmodel",
        pixel_size=2.0,
        pixel_unit="nm",
        normalization=default_normalization(log=False),
    )
    return load_bundle(path)


@pytest.fixture
def bundle_factory():
    return make_bundle


@pytest.fixture
def textured():
    return textured_image
