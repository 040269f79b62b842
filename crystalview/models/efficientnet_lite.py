"""EfficientNet-Lite0 as a `CrystalNet`: a small ImageNet backbone that transfers to micrographs.

EfficientNet-Lite (Tan & Le 2019; the "Lite" variant for mobile) is EfficientNet-B0 without
squeeze-and-excitation and with ReLU6: a stem convolution, 16 inverted-residual (MBConv) blocks
in 7 stages, a 1 x 1 head convolution to 1280 channels, global average pooling and one linear
layer. 4.65 M parameters, about 0.4 GFLOP per 224 px input, so a CPU computes features for a few
hundred micrographs' tiles in seconds.

Stride-2 convolutions pad like TensorFlow's "same" (more on the bottom/right), the convention
the ImageNet weights were trained with; stride-1 convolutions pad symmetrically, which is the
same thing. Batch norm uses eps 1e-3 as in the original.

The head is global average pooling + one ``Linear`` on the 1280-channel head feature map, so the
class-activation map is exact. ImageNet weights come from `crystalview.models.pretrained`
(converted once into our safetensors format; never unpickled at run time).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from crystalview.models.base import CrystalNet

# (kernel, stride, expansion, output channels, repeats) of the seven stages of Lite0.
LITE0_STAGES = (
    (3, 1, 1, 16, 1),
    (3, 2, 6, 24, 2),
    (5, 2, 6, 40, 2),
    (3, 2, 6, 80, 3),
    (5, 1, 6, 112, 3),
    (5, 2, 6, 192, 4),
    (3, 1, 6, 320, 1),
)
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
_BN_EPS = 1e-3
_BN_MOMENTUM = 0.01


class SamePadConv2d(nn.Conv2d):
    """``Conv2d`` with TensorFlow "same" padding for any input size (asymmetric when needed)."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int = 1, groups: int = 1):
        super().__init__(in_ch, out_ch, kernel, stride, padding=0, groups=groups, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, k, s in zip(
            reversed(x.shape[2:]), reversed(self.kernel_size), reversed(self.stride), strict=True
        ):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        if any(pads):
            x = F.pad(x, pads)
        return super().forward(x)


def _conv_bn(in_ch: int, out_ch: int, kernel: int, stride: int = 1, groups: int = 1, act=True):
    conv = (
        SamePadConv2d(in_ch, out_ch, kernel, stride, groups)
        if stride > 1
        else nn.Conv2d(in_ch, out_ch, kernel, 1, kernel // 2, groups=groups, bias=False)
    )
    layers: list[nn.Module] = [conv, nn.BatchNorm2d(out_ch, eps=_BN_EPS, momentum=_BN_MOMENTUM)]
    if act:
        layers.append(nn.ReLU6(inplace=True))
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    """MBConv without squeeze-excitation: 1x1 expand, depthwise k x k, 1x1 project (+ skip)."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int, expansion: int):
        super().__init__()
        hidden = in_ch * expansion
        self.expand = _conv_bn(in_ch, hidden, 1) if expansion != 1 else None
        self.depthwise = _conv_bn(hidden, hidden, kernel, stride, groups=hidden)
        self.project = _conv_bn(hidden, out_ch, 1, act=False)
        self.residual = stride == 1 and in_ch == out_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.expand(x) if self.expand is not None else x
        out = self.project(self.depthwise(out))
        return out + x if self.residual else out


class EfficientNetLite0(CrystalNet):
    """EfficientNet-Lite0 with an ``in_channels`` stem and a ``num_classes`` linear head."""

    arch = "efficientnet_lite0"
    gap_linear = True

    def __init__(self, num_classes: int, in_channels: int = 1, dropout: float = 0.2) -> None:
        super().__init__(num_classes, in_channels)
        self.stem = _conv_bn(in_channels, STEM_CHANNELS, 3, stride=2)
        channels = STEM_CHANNELS
        self.stage_names: list[str] = []
        for index, (kernel, stride, expansion, out_ch, repeats) in enumerate(LITE0_STAGES, 1):
            blocks = []
            for r in range(repeats):
                blocks.append(
                    InvertedResidual(channels, out_ch, kernel, stride if r == 0 else 1, expansion)
                )
                channels = out_ch
            name = f"stage{index}"
            setattr(self, name, nn.Sequential(*blocks))
            self.stage_names.append(name)
        self.head_conv = _conv_bn(channels, HEAD_CHANNELS, 1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(HEAD_CHANNELS, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        nn.init.uniform_(self.fc.weight, -1.0 / math.sqrt(HEAD_CHANNELS), 1.0 / HEAD_CHANNELS**0.5)
        nn.init.zeros_(self.fc.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for name in self.stage_names:
            x = getattr(self, name)(x)
        return self.head_conv(x)

    def forward_head(self, fmap: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(fmap.mean(dim=(2, 3))))

    def classifier(self) -> nn.Linear:
        return self.fc

    def conv_layers(self) -> dict[str, nn.Module]:
        layers = {"stem": self.stem}
        layers.update({name: getattr(self, name) for name in self.stage_names})
        layers["head_conv"] = self.head_conv
        return layers

    def stages(self) -> list[tuple[str, nn.Module]]:
        return list(self.conv_layers().items())

    def head_modules(self) -> list[nn.Module]:
        return [self.dropout, self.fc]

    def replace_head(self, num_classes: int) -> None:
        device = self.fc.weight.device
        self.fc = nn.Linear(HEAD_CHANNELS, num_classes).to(device)
        self.num_classes = int(num_classes)


def _block_positions() -> list[tuple[int, int]]:
    """``(stage, position)`` of each of the 16 blocks, in network order."""
    return [(s, r) for s, (*_, repeats) in enumerate(LITE0_STAGES, 1) for r in range(repeats)]


# Layer names of the published ImageNet state dict -> ours, per block and outside blocks.
_BLOCK_PARTS = {
    "_expand_conv": "expand.0",
    "_bn0": "expand.1",
    "_depthwise_conv": "depthwise.0",
    "_bn1": "depthwise.1",
    "_project_conv": "project.0",
    "_bn2": "project.1",
}
_TOP_PARTS = {"_conv_stem": "stem.0", "_bn0": "stem.1", "_conv_head": "head_conv.0",
              "_bn1": "head_conv.1", "_fc": "fc"}  # fmt: skip


def rename_published_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Our names for the tensors of the published EfficientNet-Lite0 ImageNet state dict.

    The published names (``_blocks.7._depthwise_conv.weight``) number blocks across the whole
    network; ours group them by stage (``stage4.1.depthwise.0.weight``). Unknown names raise
    ``KeyError`` so a different file is never half loaded.
    """
    positions = _block_positions()
    renamed: dict[str, torch.Tensor] = {}
    for key, tensor in state.items():
        parts = key.split(".")
        if parts[0] == "_blocks":
            stage, position = positions[int(parts[1])]
            layer = _BLOCK_PARTS[parts[2]]
            new = f"stage{stage}.{position}.{layer}.{'.'.join(parts[3:])}"
        else:
            new = f"{_TOP_PARTS[parts[0]]}.{'.'.join(parts[1:])}"
        renamed[new] = tensor
    return renamed


def adapt_imagenet_state(state: dict[str, torch.Tensor], in_channels: int) -> dict:
    """Our ImageNet state dict (see `rename_published_state`) for an ``in_channels`` stem.

    Grey input replicated over RGB gives ``sum_c W_c * x``: summing the RGB filters makes a
    1-channel stem that answers grey images as the ImageNet network does. The 1000-class head
    is dropped.
    """
    adapted = {k: v for k, v in state.items() if not k.startswith("fc.")}
    rgb = state["stem.0.weight"]
    if in_channels != 3:
        adapted["stem.0.weight"] = rgb.sum(dim=1, keepdim=True).repeat(1, in_channels, 1, 1) / (
            in_channels
        )
    return adapted
