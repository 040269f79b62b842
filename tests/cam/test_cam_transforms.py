"""Heat maps of models that read a transform of the pattern land on the right image pixels.

`BlobNet` (conftest) lights up wherever its input is bright. On a log-polar input the bright
cells are the spots' (angle, log-radius) cells, so an honest map must put the heat back on the
spots in the image, not where a plain resize of the log-polar grid would. An autocorrelation
input has no pixel-wise inverse, so the map comes from occluding the image itself.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from crystalview.cam.compute import compute_cam
from crystalview.core.progress import run_to_completion
from crystalview.inference.predict import InferenceSettings
from crystalview.models.bundle import LoadedModel
from crystalview.models.manifest import ModelManifest, default_normalization

CENTRE = (46.0, 50.0)
# A Friedel pair 22 px above and below the beam (90° and 270°: away from the 0° seam of the
# log-polar grid, where the network's zero padding weakens any feature), and the same distance
# 90° away, where there is nothing.
SPOTS = [(24.0, 50.0), (68.0, 50.0)]
EMPTY = [(46.0, 72.0), (46.0, 28.0)]


def pattern() -> np.ndarray:
    yy, xx = np.mgrid[0:96, 0:96].astype(float)
    image = np.full((96, 96), 10.0)
    for (cy, cx), height in [(CENTRE, 4000.0)] + [(spot, 3000.0) for spot in SPOTS]:
        image += height * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 6.0)
    return np.random.default_rng(0).poisson(image).astype(np.uint16)


def loaded_with(blob_net, transform: str) -> LoadedModel:
    manifest = ModelManifest(
        architecture="diffraction_cnn",
        classes=["empty", "blob"],
        input_size=64,
        normalization=default_normalization(log=True, transform=transform),
        modality="SAED",
        input_mode="whole",
    )
    return LoadedModel(model=blob_net, manifest=manifest, path=Path("test.cvmodel"))


def heat_at(heatmap: np.ndarray, points) -> float:
    return float(
        np.mean(
            [heatmap[int(y) - 2 : int(y) + 3, int(x) - 2 : int(x) + 3].mean() for y, x in points]
        )
    )


@pytest.fixture
def blob_net():
    from tests.cam.conftest import BlobNet

    return BlobNet()


def test_log_polar_cam_is_drawn_back_through_the_inverse_transform(blob_net):
    loaded = loaded_with(blob_net, "log_polar")
    settings = InferenceSettings(device="cpu", fast=False)
    result = run_to_completion(compute_cam(loaded, pattern(), "cam", "blob", settings=settings))
    heatmap = result.heatmap
    assert heatmap.shape == (96, 96) and result.method == "cam"
    assert heat_at(heatmap, SPOTS) > 0.15  # the beam, brighter still, takes the peak
    assert heat_at(heatmap, SPOTS) > 4 * heat_at(heatmap, EMPTY)
    # Corners lie beyond the largest radius the model reads: no evidence can come from there.
    assert heatmap[:4, :4].max() == 0 and heatmap[-4:, -4:].max() == 0


def test_autocorrelation_cam_falls_back_to_occlusion_of_the_image(blob_net):
    loaded = loaded_with(blob_net, "autocorrelation")
    settings = InferenceSettings(device="cpu", fast=False, batch_size=16)
    result = run_to_completion(compute_cam(loaded, pattern(), "gradcam", "blob", settings=settings))
    assert result.method == "occlusion" and result.layer is None
    assert result.heatmap.shape == (96, 96)
    assert heat_at(result.heatmap, SPOTS) > 2 * heat_at(result.heatmap, EMPTY)


def test_profile_cam_is_drawn_about_the_profile_s_own_centre(blob_net):
    """An off-centre ring pattern whose plain symmetry centre lies 69 px off (our simulator's
    held-out seed 35): a heat map of one log-radius column comes back as a ring about the
    true centre, the one the profile was taken about."""
    from crystalview.cam.inputs import prepare_model_input
    from crystalview.sim.generators import simulate_ring_sample

    sample = simulate_ring_sample("cubic", 128, np.random.default_rng(35), "heldout")
    offset = sample.params["center_offset"]
    truth = np.array([63.5 + offset[0], 63.5 + offset[1]])
    model_input = prepare_model_input(loaded_with(blob_net, "log_polar_mean"), sample.image)
    column = np.zeros((64, 64))
    column[:, 40] = 1.0
    ring = model_input.to_image(column)
    yy, xx = np.indices(ring.shape)
    centroid = np.array([(yy * ring).sum(), (xx * ring).sum()]) / ring.sum()
    assert np.hypot(*(centroid - truth)) < 1.5


@pytest.mark.parametrize("transform", ["log_polar", "log_polar_mean"])
def test_polar_heat_map_input_is_the_prediction_s_and_finds_its_centre_once(
    blob_net, monkeypatch, transform
):
    """The heat map explains the input `prepare_whole` gives inference, and the view and its
    inverse share one centre search (the ring centre costs about 60 ms a pattern)."""
    from crystalview.cam import inputs
    from crystalview.inference import preprocess

    loaded = loaded_with(blob_net, transform)
    image = pattern()
    expected = preprocess.prepare_whole(image, loaded.manifest)
    searches = []

    def counted(function):
        def search(*args, **kwargs):
            searches.append(function.__name__)
            return function(*args, **kwargs)

        return search

    for module in (preprocess, inputs):  # wherever a centre search is called from
        for name in ("find_ring_centre", "find_beam_centre"):
            if hasattr(module, name):
                monkeypatch.setattr(module, name, counted(getattr(module, name)))
    model_input = inputs.prepare_model_input(loaded, image)
    np.testing.assert_array_equal(model_input.prepared, expected)
    assert len(searches) == 1
    assert model_input.to_image(np.ones((64, 64))).shape == image.shape
