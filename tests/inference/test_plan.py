"""The one input plan: settings are validated, and prediction, heat maps and the overlay agree."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from crystalview.cam.inputs import prepare_model_input
from crystalview.core.errors import CrystalViewError
from crystalview.core.micrograph import Micrograph
from crystalview.core.progress import run_to_completion
from crystalview.inference.plan import plan_input
from crystalview.inference.predict import predict_micrograph
from crystalview.inference.settings import InferenceSettings


@pytest.mark.parametrize(
    "changes",
    [{"tile_size": 4}, {"overlap": 1.0}, {"overlap": -0.1}, {"batch_size": 0}, {"device": "tpu"}],
)
def test_settings_reject_what_cannot_run(changes):
    with pytest.raises(CrystalViewError):
        InferenceSettings(**changes)


def test_settings_and_plan_do_not_import_torch():
    code = (
        "import sys; import crystalview.inference.plan, crystalview.inference.settings;"
        "import crystalview.inference; assert 'torch' not in sys.modules, 'torch imported'"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_prediction_and_heat_map_use_the_plan_on_a_calibrated_image(calibrated_loaded, textured):
    # 1.3 nm image pixels, 2 nm model pixels: the image is resampled before it is tiled
    micrograph = Micrograph(textured((150, 190)), pixel_size=1.3, pixel_unit="nm")
    settings = InferenceSettings(tile_size=40, overlap=0.3, batch_size=8, device="cpu", fast=False)
    plan = plan_input(calibrated_loaded.manifest, micrograph.shape, 1.3, "nm", settings)
    assert not plan.whole and plan.prepared_shape != micrograph.shape
    prediction = run_to_completion(predict_micrograph(calibrated_loaded, micrograph, settings))
    np.testing.assert_array_equal(prediction.tile_boxes, plan.boxes)
    model_input = prepare_model_input(calibrated_loaded, micrograph, 40, 0.3)
    np.testing.assert_array_equal(model_input.grid.boxes, plan.grid.boxes)
    assert model_input.prepared_shape == plan.prepared_shape


def test_a_whole_image_plan_is_one_box(calibrated_loaded):
    plan = plan_input(calibrated_loaded.manifest, (20, 30), None, None, InferenceSettings())
    assert plan.whole and plan.n_tiles == 1 and plan.boxes.tolist() == [[0, 0, 20, 30]]
