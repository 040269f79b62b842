"""`compute_cam` end to end: localisation, alignment, whole-image normalisation, sanity, cancel."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from crystalview.cam import compute_cam
from crystalview.cam.blend import blend_tile_maps
from crystalview.cam.inputs import prepare_model_input
from crystalview.core.errors import Cancelled
from crystalview.core.micrograph import Micrograph
from crystalview.core.progress import CancelToken, run_to_completion
from crystalview.core.tiling import tile_grid
from crystalview.inference.predict import InferenceSettings, predict_micrograph
from crystalview.models.registry import build_model

EXACT = InferenceSettings(fast=False, batch_size=16)


def _mass_inside(heatmap: np.ndarray, box: tuple[int, int, int, int], margin: int) -> float:
    y0, x0, y1, x1 = box
    inside = heatmap[max(0, y0 - margin) : y1 + margin, max(0, x0 - margin) : x1 + margin]
    return float(inside.sum() / heatmap.sum())


def _peak(heatmap: np.ndarray) -> tuple[int, int]:
    return tuple(int(v) for v in np.unravel_index(np.argmax(heatmap), heatmap.shape))


def _centroid(heatmap: np.ndarray) -> np.ndarray:
    ys, xs = np.indices(heatmap.shape)
    total = heatmap.sum()
    return np.array([(ys * heatmap).sum() / total, (xs * heatmap).sum() / total])


def _assert_localised(result, box, margin):
    y0, x0, y1, x1 = box
    peak = _peak(result.heatmap)
    assert y0 - margin <= peak[0] < y1 + margin and x0 - margin <= peak[1] < x1 + margin, peak
    assert _mass_inside(result.heatmap, box, margin) > 0.8
    centre = np.array([(y0 + y1) / 2, (x0 + x1) / 2])
    assert np.abs(_centroid(result.heatmap) - centre).max() < margin


@pytest.mark.parametrize("method", ["cam", "gradcam", "gradcam++", "occlusion"])
def test_whole_image_map_localises_the_evidence(blob_loaded, make_blob_image, method):
    box = (40, 250, 90, 330)  # off-centre, in a non-square image
    image = make_blob_image((200, 400), box)
    loaded = blob_loaded(input_size=128, input_mode="whole")
    result = run_to_completion(compute_cam(loaded, image, method, settings=EXACT))
    assert result.heatmap.shape == image.shape and result.heatmap.dtype == np.float32
    assert result.class_name == "blob" and result.n_tiles == 1
    assert result.heatmap.min() >= 0 and result.heatmap.max() == pytest.approx(1.0)
    _assert_localised(result, box, margin=12)


@pytest.mark.parametrize("method", ["cam", "gradcam"])
def test_tiled_map_localises_the_evidence_on_a_resampled_image(
    blob_loaded, make_blob_image, method
):
    # The image is at 2 nm/px and the model at 1 nm/px: tiling runs on a 2x upsampled copy and
    # the map must come back to the original pixels, in the right place.
    box = (120, 520, 190, 590)
    image = make_blob_image((330, 700), box, seed=3)
    micrograph = Micrograph(image, pixel_size=2.0, pixel_unit="nm")
    loaded = blob_loaded(input_size=64, pixel_size=1.0)
    # Most tiles are empty, so the image-level prediction is "empty": ask for "blob".
    result = run_to_completion(compute_cam(loaded, micrograph, method, "blob", settings=EXACT))
    assert result.heatmap.shape == image.shape
    assert result.n_tiles > 100
    _assert_localised(result, box, margin=10)


def test_tiled_map_is_normalised_over_the_whole_image(blob_loaded, make_blob_image):
    # A tile far from the blob holds only weak, noise-level evidence. Normalising per tile would
    # stretch it to 1; over the whole image it must stay far below the blob's peak.
    box = (20, 20, 80, 80)
    image = make_blob_image((256, 640), box, seed=5)
    image[200:210, 500:510] = 2600  # a faint spot: weak evidence, alone in its tiles
    loaded = blob_loaded(input_size=64)
    result = run_to_completion(compute_cam(loaded, image, "cam", settings=EXACT))
    far = result.heatmap[150:, 400:]
    assert 0.01 < far.max() < 0.4


def test_maps_from_exact_cam_and_grad_cam_agree_end_to_end(blob_loaded, make_blob_image):
    image = make_blob_image((150, 300), (30, 200, 70, 260), seed=2)
    loaded = blob_loaded(input_size=64)
    cam = run_to_completion(compute_cam(loaded, image, "cam", settings=EXACT))
    grad = run_to_completion(compute_cam(loaded, image, "gradcam", "blob", "block", EXACT))
    assert (cam.layer, grad.layer) == ("block", "block")
    np.testing.assert_allclose(cam.heatmap, grad.heatmap, atol=1e-4)


def test_tile_maps_blend_back_into_place():
    # Each tile's map is the global map cut at the tile: blending must reproduce the global map.
    grid = tile_grid((100, 170), 32, 0.25)
    ys, xs = np.mgrid[0:100, 0:170]
    truth = (np.sin(ys / 7.0) + xs / 50.0).astype(np.float32)
    padded = np.pad(truth, ((0, 32), (0, 32)))
    tiles = np.stack([padded[y0 : y0 + 32, x0 : x0 + 32] for y0, x0, _, _ in grid.boxes])
    np.testing.assert_allclose(blend_tile_maps(tiles, grid), truth, rtol=1e-5, atol=1e-5)


def test_predicted_class_and_tiles_match_inference(blob_loaded, make_blob_image):
    image = make_blob_image((200, 300), (50, 50, 120, 120), seed=4)
    micrograph = Micrograph(image, pixel_size=1.5, pixel_unit="nm")
    loaded = blob_loaded(input_size=64, pixel_size=1.0)
    settings = InferenceSettings(fast=False, batch_size=8, tile_size=48, overlap=0.3)
    prediction = run_to_completion(predict_micrograph(loaded, micrograph, settings))
    result = run_to_completion(compute_cam(loaded, micrograph, "gradcam", settings=settings))
    assert result.n_tiles == prediction.n_tiles > 1
    assert result.class_name == prediction.label
    expected = [prediction.probabilities[name] for name in prediction.class_names]
    np.testing.assert_allclose(result.probabilities, expected, atol=1e-5)


def test_auto_uses_grad_cam_without_a_gap_linear_head(loaded_for):
    torch.manual_seed(0)
    loaded = loaded_for(build_model("diffraction_cnn", 3), ["a", "b", "c"], input_size=64)
    image = np.random.default_rng(0).random((64, 64)).astype(np.float32)
    result = run_to_completion(compute_cam(loaded, image, settings=EXACT))
    assert (result.method, result.layer) == ("gradcam", "block3")
    assert result.heatmap.shape == (64, 64)
    with pytest.raises(ValueError, match="Grad-CAM"):
        run_to_completion(compute_cam(loaded, image, "cam", settings=EXACT))


def test_target_by_name_index_and_errors(blob_loaded, make_blob_image):
    image = make_blob_image((64, 64), (10, 10, 30, 30))
    loaded = blob_loaded()
    by_name = run_to_completion(compute_cam(loaded, image, target="Empty", settings=EXACT))
    by_index = run_to_completion(compute_cam(loaded, image, target=0, settings=EXACT))
    assert by_name.target_class == by_index.target_class == 0
    np.testing.assert_array_equal(by_name.heatmap, by_index.heatmap)
    with pytest.raises(ValueError, match="empty, blob"):
        run_to_completion(compute_cam(loaded, image, target="grain", settings=EXACT))
    with pytest.raises(ValueError, match="method"):
        run_to_completion(compute_cam(loaded, image, "lime", settings=EXACT))


def test_randomised_weights_change_the_map(blob_loaded, make_blob_image):
    # Adebayo et al. (2018): a map that survives randomising the model explains the image, not
    # the model. Randomise every layer and the map must decorrelate from the trained one.
    box = (30, 150, 80, 220)
    image = make_blob_image((160, 320), box, seed=6)
    loaded = blob_loaded(input_size=64)
    trained = run_to_completion(compute_cam(loaded, image, "gradcam", "blob", settings=EXACT))
    randomised = copy.deepcopy(loaded)
    generator = torch.Generator().manual_seed(123)
    with torch.no_grad():
        for parameter in randomised.model.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.3)
    scrambled = run_to_completion(compute_cam(randomised, image, "gradcam", "blob", settings=EXACT))
    correlation = np.corrcoef(trained.heatmap.ravel(), scrambled.heatmap.ravel())[0, 1]
    assert correlation < 0.5


def test_cancel_stops_between_batches(blob_loaded, make_blob_image):
    image = make_blob_image((256, 256), (10, 10, 40, 40))
    cancel = CancelToken()
    job = compute_cam(blob_loaded(input_size=32), image, "cam", settings=EXACT, cancel=cancel)
    first = next(job)
    assert first.done == 1 and first.total > 1
    cancel.cancel()
    with pytest.raises(Cancelled):
        next(job)


def test_cancel_interrupts_occlusion_inside_a_tile(blob_loaded, make_blob_image):
    cancel = CancelToken()
    cancel.cancel()
    job = compute_cam(
        blob_loaded(input_size=64, input_mode="whole"),
        make_blob_image((64, 64), (10, 10, 30, 30)),
        "occlusion",
        settings=EXACT,
        cancel=cancel,
    )
    with pytest.raises(Cancelled):
        next(job)


def test_default_settings_use_the_fast_path_and_still_localise(blob_loaded, make_blob_image):
    box = (20, 150, 60, 200)  # off-centre in both axes: a flip or transpose moves it away
    image = make_blob_image((180, 260), box, seed=8)
    loaded = blob_loaded(input_size=64)
    result = run_to_completion(compute_cam(loaded, image))
    _assert_localised(result, box, margin=10)
    assert all(p.grad is None for p in loaded.model.parameters())


def test_stack_frames_and_model_inputs(blob_loaded, make_blob_image):
    frames = np.stack(
        [make_blob_image((96, 96), (5, 5, 30, 30)), make_blob_image((96, 96), (60, 60, 90, 90))]
    )
    loaded = blob_loaded(input_size=48)
    second = run_to_completion(
        compute_cam(loaded, Micrograph(frames), "cam", settings=EXACT, frame=1)
    )
    assert _peak(second.heatmap)[0] > 50
    model_input = prepare_model_input(loaded, frames[1], 48, 0.25)
    assert model_input.batch(slice(0, 2)).shape == (2, 48, 48)
