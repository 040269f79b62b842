"""`CrystalNet`: the one interface every architecture offers to inference, CAM and training.

CAM needs the last feature map and the classifier separately, training needs the backbone split
into ordered stages (to freeze or unfreeze the last blocks) and a replaceable head, and inference
only needs ``forward``. Putting these on one base class lets those packages stay ignorant of how
each architecture is built.
"""

from __future__ import annotations

import torch
from torch import nn


class CrystalNet(nn.Module):
    """Base class of the registry's architectures.

    Attributes
    ----------
    arch
        Registry name (``"resnet18"``, ``"diffraction_cnn"`` …).
    num_classes, in_channels
        Output classes and input channels (1 for grey microscope images).
    gap_linear
        True when the head is global average pooling followed by ONE ``Linear``: then the class
        activation map is exactly ``classifier_weight() @ feature_map`` (plain CAM works).
    """

    arch: str = ""
    gap_linear: bool = False

    def __init__(self, num_classes: int, in_channels: int) -> None:
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"num_classes must be at least 1, got {num_classes}")
        if in_channels < 1:
            raise ValueError(f"in_channels must be at least 1, got {in_channels}")
        self.num_classes = int(num_classes)
        self.in_channels = int(in_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, num_classes)`` for a float batch ``(N, in_channels, H, W)``."""
        return self.forward_head(self.forward_features(x))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The last convolutional feature map ``(N, C, h, w)``."""
        raise NotImplementedError

    def forward_head(self, fmap: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, num_classes)`` from the feature map of `forward_features`."""
        raise NotImplementedError

    def classifier(self) -> nn.Linear:
        """The final ``Linear`` layer that produces the logits."""
        raise NotImplementedError

    def classifier_weight(self) -> torch.Tensor:
        """``(num_classes, C)`` weights of the GAP-linear head (exact CAM needs them)."""
        self._require_gap_linear()
        return self.classifier().weight

    def classifier_bias(self) -> torch.Tensor | None:
        """``(num_classes,)`` bias of the GAP-linear head, or None when it has none."""
        self._require_gap_linear()
        return self.classifier().bias

    def conv_layers(self) -> dict[str, nn.Module]:
        """Named layers whose outputs are spatial feature maps (Grad-CAM targets), input first."""
        raise NotImplementedError

    def stages(self) -> list[tuple[str, nn.Module]]:
        """Ordered backbone blocks, input first; "last-blocks" fine-tuning unfreezes the tail."""
        raise NotImplementedError

    def head_modules(self) -> list[nn.Module]:
        """Modules after the backbone (always trained when fine-tuning)."""
        raise NotImplementedError

    def replace_head(self, num_classes: int) -> None:
        """Give the model a freshly initialised output layer for ``num_classes`` classes."""
        raise NotImplementedError

    def _require_gap_linear(self) -> None:
        if not self.gap_linear:
            raise TypeError(
                f"{self.arch} has no global-average-pool + linear head; use Grad-CAM instead"
            )


class PooledLinearHead(CrystalNet):
    """A `CrystalNet` whose head is global average pool, dropout and one ``Linear`` (``fc``).

    Subclasses set ``self.pool``, ``self.dropout``, ``self.fc`` and `head_width` (the channels of
    the last feature map) and list their `stages`; the head's methods are then the same for all
    of them, and plain CAM is exact (``gap_linear``).
    """

    gap_linear = True
    head_width: int = 0

    def forward_head(self, fmap: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(torch.flatten(self.pool(fmap), 1)))

    def classifier(self) -> nn.Linear:
        return self.fc

    def conv_layers(self) -> dict[str, nn.Module]:
        return dict(self.stages())

    def head_modules(self) -> list[nn.Module]:
        return [self.fc]

    def replace_head(self, num_classes: int) -> None:
        device = self.fc.weight.device
        self.fc = nn.Linear(self.head_width, num_classes).to(device)
        self.num_classes = int(num_classes)
