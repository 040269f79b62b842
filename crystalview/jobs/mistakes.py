"""Heat maps of a trained model's mistakes, for the wizard's evaluation page (no Qt here).

Each misclassified validation image is explained for the class the model wrongly chose, and
drawn small with its heat map (the one blend, `crystalview.cam.colormaps.blend_heatmap`), so the
scientist sees *why* it went wrong. torch is imported when the job runs, not with this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from crystalview.core.progress import CancelToken, Progress, run_to_completion

HEATMAP_THUMB = 192
"""Longest side of a mistake's picture, in pixels."""
HEATMAP_OPACITY = 0.45


@dataclass
class MistakeView:
    """One misclassified validation image, ready to show: RGB thumbnail with its heat map."""

    path: Path
    true_name: str
    predicted_name: str
    confidence: float
    status: str  # "ok" or "unsure": an unsure mistake is shown as such
    rgb: np.ndarray | None  # (h, w, 3) uint8, or None when the image could not be explained
    error: str = ""


def explain_mistakes(loaded, mistakes, class_names, cancel: CancelToken, statuses=None):
    """Heat maps of the wrongly predicted class for each mistake (a progress generator).

    ``mistakes`` are `ValPrediction`s with a path; ``statuses`` maps a mistake's ``index`` to
    its status (``ok`` / ``unsure``), ``ok`` when absent. Each finished image is the ``partial``
    of one `Progress` so the gallery fills as they come.
    """
    from crystalview.cam import compute_cam
    from crystalview.cam.colormaps import blend_heatmap
    from crystalview.core.errors import Cancelled, CrystalViewError
    from crystalview.inference.predict import InferenceSettings
    from crystalview.io import open_image
    from crystalview.io.display import auto_levels, to_display

    # full precision: a few small images, and exact maps matter more than speed here
    settings = InferenceSettings(probability_map=False, fast=False)
    views = []
    for index, mistake in enumerate(mistakes):
        cancel.raise_if_cancelled()
        view = MistakeView(
            mistake.path,
            class_names[mistake.true],
            class_names[mistake.predicted],
            float(mistake.probabilities[mistake.predicted]),
            (statuses or {}).get(mistake.index, "ok"),
            None,
        )
        try:
            micrograph = open_image(mistake.path)
            job = compute_cam(
                loaded, micrograph, target=mistake.predicted, settings=settings, cancel=cancel
            )
            heatmap = run_to_completion(job).heatmap
            image = np.asarray(micrograph.image, dtype=np.float32)
            step = max(1, int(np.ceil(max(image.shape) / HEATMAP_THUMB)))
            small = image[::step, ::step]
            shown = to_display(
                small, auto_levels(small, micrograph.is_diffraction), micrograph.is_diffraction
            )
            view.rgb = blend_heatmap(shown, heatmap[::step, ::step], opacity=HEATMAP_OPACITY)
        except Cancelled:
            raise
        except (CrystalViewError, OSError, ValueError, RuntimeError) as error:
            view.error = str(error) or type(error).__name__
        views.append(view)
        yield Progress(index + 1, len(mistakes), f"Heat map of {mistake.path.name}", view)
    return views
