"""The architectures CrystalView can build, by name.

Bundles name their architecture; loading builds it here and only then fills in the weights, so a
model file can never bring its own code.
"""

from __future__ import annotations

from collections.abc import Callable

from crystalview.core.progress import Progress
from crystalview.models import efficientnet_lite
from crystalview.models.base import CrystalNet
from crystalview.models.diffraction_cnn import DiffractionCNN
from crystalview.models.manifest import KNOWN_ARCHITECTURES
from crystalview.models.polar_net_cnn import PolarNetCNN
from crystalview.models.pretrained import (
    PretrainedWeightsUnavailable,
    has_pretrained,
    load_imagenet_state,
)
from crystalview.models.radial_profile_cnn import RadialProfileCNN

__all__ = ["ARCHITECTURES", "PretrainedWeightsUnavailable", "build_model", "has_pretrained"]


def _resnet(arch: str) -> Callable[[int, int], CrystalNet]:
    def build(num_classes: int, in_channels: int) -> CrystalNet:
        # torchvision is imported only for a ResNet: loading a small CNN's bundle does not pay
        # the seconds its package import takes (`models import` took 6.8 s, mostly that).
        from crystalview.models.resnet import ResNetNet

        return ResNetNet(arch, num_classes, in_channels)

    return build


ARCHITECTURES: dict[str, Callable[[int, int], CrystalNet]] = {
    "resnet18": _resnet("resnet18"),
    "resnet34": _resnet("resnet34"),
    "resnet50": _resnet("resnet50"),
    "diffraction_cnn": lambda k, c: DiffractionCNN(k, c),
    "radial_profile_cnn": lambda k, c: RadialProfileCNN(k, c),
    "polar_net_cnn": lambda k, c: PolarNetCNN(k, c),
    "efficientnet_lite0": lambda k, c: efficientnet_lite.EfficientNetLite0(k, c),
}
assert tuple(ARCHITECTURES) == KNOWN_ARCHITECTURES


def build_model(
    arch: str,
    num_classes: int,
    in_channels: int = 1,
    pretrained: bool = False,
    progress: Callable[[Progress], None] | None = None,
) -> CrystalNet:
    """Build ``arch`` for ``num_classes`` classes and ``in_channels`` input channels.

    Parameters
    ----------
    pretrained
        Start from ImageNet weights (ResNets, EfficientNet-Lite0); the stem is built from the
        RGB filters and the head is new. Raises `PretrainedWeightsUnavailable` when they
        cannot be had.
    progress
        Receives `Progress` events while weights are downloaded.
    """
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; known: {', '.join(ARCHITECTURES)}")
    model = ARCHITECTURES[arch](num_classes, in_channels)
    if pretrained:
        if not has_pretrained(arch):
            raise PretrainedWeightsUnavailable(
                f"{arch} has no ImageNet weights; train it from scratch (pretrained off)"
            )
        from crystalview.models.resnet import adapt_imagenet_state

        adapt = (
            efficientnet_lite.adapt_imagenet_state
            if arch == "efficientnet_lite0"
            else adapt_imagenet_state
        )
        state = adapt(load_imagenet_state(arch, progress), in_channels)
        missing, unexpected = model.load_state_dict(state, strict=False)
        if unexpected or any(not name.startswith("fc.") for name in missing):
            raise PretrainedWeightsUnavailable(
                f"ImageNet weights for {arch} do not fit the model (missing {missing[:3]}, "
                f"unexpected {unexpected[:3]})"
            )
    return model
