"""The feature-map browser and the kernel playground on the image on screen."""

from __future__ import annotations

import numpy as np
import pytest

from crystalview.core.micrograph import Micrograph
from crystalview.gui.cam.feature_browser import KERNELS, view_box_region
from crystalview.gui.cam.playground import playground_image


@pytest.fixture
def feature(window):
    from crystalview.gui.cam import install

    return getattr(window, "heatmap", None) or install(window)


@pytest.fixture
def shown_image(qtbot, window, make_tiff, tmp_path):
    """One 60 x 80 image with a bright square, open and on screen."""
    data = np.full((60, 80), 100, dtype=np.uint16)
    data[20:40, 30:50] = 3000
    path = make_tiff(tmp_path / "square.tif", data)
    window.open_paths([path], remember=False)
    qtbot.waitUntil(lambda: window.viewer.micrograph is not None, timeout=10_000)
    return window.current


def browse(qtbot, browser, layer):
    browser.layer_box.setCurrentIndex(browser.layer_box.findData(layer))
    with qtbot.waitSignal(
        browser.jobs.busy_changed, timeout=20_000, check_params_cb=lambda busy: not busy
    ):
        browser.compute()
    return browser.result


def test_feature_browser_shows_one_map_per_channel(
    qtbot, window, feature, tiny_bundle, shown_image
):
    from crystalview.cam import feature_maps
    from crystalview.models.catalog import load_model

    feature.dock.set_model_path(tiny_bundle)
    browser = feature.open_feature_browser()
    qtbot.waitUntil(lambda: browser.layer_box.count() == 4, timeout=20_000)  # kernels + 3 blocks

    result = browse(qtbot, browser, "block2")

    expected = feature_maps(load_model(tiny_bundle), shown_image.micrograph, layer="block2")
    assert result.maps.shape == expected.shape
    n_channels = expected.shape[0]
    assert len(browser.grid.items) == min(n_channels, browser.page_size)
    np.testing.assert_allclose(browser.grid.items[0].image, expected[0], rtol=1e-4, atol=1e-5)
    assert browser.n_pages == -(-n_channels // browser.page_size)
    if browser.n_pages > 1:
        browser.next_button.click()
        assert browser.page == 1
        np.testing.assert_allclose(
            browser.grid.items[0].image, expected[browser.page_size], rtol=1e-4, atol=1e-5
        )


def test_feature_browser_shows_the_first_layer_kernels(qtbot, window, feature, tiny_bundle):
    from crystalview.cam import first_layer_kernels
    from crystalview.models.catalog import load_model

    feature.dock.set_model_path(tiny_bundle)
    browser = feature.open_feature_browser()

    result = browse(qtbot, browser, KERNELS)  # needs no image

    kernels = first_layer_kernels(load_model(tiny_bundle).model)
    assert result.kernels and result.maps.shape == kernels.shape
    shown = []
    for page in range(browser.n_pages):  # every kernel appears on exactly one page
        browser.set_page(page)
        shown.extend(item.image for item in browser.grid.items)
    np.testing.assert_allclose(np.stack(shown), kernels)
    assert browser.grid.items[0].image.shape == kernels.shape[1:]


def test_region_in_view_is_clipped_to_the_image(window, shown_image):
    window.viewer.view_box.setRange(xRange=(-20, 40), yRange=(10, 30), padding=0)
    top, left, bottom, right = view_box_region(window.viewer)
    assert top >= 0 and left == 0 and bottom <= 60 and right <= 80
    assert bottom - top >= 20 and right >= 40


def test_kernel_playground_preset_changes_the_output(qtbot, window, feature, shown_image):
    playground = feature.open_playground()
    playground.set_preset("identity")
    playground.update_output()
    identity = playground.feature.copy()
    np.testing.assert_allclose(identity, playground.image, atol=1e-6)

    playground.preset_box.setCurrentText("laplacian")
    qtbot.waitUntil(lambda: not np.allclose(playground.feature, identity), timeout=2000)
    laplacian = playground.feature
    # flat regions give zero, the square's edges a strong response
    assert abs(laplacian[5, 5]) < 1e-6 and np.abs(laplacian).max() > 0.5
    assert playground.pooled["max"].shape == (30, 40)
    assert playground.pooled["avg"].shape == (30, 40)
    assert (playground.pooled["max"] >= playground.pooled["avg"] - 1e-6).all()
    shown = playground.items["feature"].image
    np.testing.assert_array_equal(shown, laplacian)


def test_editing_a_weight_makes_a_custom_kernel(qtbot, window, feature, shown_image):
    playground = feature.open_playground()
    playground.set_preset("blur")
    playground.update_output()
    blurred = playground.feature.copy()
    playground.spins[1][1].setValue(1.0)
    assert playground.preset_box.currentText() == "custom"
    qtbot.waitUntil(lambda: not np.allclose(playground.feature, blurred), timeout=2000)
    assert playground.kernel()[1, 1] == pytest.approx(1.0)


def test_playground_image_is_shrunk_for_speed():
    data = np.arange(1200 * 900, dtype=np.float32).reshape(1200, 900)
    image = playground_image(Micrograph(data=data), max_side=512)
    assert max(image.shape) <= 512 and image.dtype == np.float32
    assert image.min() >= 0.0 and image.max() <= 1.0


def test_strip_maps_fill_their_cells_and_square_maps_keep_their_aspect(qtbot):
    """A radial-profile network's maps are one row tall: drawn at square pixels they would be
    hairlines, so they are stretched; ordinary maps keep square pixels."""
    from crystalview.gui.cam.feature_browser import FeatureGrid

    grid = FeatureGrid()
    qtbot.addWidget(grid)
    grid.show_maps(np.random.default_rng(0).random((3, 1, 64)), first=0, diverging=False)
    assert len(grid.items) == 3
    assert not any(item.getViewBox().state["aspectLocked"] for item in grid.items)
    grid.show_maps(np.random.default_rng(1).random((2, 8, 8)), first=0, diverging=False)
    assert all(item.getViewBox().state["aspectLocked"] for item in grid.items)
