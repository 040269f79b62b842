"""The small CNN for diffraction patterns (about 101k parameters for 3 classes).

Diffraction patterns are simple (spots, rings, diffuse halos) and labelled sets are small, so a
three-block network trains from scratch in minutes on a CPU and overfits less than a ResNet.
"""

from __future__ import annotations

import torch
from torch import nn

from crystalview.models.base import CrystalNet

_FILTERS = (32, 64, 128)
_HIDDEN = 64
_DROPOUT = 0.3


def _conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class DiffractionCNN(CrystalNet):
    """conv-BN-ReLU x3 (32/64/128 filters, 2x2 max pool after the first two), GAP, 64-unit MLP.

    The head has a hidden layer, so ``gap_linear`` is False and CAM falls back to Grad-CAM.
    """

    arch = "diffraction_cnn"
    gap_linear = False

    def __init__(self, num_classes: int, in_channels: int = 1) -> None:
        super().__init__(num_classes, in_channels)
        self.block1 = _conv_block(in_channels, _FILTERS[0])
        self.pool1 = nn.MaxPool2d(2)
        self.block2 = _conv_block(_FILTERS[0], _FILTERS[1])
        self.pool2 = nn.MaxPool2d(2)
        self.block3 = _conv_block(_FILTERS[1], _FILTERS[2])
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.hidden = nn.Linear(_FILTERS[2], _HIDDEN)
        self.dropout = nn.Dropout(_DROPOUT)
        self.fc = nn.Linear(_HIDDEN, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool1(self.block1(x))
        x = self.pool2(self.block2(x))
        return self.block3(x)

    def forward_head(self, fmap: torch.Tensor) -> torch.Tensor:
        x = torch.flatten(self.pool(fmap), 1)
        x = self.dropout(torch.relu(self.hidden(x)))
        return self.fc(x)

    def classifier(self) -> nn.Linear:
        return self.fc

    def conv_layers(self) -> dict[str, nn.Module]:
        return {"block1": self.block1, "block2": self.block2, "block3": self.block3}

    def stages(self) -> list[tuple[str, nn.Module]]:
        return [("block1", self.block1), ("block2", self.block2), ("block3", self.block3)]

    def head_modules(self) -> list[nn.Module]:
        return [self.hidden, self.fc]

    def replace_head(self, num_classes: int) -> None:
        device = self.fc.weight.device
        self.fc = nn.Linear(_HIDDEN, num_classes).to(device)
        self.num_classes = int(num_classes)
