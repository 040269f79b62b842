"""A scale set by hand (Measure ▸ Set Scale, ``crystalview measure set-scale``) reaches
classification from files exactly as a calibration in the file would."""

from __future__ import annotations

import tifffile

from crystalview.core.progress import run_to_completion
from crystalview.inference.predict import InferenceSettings, predict_paths
from crystalview.measure.calibration import ScaleStore


def _tile_sizes(loaded, path) -> set[int]:
    settings = InferenceSettings(batch_size=8, device="cpu", fast=False)
    results = run_to_completion(predict_paths(loaded, [path], settings))
    (result,) = results
    assert result.error is None, result.error
    boxes = result.prediction.tile_boxes
    return {int(s) for s in (boxes[:, 2:] - boxes[:, :2]).ravel()}


def test_classification_from_files_uses_the_hand_set_scale(tmp_path, calibrated_loaded, textured):
    # model trained at 2 nm/px; at 1 nm/px its 32-px tile covers 64 image pixels
    path = tmp_path / "uncalibrated.tif"
    tifffile.imwrite(path, textured((128, 128)))
    without = _tile_sizes(calibrated_loaded, path)
    ScaleStore().set(path, 0, 1.0, "nm")
    try:
        assert _tile_sizes(calibrated_loaded, path) == {64}
    finally:
        ScaleStore().remove(path, 0)
    assert without != {64}
