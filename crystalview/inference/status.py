"""The status of an answer: ``ok``, ``unsure`` or ``not-this-kind``, and why.

- ``not-this-kind``: the image is not what the model reads. Decided first, from the cheap look
  of `crystalview.inference.image_kind` (blank frames for every model; for a diffraction model
  also noise, real-space images, spot patterns for a ring model and ring patterns for a spot
  model), the file's own modality (an SEM/TEM/STEM image given to a diffraction model, a
  diffraction pattern given to a real-space model), and the model's out-of-distribution score
  when its manifest has one;
- ``unsure``: the calibrated top probability is below the model's threshold, or the answer
  cannot be confirmed from the image (`kind_doubt`: a spot-pattern model given a pattern the
  look could not place in which no spot net is found);
- ``ok`` otherwise.

A model without calibration (bundles made before calibration existed, or fine-tuned without a
calibration split) keeps its raw probabilities, has no OOD score, and is ``unsure`` below
`UNCALIBRATED_UNSURE_BELOW`; the image look and the file's modality still apply.
"""

from __future__ import annotations

from dataclasses import dataclass

from crystalview.inference.calibration import UNCALIBRATED_UNSURE_BELOW, Calibration
from crystalview.inference.image_kind import ImageKind
from crystalview.models.manifest import ModelManifest

OK = "ok"
UNSURE = "unsure"
NOT_THIS_KIND = "not-this-kind"
STATUSES = (OK, UNSURE, NOT_THIS_KIND)
REAL_SPACE_MODALITIES = ("TEM", "STEM", "SEM")


@dataclass(frozen=True)
class Status:
    """A status and the sentence that explains it to the user."""

    status: str
    reason: str


def model_calibration(manifest: ModelManifest) -> Calibration | None:
    """The manifest's calibration, or None for an uncalibrated model."""
    if manifest.calibration is None:
        return None
    return Calibration.from_dict(manifest.calibration)


def reads_diffraction(manifest: ModelManifest) -> bool:
    """Whether the model reads diffraction patterns (rather than real-space images)."""
    return manifest.modality == "SAED" or manifest.expected_pattern_kind is not None


def unsure_threshold(manifest: ModelManifest) -> float:
    calibration = model_calibration(manifest)
    return UNCALIBRATED_UNSURE_BELOW if calibration is None else calibration.unsure_below


def kind_mismatch(
    manifest: ModelManifest, look: ImageKind | None, file_modality: str | None = None
) -> str | None:
    """Why the image is not the kind ``manifest``'s model reads, or None when it may be."""
    diffraction_model = reads_diffraction(manifest)
    if look is not None and look.kind == "blank":
        return look.reason
    # Noise is judged for diffraction models only: a real-space model's own images (a dark
    # SEM frame, a low-dose STEM scan) can be mostly pixel noise and still be its images.
    if look is not None and look.kind == "noise" and diffraction_model:
        return look.reason
    if diffraction_model and file_modality in REAL_SPACE_MODALITIES:
        return f"the file says it is a {file_modality} image; this model reads diffraction patterns"
    if manifest.modality in REAL_SPACE_MODALITIES and file_modality == "SAED":
        return (
            "the file says it is a diffraction pattern; "
            f"this model reads {manifest.modality} images"
        )
    if not diffraction_model or look is None or look.kind == "tiny":
        return None
    if not look.is_diffraction and file_modality == "SAED":
        return (
            "the file says it is a diffraction pattern, but the image-kind detector finds no "
            f"rings or spots in it ({look.p_other:.0%} not a pattern)"
        )
    if not look.is_diffraction:
        return look.reason + "; this model reads diffraction patterns"
    wanted = manifest.expected_pattern_kind
    # The look's own reason says how it knows (the network's probability, or the spot net).
    if wanted == "rings" and look.kind == "spots":
        return f"{look.reason}; this model reads ring patterns of polycrystalline films"
    if wanted == "spots" and look.kind == "rings":
        return f"{look.reason}; this model reads single-crystal spot patterns"
    return None


def kind_doubt(manifest: ModelManifest, look: ImageKind | None) -> str | None:
    """Why an answer of a model that may read the image still cannot be ``ok``, or None.

    A zone-lattice answer is a statement about a net of spots. When the look could not tell a
    ring pattern from a spot pattern and no 2-D net indexes the spots either, nothing in the
    image confirms that it is a single crystal's pattern at all: on the independent simulator's
    development draws (seeds 778 and 779) such patterns were 30 of the 42 ring patterns the
    zone model answered `ok`, against 7 of its 654 `ok` spot patterns (4 of those right).
    """
    if manifest.expected_pattern_kind != "spots" or look is None or look.kind != "diffraction":
        return None
    if look.net is None or look.net.n_indexed > 0:
        return None
    return (
        "the image look could not tell rings from spots and no 2-D net indexes the spots, so "
        "nothing confirms a single crystal's spot pattern"
    )


def decide_status(
    manifest: ModelManifest,
    confidence: float,
    look: ImageKind | None = None,
    ood_score: float | None = None,
    file_modality: str | None = None,
) -> Status:
    """The status of an answer with top probability ``confidence`` (calibrated if possible).

    ``ood_score`` is the out-of-distribution score divided by the model's threshold (above 1:
    further from the training data than the calibration split allows).
    """
    mismatch = kind_mismatch(manifest, look, file_modality)
    if mismatch is not None:
        return Status(NOT_THIS_KIND, mismatch)
    if ood_score is not None and ood_score > 1.0:
        return Status(
            NOT_THIS_KIND,
            f"unlike the model's training images (out-of-distribution score {ood_score:.1f} x "
            "its threshold)",
        )
    doubt = kind_doubt(manifest, look)
    if doubt is not None:
        return Status(UNSURE, doubt)
    calibrated = manifest.calibration is not None
    threshold = unsure_threshold(manifest)
    if calibrated and threshold > 1.0:
        target = manifest.calibration["target_precision"]
        return Status(
            UNSURE,
            f"no confidence of this model was right {target:.0%} of the time on its calibration "
            "split, so every answer is unsure",
        )
    if confidence < threshold:
        how = "calibrated threshold" if calibrated else "default threshold; model not calibrated"
        return Status(UNSURE, f"top probability {confidence:.2f} is below {threshold:.2f} ({how})")
    if not calibrated:
        return Status(OK, "model not calibrated: probabilities are the network's own")
    return Status(OK, f"top probability {confidence:.2f} >= calibrated threshold {threshold:.2f}")
