"""Tiled prediction: batched equals one-by-one, maps and boxes are right, cancel is prompt."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from crystalview.core.errors import Cancelled
from crystalview.core.micrograph import Micrograph
from crystalview.core.progress import CancelToken, run_to_completion
from crystalview.core.tiling import extract_tiles, tile_grid
from crystalview.inference.predict import (
    InferenceSettings,
    TileBatch,
    make_runner,
    predict_image,
    predict_micrograph,
)
from crystalview.inference.preprocess import prepare_image, prepare_whole
from crystalview.models.bundle import load_bundle

CLASSES = ["amorphous", "crystalline", "mixed"]

EXACT = InferenceSettings(batch_size=8, device="cpu", fast=False)


def test_batched_tiles_agree_with_one_by_one(tiny_loaded, textured):
    image = textured((90, 130))
    events = []
    result = run_to_completion(predict_image(tiny_loaded, image, EXACT), events.append)
    prepared = prepare_image(image, tiny_loaded.manifest)
    grid = tile_grid(prepared.shape, 32, 0.25)
    assert result.n_tiles == grid.n_tiles == len(result.tile_boxes)
    model = tiny_loaded.model.float().eval()
    with torch.no_grad():
        for index, tile in enumerate(extract_tiles(prepared, grid)):
            logits = model(torch.from_numpy(np.ascontiguousarray(tile))[None, None])
            expected = torch.softmax(logits, 1)[0].numpy()
            np.testing.assert_allclose(result.tile_probabilities[index], expected, atol=1e-5)
    np.testing.assert_allclose(
        list(result.probabilities.values()), result.tile_probabilities.mean(0), rtol=1e-6
    )
    assert result.label == CLASSES[int(np.argmax(result.tile_probabilities.mean(0)))]
    assert result.confidence == pytest.approx(max(result.probabilities.values()))
    # one progress event per batch, each carrying its tiles
    batches = [e.partial for e in events if isinstance(e.partial, TileBatch)]
    assert len(batches) == -(-grid.n_tiles // 8)
    assert sum(len(b.probabilities) for b in batches) == grid.n_tiles


def test_probability_map_is_stitched_in_image_pixels(tiny_loaded, textured):
    image = textured((70, 100))
    result = run_to_completion(predict_image(tiny_loaded, image, EXACT))
    prob_map = result.probability_map
    assert prob_map.shape == (3, 70, 100)
    np.testing.assert_allclose(prob_map.sum(axis=0), 1.0, atol=1e-4)
    lo = result.tile_probabilities.min(axis=0)[:, None, None] - 1e-5
    hi = result.tile_probabilities.max(axis=0)[:, None, None] + 1e-5
    assert np.all((prob_map >= lo) & (prob_map <= hi))
    assert result.tile_boxes[0, :2].tolist() == [0, 0]
    assert result.tile_boxes[:, 2:].max(axis=0).tolist() == [70, 100]


def test_small_images_are_classified_whole(tiny_loaded, textured):
    image = textured((20, 25))
    result = run_to_completion(predict_image(tiny_loaded, image, EXACT))
    assert result.n_tiles == 1 and result.probability_map is None
    assert result.tile_boxes.tolist() == [[0, 0, 20, 25]]
    whole = torch.from_numpy(prepare_whole(image, tiny_loaded.manifest))[None, None]
    with torch.no_grad():
        expected = torch.softmax(tiny_loaded.model.float()(whole), 1)[0].numpy()
    np.testing.assert_allclose(result.tile_probabilities[0], expected, atol=1e-5)


def test_whole_mode_models_never_tile(tmp_path, textured, bundle_factory):
    loaded = load_bundle(bundle_factory(tmp_path / "w.cvmodel", input_mode="whole"))
    result = run_to_completion(predict_image(loaded, textured((200, 300)), EXACT))
    assert result.n_tiles == 1 and result.tile_boxes.tolist() == [[0, 0, 200, 300]]


def test_calibrated_images_are_resampled_to_the_model_pixel_size(calibrated_loaded, textured):
    # model trained at 2 nm/px, image at 1 nm/px: a 32-px model tile covers 64 image pixels
    micrograph = Micrograph(textured((128, 128)), pixel_size=1.0, pixel_unit="nm")
    result = run_to_completion(predict_micrograph(calibrated_loaded, micrograph, EXACT))
    sizes = result.tile_boxes[:, 2:] - result.tile_boxes[:, :2]
    assert np.all(sizes == 64)
    assert result.probability_map.shape == (3, 128, 128)


def test_tile_size_option_sets_the_field_of_view(tiny_loaded, textured):
    settings = InferenceSettings(tile_size=64, batch_size=8, device="cpu", fast=False)
    result = run_to_completion(predict_image(tiny_loaded, textured((128, 192)), settings))
    sizes = result.tile_boxes[:, 2:] - result.tile_boxes[:, :2]
    assert np.all(sizes == 64)


def test_cancel_stops_within_one_batch(tiny_loaded, monkeypatch, textured):
    cancel = CancelToken()
    runner = make_runner(tiny_loaded, EXACT)
    calls = []
    original = runner._forward
    monkeypatch.setattr(
        runner, "_forward", lambda batch: calls.append(len(batch)) or original(batch)
    )
    job = predict_image(tiny_loaded, textured((200, 200)), EXACT, cancel, runner=runner)
    next(job)
    assert len(calls) == 1
    cancel.cancel()
    with pytest.raises(Cancelled):
        next(job)
    assert len(calls) == 1


def test_fast_path_agrees_with_fp32_on_top1(tmp_path, monkeypatch, textured, bundle_factory):
    # Force bf16 autocast even on CPUs without native bf16, so the reduced-precision path is
    # checked everywhere (it is only *chosen* where it is fast).
    monkeypatch.setattr("crystalview.inference.runner.cpu_has_fast_bf16", lambda: True)
    loaded = load_bundle(bundle_factory(tmp_path / "r.cvmodel", arch="resnet18", input_size=32))
    image = textured((112, 144), seed=3)
    exact = run_to_completion(predict_image(loaded, image, EXACT))
    fast_settings = InferenceSettings(batch_size=8, device="cpu", fast=True)
    runner = make_runner(loaded, fast_settings)
    assert runner.precision == "bf16"
    fast = run_to_completion(predict_image(loaded, image, fast_settings, runner=runner))
    agree = np.mean(exact.tile_probabilities.argmax(1) == fast.tile_probabilities.argmax(1))
    assert agree >= 0.95
    assert np.abs(exact.tile_probabilities - fast.tile_probabilities).max() < 0.05
    assert fast.label == exact.label
