"""Tiny CrystalNets and synthetic images for the heat-map tests.

`BlobNet` is a hand-wired CrystalNet (the same contract as the registry's models) whose only
evidence for class "blob" is bright pixels: a mean filter with a threshold, a max pool, another
mean filter, global average pooling and a linear head. Its CAM must therefore light up exactly
where the image is bright, which makes localisation and alignment checkable without training.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from crystalview.models.base import CrystalNet
from crystalview.models.bundle import LoadedModel
from crystalview.models.manifest import ModelManifest


class BlobNet(CrystalNet):
    """conv1 (bright-pixel detector) → ReLU → 2x2 max pool → block (conv + ReLU) → GAP → fc."""

    arch = "resnet18"  # a registry name, so the manifest validates; the layers are our own
    gap_linear = True

    def __init__(self, seed: int = 0) -> None:
        super().__init__(num_classes=2, in_channels=1)
        generator = torch.Generator().manual_seed(seed)
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.block = nn.Sequential(nn.Conv2d(4, 8, 3, padding=1), nn.ReLU())
        self.fc = nn.Linear(8, 2)
        with torch.no_grad():
            for parameter in self.parameters():
                parameter.copy_(0.05 * torch.randn(parameter.shape, generator=generator))
            # Channel 0 fires where the 3x3 mean of the normalised input exceeds 1 (bright).
            self.conv1.weight[0] = 1.0 / 9.0
            self.conv1.bias[0] = -1.0
            self.block[0].weight[0] = 0.0
            self.block[0].weight[0, 0] = 1.0 / 9.0
            self.block[0].bias[0] = 0.0
            self.fc.weight.zero_()
            self.fc.weight[1, 0] = 4.0  # "blob"
            self.fc.weight[0, 0] = -4.0  # "empty"
            self.fc.bias.copy_(torch.tensor([0.1, 0.0]))
        self.eval()

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(self.pool(self.relu(self.conv1(x))))

    def forward_head(self, fmap: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(fmap, 1), 1))

    def classifier(self) -> nn.Linear:
        return self.fc

    def conv_layers(self) -> dict[str, nn.Module]:
        return {"conv1": self.conv1, "block": self.block}

    def stages(self) -> list[tuple[str, nn.Module]]:
        return [("conv1", self.conv1), ("block", self.block)]

    def head_modules(self) -> list[nn.Module]:
        return [self.fc]

    def replace_head(self, num_classes: int) -> None:
        self.fc = nn.Linear(8, num_classes)
        self.num_classes = num_classes


def make_loaded(
    model: CrystalNet,
    classes: list[str],
    input_size: int = 64,
    input_mode: str = "tiles",
    pixel_size: float | None = None,
) -> LoadedModel:
    manifest = ModelManifest(
        architecture=model.arch if model.arch else "resnet18",
        classes=classes,
        input_size=input_size,
        input_mode=input_mode,
        pixel_size=pixel_size,
        pixel_unit="nm" if pixel_size is not None else None,
    )
    return LoadedModel(model=model, manifest=manifest, path=Path("test.cvmodel"))


def blob_image(shape: tuple[int, int], box: tuple[int, int, int, int], seed: int = 0) -> np.ndarray:
    """uint16 image: dim noisy background, one bright rectangle ``y0, x0, y1, x1``."""
    rng = np.random.default_rng(seed)
    image = rng.normal(1000, 20, size=shape)
    y0, x0, y1, x1 = box
    image[y0:y1, x0:x1] = 3000 + rng.normal(0, 20, size=(y1 - y0, x1 - x0))
    return np.clip(image, 0, 65535).astype(np.uint16)


@pytest.fixture
def make_blob_image():
    """Factory `blob_image`."""
    return blob_image


@pytest.fixture
def loaded_for():
    """Factory `make_loaded` for any CrystalNet."""
    return make_loaded


@pytest.fixture
def blob_loaded():
    """Factory: a `LoadedModel` around a fresh `BlobNet`."""

    def build(input_size: int = 64, input_mode: str = "tiles", pixel_size: float | None = None):
        return make_loaded(BlobNet(), ["empty", "blob"], input_size, input_mode, pixel_size)

    return build


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models: one thread is fastest and leaves the other core to the rest of the suite."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
