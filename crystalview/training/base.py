"""The model a run starts from: a fresh architecture or a copy of an existing bundle.

One owner per model: the app's inference may be using a loaded bundle right now, so training
always works on a deep copy and never touches the module inference holds.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from crystalview.models.base import CrystalNet
from crystalview.models.manifest import ModelManifest, default_normalization
from crystalview.training.config import TrainingConfig
from crystalview.training.data import Sample, sniff_modality

# Per-architecture defaults for a network started from a name: (input_size, modality or None,
# input transform). The data's own modality (from the files' metadata) wins over the
# architecture's. The radial-profile network only makes sense on the azimuthally averaged view.
ARCH_DEFAULTS: dict[str, tuple[int, str | None, str]] = {
    "diffraction_cnn": (64, "SAED", "none"),
    "radial_profile_cnn": (256, "SAED", "log_polar_mean"),
    "polar_net_cnn": (64, "SAED", "polar_autocorrelation"),
    "resnet18": (224, None, "none"),
    "resnet34": (224, None, "none"),
    "resnet50": (224, None, "none"),
    "efficientnet_lite0": (224, None, "none"),
}


def _normalization_for(base: dict[str, Any], modality: str) -> dict[str, Any]:
    """The base's normalisation, with the log stretch and view that the modality calls for.

    Diffraction patterns are read in log intensity (the direct beam would drown every ring);
    real-space images linearly, and never through a beam-centred diffraction view. A base
    trained on the other kind keeps its percentiles, mean and std.
    """
    normalization = dict(base)
    if modality == "SAED":
        normalization["log"] = True
    elif modality != "unknown":
        normalization["log"] = False
        normalization["transform"] = "none"
    return normalization


@dataclass
class StartingPoint:
    """The model to train (already with a head for the new classes) and its preprocessing."""

    model: CrystalNet
    manifest: ModelManifest
    provenance: dict[str, Any]


def resolve_base(
    config: TrainingConfig, class_names: Sequence[str], samples: Sequence[Sample]
) -> StartingPoint:
    """Build or load ``config.base`` and fit a fresh head for ``class_names``.

    Raises the registry's `PretrainedWeightsUnavailable` (with its how-to message) when ImageNet
    weights are wanted but not available, and the catalog's errors for unknown model names.
    """
    from crystalview.models.registry import ARCHITECTURES, build_model, has_pretrained

    names = list(class_names)
    if config.base in ARCHITECTURES:
        arch = config.base
        size, arch_modality, transform = ARCH_DEFAULTS.get(arch, (224, None, "none"))
        modality = config.modality or sniff_modality(samples)
        if modality == "unknown" and arch_modality is not None:
            modality = arch_modality  # e.g. diffraction_cnn is meant for patterns
        pretrained = bool(config.pretrained and has_pretrained(arch))
        model = build_model(arch, len(names), in_channels=1, pretrained=pretrained)
        manifest = ModelManifest(
            architecture=arch,
            classes=names,
            input_size=config.input_size or size,
            in_channels=1,
            normalization=default_normalization(log=modality == "SAED", transform=transform),
            modality=modality,
            input_mode=config.input_mode or "whole",
        )
        provenance = {"base": arch, "base_kind": "architecture", "pretrained": pretrained}
        return StartingPoint(model, manifest, provenance)

    from crystalview.models.catalog import load_model

    loaded = load_model(config.base)
    model = copy.deepcopy(loaded.model)
    model.replace_head(len(names))
    modality = config.modality or sniff_modality(samples)
    if modality == "unknown":
        modality = loaded.manifest.modality
    manifest = dataclasses.replace(
        loaded.manifest,
        classes=names,
        provenance={},
        name="",
        description="",
        modality=modality,
        normalization=_normalization_for(loaded.manifest.normalization, modality),
        # the base's calibration and evidence stack were fitted to its own head and classes
        calibration=None,
        evidence=None,
    )
    provenance = {
        "base": loaded.manifest.name or loaded.path.stem,
        "base_kind": "bundle",
        "base_file": loaded.path.name,
        "base_classes": list(loaded.manifest.classes),
    }
    return StartingPoint(model, manifest, provenance)
