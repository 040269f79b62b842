"""A CNN for the polar view of a spot pattern's autocorrelation (about 420k parameters).

The ``polar_autocorrelation`` view holds the spot net as peaks at (angle, log-lag): rows are
angles about the zero lag, columns log-lags. The 2-D lattice type is in how those peaks relate:
two equal lags 90° apart (square) or 60° apart (hexagonal), a 90° pair of unequal lags
(rectangular), and so on. Two things follow for the network:

- the angle axis is periodic, so convolutions wrap around it (circular padding along rows) and
  a rotation of the pattern, a cyclic shift of the rows, shifts the feature maps exactly;
- peaks 90° apart are a quarter of the rows apart, so the receptive field must span the whole
  view before the global average pool; five conv stages with a 2 x 2 pool after each of the
  first four give that at about the cost of the three-stage `DiffractionCNN` (the wide layers
  run on small maps).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional

from crystalview.models.base import PooledLinearHead

_WIDTHS = (32, 64, 128, 128, 256)
_DROPOUT = 0.3


class _WrappedConv(nn.Module):
    """3 x 3 conv-BN-ReLU, padded circularly along rows (angles) and with zeros along columns."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=0)
        self.norm = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = functional.pad(x, (0, 0, 1, 1), mode="circular")
        x = functional.pad(x, (1, 1, 0, 0))
        return torch.relu(self.norm(self.conv(x)))


class PolarNetCNN(PooledLinearHead):
    """Five wrapped conv-BN-ReLU stages (32/64/128/128/256 filters, 2 x 2 max pool after the
    first four, so inputs are at least 16 x 16), global average pool, dropout, one linear layer.

    The head is GAP + one ``Linear``, so ``gap_linear`` is True and plain CAM is exact.
    """

    arch = "polar_net_cnn"
    head_width = _WIDTHS[-1]

    def __init__(self, num_classes: int, in_channels: int = 1) -> None:
        super().__init__(num_classes, in_channels)
        channels = (in_channels, *_WIDTHS)
        self.blocks = nn.ModuleList(
            _WrappedConv(channels[i], channels[i + 1]) for i in range(len(_WIDTHS))
        )
        self.downsample = nn.MaxPool2d(2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(_DROPOUT)
        self.fc = nn.Linear(_WIDTHS[-1], num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        *stages, last = self.blocks
        for block in stages:
            x = self.downsample(block(x))
        return last(x)

    def stages(self) -> list[tuple[str, nn.Module]]:
        return [(f"block{i + 1}", block) for i, block in enumerate(self.blocks)]
