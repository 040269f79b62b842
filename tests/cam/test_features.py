"""Feature maps, first-layer kernels and the kernel playground."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from crystalview.cam import KERNEL_PRESETS, apply_kernel, feature_maps, first_layer_kernels, pool2x2
from crystalview.core.micrograph import Micrograph
from crystalview.models.registry import build_model


def test_first_layer_kernels_of_a_resnet():
    torch.manual_seed(0)
    model = build_model("resnet18", 2)
    kernels = first_layer_kernels(model)
    assert kernels.shape == (64, 7, 7) and kernels.dtype == np.float32
    np.testing.assert_array_equal(kernels, model.conv1.weight.detach()[:, 0].numpy())


def test_first_layer_kernels_sum_over_input_channels():
    model = build_model("diffraction_cnn", 2, in_channels=3)
    kernels = first_layer_kernels(model)
    expected = model.block1[0].weight.detach().sum(dim=1).numpy()
    np.testing.assert_allclose(kernels, expected)


def test_feature_maps_of_a_layer(blob_loaded, make_blob_image):
    loaded = blob_loaded(input_size=64)
    image = make_blob_image((96, 128), (10, 80, 40, 120))
    maps = feature_maps(loaded, Micrograph(image), "conv1")
    assert maps.shape == (4, 96, 128) and maps.dtype == np.float32
    bright = maps[0]  # the bright-pixel detector, before its ReLU
    assert bright[20:30, 90:110].min() > 0 > bright[60:90, 10:60].max()
    deeper = feature_maps(loaded, image, "block")
    assert deeper.shape == (8, 48, 64)


def test_feature_maps_of_a_tile_and_of_a_whole_image_model(blob_loaded, make_blob_image):
    image = make_blob_image((300, 300), (10, 10, 40, 40))
    tile = feature_maps(blob_loaded(), image, "conv1", box=(0, 0, 64, 64))
    assert tile.shape == (4, 64, 64)
    assert tile[0, 20:30, 20:30].min() > 0 > tile[0, 50:60, 50:60].max()  # the blob, in place
    # At 2 nm/px for a 1 nm/px model, a 64-pixel box of the image is 128 model pixels.
    calibrated = Micrograph(image, pixel_size=2.0, pixel_unit="nm")
    resampled = feature_maps(blob_loaded(pixel_size=1.0), calibrated, "conv1", box=(0, 0, 64, 64))
    assert resampled.shape == (4, 128, 128)
    assert resampled[0, 40:60, 40:60].min() > 0 > resampled[0, 100:120, 100:120].max()
    whole = feature_maps(blob_loaded(input_size=32, input_mode="whole"), image, "block")
    assert whole.shape == (8, 16, 16)
    with pytest.raises(ValueError, match="conv1, block"):
        feature_maps(blob_loaded(), image, "layer9")


def test_apply_kernel_is_a_cross_correlation():
    rng = np.random.default_rng(0)
    image = rng.random((40, 50)).astype(np.float32)
    np.testing.assert_allclose(apply_kernel(image, KERNEL_PRESETS["identity"]), image)
    assert np.abs(apply_kernel(np.ones((20, 20)), KERNEL_PRESETS["laplacian"])).max() < 1e-6
    # An asymmetric kernel picks the right neighbour (no flip, unlike a true convolution).
    right = np.zeros((3, 3), np.float32)
    right[1, 2] = 1.0
    shifted = apply_kernel(image, right)
    np.testing.assert_allclose(shifted[:, :-1], image[:, 1:])
    step = np.zeros((30, 30), np.float32)
    step[15:] = 1.0
    response = apply_kernel(step, KERNEL_PRESETS["edge (horizontal)"])
    assert set(np.argwhere(response == response.max())[:, 0]) <= {14, 15}
    assert response.dtype == np.float32


def test_apply_kernel_rejects_non_2d_kernels():
    with pytest.raises(ValueError, match="2-D"):
        apply_kernel(np.zeros((5, 5)), np.zeros(9))


def test_pool2x2():
    fmap = np.arange(20, dtype=np.float32).reshape(4, 5)
    np.testing.assert_array_equal(pool2x2(fmap, "max"), [[6, 8], [16, 18]])
    np.testing.assert_array_equal(pool2x2(fmap, "avg"), [[3, 5], [13, 15]])
    torch_max = torch.nn.functional.max_pool2d(torch.from_numpy(fmap)[None, None], 2)
    np.testing.assert_array_equal(pool2x2(fmap), torch_max[0, 0].numpy())
    with pytest.raises(ValueError, match="max"):
        pool2x2(fmap, "median")
