"""ResNet-18/34/50 from torchvision as `CrystalNet`s with a configurable input stem.

The submodules keep torchvision's names (``conv1``, ``bn1``, ``layer1`` … ``fc``) so ImageNet
state dicts load by name; only ``conv1`` differs in its number of input channels.
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision import models as tvm

from crystalview.models.base import CrystalNet

_TORCHVISION_BUILDERS = {
    "resnet18": tvm.resnet18,
    "resnet34": tvm.resnet34,
    "resnet50": tvm.resnet50,
}


class ResNetNet(CrystalNet):
    """A torchvision ResNet whose first convolution takes ``in_channels`` channels."""

    gap_linear = True

    def __init__(self, arch: str, num_classes: int, in_channels: int = 1) -> None:
        super().__init__(num_classes, in_channels)
        if arch not in _TORCHVISION_BUILDERS:
            raise ValueError(f"unknown ResNet variant {arch!r}")
        self.arch = arch
        base = _TORCHVISION_BUILDERS[arch](weights=None, num_classes=num_classes)
        self.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        nn.init.kaiming_normal_(self.conv1.weight, mode="fan_out", nonlinearity="relu")
        self.bn1 = base.bn1
        self.relu = base.relu
        self.maxpool = base.maxpool
        self.layer1 = base.layer1
        self.layer2 = base.layer2
        self.layer3 = base.layer3
        self.layer4 = base.layer4
        self.avgpool = base.avgpool
        self.fc = base.fc

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        return self.layer4(x)

    def forward_head(self, fmap: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.avgpool(fmap), 1))

    def classifier(self) -> nn.Linear:
        return self.fc

    def conv_layers(self) -> dict[str, nn.Module]:
        return {
            "conv1": self.conv1,
            "layer1": self.layer1,
            "layer2": self.layer2,
            "layer3": self.layer3,
            "layer4": self.layer4,
        }

    def stages(self) -> list[tuple[str, nn.Module]]:
        return [
            ("conv1", self.conv1),
            ("bn1", self.bn1),
            ("layer1", self.layer1),
            ("layer2", self.layer2),
            ("layer3", self.layer3),
            ("layer4", self.layer4),
        ]

    def head_modules(self) -> list[nn.Module]:
        return [self.fc]

    def replace_head(self, num_classes: int) -> None:
        device = self.fc.weight.device
        self.fc = nn.Linear(self.fc.in_features, num_classes).to(device)
        self.num_classes = int(num_classes)


def torchvision_reference(arch: str) -> nn.Module:
    """An untrained torchvision ResNet with the ImageNet layout (3 channels, 1000 classes).

    Used to validate imported ImageNet weight files key by key and shape by shape.
    """
    return _TORCHVISION_BUILDERS[arch](weights=None)


def adapt_imagenet_state(state: dict[str, torch.Tensor], in_channels: int) -> dict:
    """Turn an ImageNet ResNet state dict into one for our stem, without its 1000-class head.

    Grey input replicated over RGB gives ``sum_c W_c * x``, so summing the RGB filters makes a
    1-channel stem that responds to grey images exactly as the pretrained network would; the
    first layer's learnt edge and blob detectors survive transfer learning.
    """
    adapted = {k: v for k, v in state.items() if not k.startswith("fc.")}
    rgb = state["conv1.weight"]
    grey = rgb.sum(dim=1, keepdim=True)
    if in_channels == 3:
        adapted["conv1.weight"] = rgb
    else:
        # Spread the grey response evenly so the summed activation matches the 1-channel case.
        adapted["conv1.weight"] = grey.repeat(1, in_channels, 1, 1) / in_channels
    return adapted
