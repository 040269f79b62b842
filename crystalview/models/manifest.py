"""``model.json``: what a model expects and where it came from, validated strictly.

A bundle may come from a stranger, so every field is checked for type and range before anything
uses it; a bad value raises `ManifestError` naming the field. This module imports no torch, so the
model list can be shown without loading the deep-learning stack.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from crystalview.core.errors import ModelBundleError
from crystalview.core.micrograph import REAL_SPACE_UNIT, RECIPROCAL_UNIT, Modality

# 2: optional "calibration" and "pattern_kind"; 3: optional "image_pooling"; 4: optional
# "evidence". Older bundles load.
FORMAT_VERSION = 4
KNOWN_ARCHITECTURES = (
    "resnet18",
    "resnet34",
    "resnet50",
    "diffraction_cnn",
    "radial_profile_cnn",
    "polar_net_cnn",
    "efficientnet_lite0",
)
# What a model may declare it reads: every modality but optical (chamber and navigation cameras),
# so no electron-image model is ever offered those pictures.
MODALITIES = tuple(modality.value for modality in Modality if modality is not Modality.OPTICAL)
PIXEL_UNITS = (REAL_SPACE_UNIT, RECIPROCAL_UNIT)
INPUT_MODES = ("tiles", "whole")
NORMALIZATION_METHODS = ("percentile",)
PATTERN_KINDS = ("rings", "spots")
IMAGE_POOLING_METHODS = ("mean_logits",)
# Measured evidence a whole-image model may stack on its logits (`crystalview.inference.evidence`).
EVIDENCE_METHODS = ("spot_lattice",)
MAX_ZOOMS = 4
# Which diffraction view a model reads when its manifest does not say (older bundles).
_PATTERN_KIND_OF_TRANSFORM = {
    "log_polar_mean": "rings",
    "autocorrelation": "spots",
    "polar_autocorrelation": "spots",
}
MAX_OOD_AXES = 256
MAX_FEATURES = 4096
MAX_CURVE_POINTS = 1000

MIN_INPUT_SIZE = 16
MAX_INPUT_SIZE = 2048
MAX_CHANNELS = 4
MAX_CLASSES = 1000
MAX_CLASS_NAME = 100
MAX_TEXT = 20_000


class ManifestError(ModelBundleError):
    """``model.json`` is missing a field, has a field of the wrong type, or a value out of range."""


TRANSFORMS = ("none", "log_polar", "log_polar_mean", "autocorrelation", "polar_autocorrelation")


def default_normalization(log: bool = False, transform: str = "none") -> dict[str, Any]:
    """Percentile contrast stretch then a fixed mean/std; ``log`` for diffraction patterns.

    ``transform`` (whole-image diffraction models) is the beam-centred view the model reads:
    ``"none"``, ``"log_polar"``, ``"log_polar_mean"``, ``"autocorrelation"`` or
    ``"polar_autocorrelation"`` (see
    `crystalview.inference.preprocess.transformed_view`).
    """
    return {
        "method": "percentile",
        "low": 0.5,
        "high": 99.5,
        "log": log,
        "mean": 0.5,
        "std": 0.25,
        "transform": transform,
    }


@dataclass
class ModelManifest:
    """The content of ``model.json``.

    Attributes
    ----------
    architecture
        A registry name; the weights must fit it exactly.
    classes
        Class names in output order.
    input_size
        Side of the square input in pixels (the tile size by default).
    normalization
        ``{"method": "percentile", "low", "high", "log", "mean", "std"}``.
    modality
        The kind of image the model was trained on (``"TEM"`` … ``"unknown"``).
    pixel_size, pixel_unit
        Physical size of one input pixel the model was trained at, or both ``None``.
    input_mode
        ``"tiles"``: large images are cut into tiles; ``"whole"``: each image is resized whole.
    provenance
        Base model, strategy, data summary, metrics, date: free-form JSON.
    calibration
        ``None`` (not calibrated) or the dict of
        `crystalview.inference.calibration.Calibration`: temperature, the ``unsure``
        threshold, the accuracy-coverage curve and the out-of-distribution statistics.
    pattern_kind
        ``"rings"`` or ``"spots"``: which diffraction patterns the model reads (the other kind
        is not-this-kind); ``None`` derives it from the transform (see `expected_pattern_kind`).
    image_pooling
        ``None``: a tiled image's answer is the mean of its tiles' probabilities. Or
        ``{"method": "mean_logits", "zooms": [1.0, 0.5]}``: the image is tiled at each zoom of
        the model's pixel size, and its answer is the softmax of the mean over zooms of the
        mean of the tiles' logits, which is exactly a linear head on the image's multi-scale
        mean features (`crystalview.training.tile_features.multiscale_bank`).
    evidence
        ``None``, or a whole-image model's stack of measured geometry on its logits:
        ``{"method", "mean", "scale", "weights", "bias"}`` of
        `crystalview.inference.evidence.EvidenceStack`.
    """

    architecture: str
    classes: list[str]
    input_size: int = 224
    in_channels: int = 1
    normalization: dict[str, Any] = field(default_factory=default_normalization)
    modality: str = "unknown"
    pixel_size: float | None = None
    pixel_unit: str | None = None
    input_mode: str = "tiles"
    provenance: dict[str, Any] = field(default_factory=dict)
    name: str = ""
    description: str = ""
    calibration: dict[str, Any] | None = None
    pattern_kind: str | None = None
    image_pooling: dict[str, Any] | None = None
    evidence: dict[str, Any] | None = None
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        self.validate()

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def transform(self) -> str:
        """The view of the image the model reads (one of `TRANSFORMS`; ``"none"``: the image)."""
        return self.normalization.get("transform", "none")

    @property
    def zooms(self) -> list[float]:
        """The zooms a tiled image is read at (``[1.0]`` unless `image_pooling` says more)."""
        return list(self.image_pooling["zooms"]) if self.image_pooling else [1.0]

    @property
    def expected_pattern_kind(self) -> str | None:
        """``"rings"``, ``"spots"`` or None: the diffraction patterns this model reads."""
        if self.pattern_kind is not None:
            return self.pattern_kind
        return _PATTERN_KIND_OF_TRANSFORM.get(self.transform)

    def validate(self) -> None:
        """Raise `ManifestError` naming the first field that is wrong."""
        _check_int("format_version", self.format_version, 1, 10**6)
        if self.format_version > FORMAT_VERSION:
            raise ManifestError(
                f"model.json has format version {self.format_version}; this CrystalView reads "
                f"up to {FORMAT_VERSION}. Update CrystalView to use this model."
            )
        if self.architecture not in KNOWN_ARCHITECTURES:
            raise ManifestError(
                f"model.json names an unknown architecture {self.architecture!r} "
                f"(known: {', '.join(KNOWN_ARCHITECTURES)})"
            )
        _check_classes(self.classes)
        _check_int("input_size", self.input_size, MIN_INPUT_SIZE, MAX_INPUT_SIZE)
        _check_int("in_channels", self.in_channels, 1, MAX_CHANNELS)
        _check_normalization(self.normalization)
        _check_choice("modality", self.modality, MODALITIES)
        _check_choice("input_mode", self.input_mode, INPUT_MODES)
        if (self.pixel_size is None) != (self.pixel_unit is None):
            raise ManifestError("model.json: pixel_size and pixel_unit must both be set or null")
        if self.pixel_size is not None:
            _check_positive_float("pixel_size", self.pixel_size)
            _check_choice("pixel_unit", self.pixel_unit, PIXEL_UNITS)
        if not isinstance(self.provenance, dict):
            raise ManifestError("model.json: provenance must be an object")
        if self.pattern_kind is not None:
            _check_choice("pattern_kind", self.pattern_kind, PATTERN_KINDS)
        if self.calibration is not None:
            _check_calibration(self.calibration, self.num_classes)
        if self.image_pooling is not None:
            _check_image_pooling(self.image_pooling, self.input_mode)
        if self.evidence is not None:
            _check_evidence(self.evidence, self.num_classes, self.input_mode)
        for key in ("name", "description"):
            value = getattr(self, key)
            if not isinstance(value, str) or len(value) > MAX_TEXT:
                raise ManifestError(f"model.json: {key} must be text of at most {MAX_TEXT} chars")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        """Stable, human-readable JSON (NaN and infinities refused)."""
        self.validate()
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, allow_nan=False)

    @classmethod
    def from_dict(cls, data: Any) -> ModelManifest:
        if not isinstance(data, dict):
            raise ManifestError("model.json must hold a JSON object")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ManifestError(f"model.json has unknown fields: {', '.join(unknown[:5])}")
        for required in ("format_version", "architecture", "classes"):
            if required not in data:
                raise ManifestError(f"model.json lacks the required field {required!r}")
        return cls(**data)

    @classmethod
    def from_json(cls, text: str | bytes) -> ModelManifest:
        """Parse and validate ``model.json``; any problem raises `ManifestError`."""
        try:
            data = json.loads(text, parse_constant=_refuse_constant)
        except (ValueError, UnicodeDecodeError, RecursionError) as error:
            raise ManifestError(f"model.json is not valid JSON ({error})") from error
        return cls.from_dict(data)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def _check_int(key: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ManifestError(f"model.json: {key} must be an integer in {low}..{high}, got {value!r}")


def _check_positive_float(key: str, value: Any) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value <= 0:
        raise ManifestError(f"model.json: {key} must be a positive number, got {value!r}")


def _check_choice(key: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ManifestError(f"model.json: {key} must be one of {', '.join(choices)}, got {value!r}")


def _check_classes(classes: Any) -> None:
    if not isinstance(classes, list) or not 2 <= len(classes) <= MAX_CLASSES:
        raise ManifestError(f"model.json: classes must be a list of 2..{MAX_CLASSES} names")
    for name in classes:
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_CLASS_NAME:
            raise ManifestError(
                f"model.json: every class must be a non-empty name of at most "
                f"{MAX_CLASS_NAME} characters, got {name!r}"
            )
        if any(ord(ch) < 32 for ch in name):
            raise ManifestError(f"model.json: class name {name!r} contains control characters")
    if len(set(classes)) != len(classes):
        raise ManifestError("model.json: class names must be unique")


def _check_normalization(norm: Any) -> None:
    if not isinstance(norm, dict):
        raise ManifestError("model.json: normalization must be an object")
    expected = set(default_normalization())
    # "transform" came later: bundles written before it mean "none".
    if set(norm) not in (expected, expected - {"transform"}):
        raise ManifestError(
            f"model.json: normalization must have exactly the keys {', '.join(sorted(expected))}"
            " (transform optional)"
        )
    _check_choice("normalization.transform", norm.get("transform", "none"), TRANSFORMS)
    _check_choice("normalization.method", norm["method"], NORMALIZATION_METHODS)
    for key in ("low", "high", "mean"):
        value = norm[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ManifestError(f"model.json: normalization.{key} must be a number")
        if not math.isfinite(value):
            raise ManifestError(f"model.json: normalization.{key} must be finite")
    if not 0 <= norm["low"] < norm["high"] <= 100:
        raise ManifestError("model.json: normalization needs 0 <= low < high <= 100 (percentiles)")
    _check_positive_float("normalization.std", norm["std"])
    if not isinstance(norm["log"], bool):
        raise ManifestError("model.json: normalization.log must be true or false")


_CALIBRATION_NUMBERS = (
    "temperature",
    "unsure_below",
    "target_precision",
    "coverage",
    "accuracy",
    "ece_before",
    "ece_after",
    "nll_before",
    "nll_after",
)
_CALIBRATION_KEYS = {*_CALIBRATION_NUMBERS, "ok_accuracy", "n", "curve", "split", "ood"}
_OOD_KEYS = {
    "method",
    "class_means",
    "components",
    "scales",
    "residual_scale",
    "threshold",
    "quantiles",
}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_matrix(key: str, value: Any, rows: int | None, columns: int | None) -> tuple[int, int]:
    """A list of equally long lists of finite numbers; returns its shape."""
    if not isinstance(value, list) or not value or not all(isinstance(r, list) for r in value):
        raise ManifestError(f"model.json: {key} must be a non-empty list of lists of numbers")
    width = len(value[0])
    if rows is not None and len(value) != rows:
        raise ManifestError(f"model.json: {key} must have {rows} rows, got {len(value)}")
    if (columns is not None and width != columns) or not 0 < width <= MAX_FEATURES:
        raise ManifestError(f"model.json: {key} has rows of the wrong length ({width})")
    for row in value:
        if len(row) != width or not all(_is_number(v) for v in row):
            raise ManifestError(f"model.json: {key} must hold rows of {width} finite numbers")
    return len(value), width


def _check_evidence(evidence: Any, num_classes: int, input_mode: str) -> None:
    """A stack ``{"method", "mean", "scale", "weights", "bias"}`` of consistent shapes over the
    logits and ``F`` features; that ``F`` is what the method measures is checked when the
    bundle loads (`crystalview.inference.evidence.check_evidence`, which needs the method)."""
    keys = {"method", "mean", "scale", "weights", "bias"}
    if not isinstance(evidence, dict) or set(evidence) != keys:
        raise ManifestError(
            "model.json: evidence must be null or an object with exactly the keys "
            + ", ".join(sorted(keys))
        )
    if input_mode != "whole":
        raise ManifestError("model.json: evidence is for whole-image models only")
    _check_choice("evidence.method", evidence["method"], EVIDENCE_METHODS)
    _, inputs = _check_matrix("evidence.mean", [evidence["mean"]], 1, None)
    if inputs <= num_classes:
        raise ManifestError("model.json: evidence.mean must cover the logits and the features")
    _check_matrix("evidence.scale", [evidence["scale"]], 1, inputs)
    if not all(v > 0 for v in evidence["scale"]):
        raise ManifestError("model.json: every evidence.scale must be positive")
    _check_matrix("evidence.bias", [evidence["bias"]], 1, num_classes)
    _check_matrix("evidence.weights", evidence["weights"], num_classes, inputs)


def _check_image_pooling(pooling: Any, input_mode: str) -> None:
    """``{"method": "mean_logits", "zooms": [1.0, z2, ...]}`` with zooms in (0, 1]."""
    if not isinstance(pooling, dict) or set(pooling) != {"method", "zooms"}:
        raise ManifestError(
            "model.json: image_pooling must be null or an object with the keys method, zooms"
        )
    _check_choice("image_pooling.method", pooling["method"], IMAGE_POOLING_METHODS)
    zooms = pooling["zooms"]
    if not isinstance(zooms, list) or not 1 <= len(zooms) <= MAX_ZOOMS:
        raise ManifestError(f"model.json: image_pooling.zooms must be a list of 1-{MAX_ZOOMS}")
    for zoom in zooms:
        if isinstance(zoom, bool) or not isinstance(zoom, (int, float)) or not 0 < zoom <= 1:
            raise ManifestError("model.json: every image_pooling zoom must be in (0, 1]")
    if zooms[0] != 1:
        raise ManifestError("model.json: the first image_pooling zoom must be 1 (native)")
    if input_mode != "tiles":
        raise ManifestError("model.json: image_pooling needs input_mode 'tiles'")


def _check_calibration(calibration: Any, num_classes: int) -> None:
    """Types, ranges and shapes of the ``calibration`` object (see `ModelManifest`)."""
    if not isinstance(calibration, dict) or set(calibration) != _CALIBRATION_KEYS:
        raise ManifestError(
            "model.json: calibration must be an object with exactly the keys "
            + ", ".join(sorted(_CALIBRATION_KEYS))
        )
    for key in _CALIBRATION_NUMBERS:
        if not _is_number(calibration[key]):
            raise ManifestError(f"model.json: calibration.{key} must be a finite number")
    if not 0 < calibration["temperature"] <= 100:
        raise ManifestError("model.json: calibration.temperature must be in (0, 100]")
    if not 0 <= calibration["unsure_below"] <= 1.001:
        raise ManifestError("model.json: calibration.unsure_below must be a probability")
    ok_accuracy = calibration["ok_accuracy"]
    if ok_accuracy is not None and not _is_number(ok_accuracy):
        raise ManifestError("model.json: calibration.ok_accuracy must be a number or null")
    _check_int("calibration.n", calibration["n"], 1, 10**9)
    if not isinstance(calibration["split"], str) or len(calibration["split"]) > MAX_TEXT:
        raise ManifestError("model.json: calibration.split must be text")
    curve = calibration["curve"]
    if curve:
        _check_matrix("calibration.curve", curve, None, 3)
        if len(curve) > MAX_CURVE_POINTS:
            raise ManifestError("model.json: calibration.curve has too many points")
    ood = calibration["ood"]
    if ood is None:
        return
    if not isinstance(ood, dict) or set(ood) != _OOD_KEYS:
        raise ManifestError(
            "model.json: calibration.ood must have exactly the keys " + ", ".join(sorted(_OOD_KEYS))
        )
    _check_choice("calibration.ood.method", ood["method"], ("mahalanobis_unit_pca",))
    _, n_features = _check_matrix(
        "calibration.ood.class_means", ood["class_means"], num_classes, None
    )
    axes, _ = _check_matrix("calibration.ood.components", ood["components"], None, n_features)
    if axes > MAX_OOD_AXES:
        raise ManifestError(f"model.json: calibration.ood has more than {MAX_OOD_AXES} axes")
    scales = ood["scales"]
    if not isinstance(scales, list) or len(scales) != axes:
        raise ManifestError("model.json: calibration.ood.scales must have one value per axis")
    for key, values in (("scales", scales), ("residual_scale", [ood["residual_scale"]])):
        if not all(_is_number(v) and v > 0 for v in values):
            raise ManifestError(f"model.json: calibration.ood.{key} must be positive numbers")
    if not _is_number(ood["threshold"]) or ood["threshold"] <= 0:
        raise ManifestError("model.json: calibration.ood.threshold must be a positive number")
    quantiles = ood["quantiles"]
    if not isinstance(quantiles, dict) or len(quantiles) > 20:
        raise ManifestError("model.json: calibration.ood.quantiles must be a small object")
    if not all(isinstance(k, str) and _is_number(v) for k, v in quantiles.items()):
        raise ManifestError("model.json: calibration.ood.quantiles must map text to numbers")
