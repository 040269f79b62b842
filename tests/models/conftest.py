"""Tiny models and bundles for the model tests (fast on a 2-core CPU)."""

from __future__ import annotations

import pytest
import torch

from crystalview.models.bundle import save_bundle
from crystalview.models.manifest import ModelManifest
from crystalview.models.registry import build_model

CLASSES = ["amorphous", "polycrystalline", "single_crystal"]


@pytest.fixture
def tiny_model():
    torch.manual_seed(0)
    return build_model("diffraction_cnn", len(CLASSES)).eval()


@pytest.fixture
def tiny_manifest() -> ModelManifest:
    return ModelManifest(
        architecture="diffraction_cnn",
        classes=list(CLASSES),
        input_size=32,
        modality="SAED",
        pixel_size=0.05,
        pixel_unit="1/nm",
        name="tiny",
        description="test model",
    )


@pytest.fixture
def tiny_bundle(tmp_path, tiny_model, tiny_manifest):
    return save_bundle(tmp_path / "tiny.cvmodel", tiny_model, tiny_manifest, "# Tiny\ncard")
