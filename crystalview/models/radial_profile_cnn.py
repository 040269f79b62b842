"""A CNN that reads the radial intensity profile of a ring pattern (about 270k parameters).

The crystal system of a polycrystalline ring pattern is written in the ratios of its ring radii.
On a log-radius axis those ratios are fixed distances and a change of camera length is a shift,
so a network of convolutions along log-radius with global average pooling is exactly invariant
to the calibration. Such a network sees a profile of a few hundred samples at the resolution
that separates neighbouring rings (about 1.3 % in radius at 256 samples); a 2-D CNN on a square
view would spend almost all its work on the angle axis, where an averaged profile holds nothing.

The input stays a square ``(N, C, H, W)`` image like every other architecture's, so inference,
tiling, heat maps and fine-tuning need nothing special: the network averages the rows (angles
of the ``log_polar_mean`` view, which are identical) and runs ``1 x k`` convolutions along the
columns. Its feature maps are ``(N, C, 1, w)``; a heat map upsampled to the input spreads each
log-radius over all angles, which the inverse polar transform draws as rings.
"""

from __future__ import annotations

import torch
from torch import nn

from crystalview.models.base import PooledLinearHead

_WIDTHS = (32, 64, 128, 128)
_KERNELS = (5, 5, 5, 3)
_DROPOUT = 0.3


def _conv(in_channels: int, out_channels: int, kernel: int) -> list[nn.Module]:
    return [
        nn.Conv2d(in_channels, out_channels, kernel_size=(1, kernel), padding=(0, kernel // 2)),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    ]


def _stage(in_channels: int, out_channels: int, kernel: int) -> nn.Sequential:
    """Two conv-BN-ReLU layers along the profile."""
    return nn.Sequential(
        *_conv(in_channels, out_channels, kernel), *_conv(out_channels, out_channels, kernel)
    )


class RadialProfileCNN(PooledLinearHead):
    """Row mean, four stages of two ``1 x k`` conv-BN-ReLU (32/64/128/128 filters, ``1 x 2``
    max pool between stages), global average pool, dropout, one linear layer.

    The head is GAP + one ``Linear``, so ``gap_linear`` is True and plain CAM is exact. The
    receptive field spans 96 input columns (a radius ratio of 3.3 at 256 columns), enough
    to relate the first rings to each other.
    """

    arch = "radial_profile_cnn"
    head_width = _WIDTHS[-1]

    def __init__(self, num_classes: int, in_channels: int = 1) -> None:
        super().__init__(num_classes, in_channels)
        channels = (in_channels, *_WIDTHS)
        self.stage1 = _stage(channels[0], channels[1], _KERNELS[0])
        self.pool1 = nn.MaxPool2d((1, 2))
        self.stage2 = _stage(channels[1], channels[2], _KERNELS[1])
        self.pool2 = nn.MaxPool2d((1, 2))
        self.stage3 = _stage(channels[2], channels[3], _KERNELS[2])
        self.pool3 = nn.MaxPool2d((1, 2))
        self.stage4 = _stage(channels[3], channels[4], _KERNELS[3])
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(_DROPOUT)
        self.fc = nn.Linear(_WIDTHS[-1], num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = x.mean(dim=2, keepdim=True)  # the angle rows of a radial-profile view are equal
        x = self.pool1(self.stage1(x))
        x = self.pool2(self.stage2(x))
        x = self.pool3(self.stage3(x))
        return self.stage4(x)

    def stages(self) -> list[tuple[str, nn.Module]]:
        return [
            ("stage1", self.stage1),
            ("stage2", self.stage2),
            ("stage3", self.stage3),
            ("stage4", self.stage4),
        ]
