"""The heat-map dock in the real window: compute, classes, image switching, export, closing."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from PIL import Image
from PySide6.QtCore import Qt, QThreadPool

from crystalview.gui.cam.heatmap_layer import LAYER_NAME, threshold_lut


@pytest.fixture
def feature(window):
    """The window's heat-map feature (installed here if the window does not list it yet)."""
    from crystalview.gui.cam import install

    return getattr(window, "heatmap", None) or install(window)


def open_images(qtbot, window, make_tiff, tmp_path, shapes):
    rng = np.random.default_rng(1)
    paths = [
        make_tiff(tmp_path / f"img{i}.tif", rng.integers(0, 4000, shape).astype(np.uint16))
        for i, shape in enumerate(shapes)
    ]
    window.open_paths(paths, remember=False)
    qtbot.waitUntil(
        lambda: window.gallery_model.rowCount() == len(paths) and window.current is not None,
        timeout=10_000,
    )
    return [window.gallery_model.entry(i) for i in range(len(paths))]


def computed(qtbot, dock, action, timeout=20_000):
    """Run ``action`` and return the `CamResult` the dock shows afterwards."""
    with qtbot.waitSignal(dock.result_shown, timeout=timeout, check_params_cb=bool) as blocker:
        action()
    return blocker.args[0]


def test_compute_button_draws_the_map_over_the_image(
    qtbot, window, feature, tiny_bundle, make_tiff, tmp_path
):
    dock = feature.dock
    (entry,) = open_images(qtbot, window, make_tiff, tmp_path, [(48, 70)])
    dock.set_model_path(tiny_bundle)
    dock.opacity_slider.setValue(70)

    click = lambda: qtbot.mouseClick(dock.compute_button, Qt.MouseButton.LeftButton)  # noqa: E731
    result = computed(qtbot, dock, click)

    item = window.viewer.layer(LAYER_NAME)
    assert item is dock.layer.item and item.isVisible()
    assert item.image.shape == entry.shape == result.heatmap.shape
    assert item.opacity() == pytest.approx(0.7)
    assert result.heatmap.min() >= 0.0 and result.heatmap.max() <= 1.0
    assert result.class_name in ("spots", "rings")
    assert dock.layer.colour_bar is not None
    # the dock learned the model's classes and layers from the computation
    assert [dock.class_box.itemText(i) for i in range(1, 3)] == ["spots", "rings"]
    assert dock.layer_names() == ["block1", "block2", "block3"]
    assert dock.export_button.isEnabled()

    dock.show_box.setChecked(False)
    assert not item.isVisible() and dock.layer.colour_bar is None
    dock.show_box.setChecked(True)
    assert item.isVisible()


def test_whole_image_models_get_a_map_of_the_image_shape(
    qtbot, window, feature, make_tiff, tmp_path, tiny_bundle_factory
):
    dock = feature.dock
    (entry,) = open_images(qtbot, window, make_tiff, tmp_path, [(90, 64)])
    dock.set_model_path(tiny_bundle_factory(tmp_path / "whole.cvmodel", input_mode="whole"))
    result = computed(qtbot, dock, dock.compute)
    assert result.n_tiles == 1 and result.heatmap.shape == entry.shape
    assert dock.layer.item.image.shape == entry.shape


def test_grad_cam_asked_before_the_layers_are_known_is_shown(
    qtbot, window, feature, tiny_bundle, make_tiff, tmp_path
):
    dock = feature.dock
    open_images(qtbot, window, make_tiff, tmp_path, [(40, 60)])
    dock.set_model_path(tiny_bundle)
    dock.method_box.setCurrentIndex(dock.method_box.findData("gradcam"))
    assert dock.layer_names() == []  # the model is not loaded yet
    result = computed(qtbot, dock, dock.compute)
    assert result.layer == "block3" and dock.layer_box.currentText() == "block3"
    assert dock.result is result and dock.layer.item.isVisible()


def test_class_and_method_switches_recompute(
    qtbot, window, feature, tiny_bundle, make_tiff, tmp_path
):
    dock = feature.dock
    open_images(qtbot, window, make_tiff, tmp_path, [(40, 60)])
    dock.set_model_path(tiny_bundle)
    first = computed(qtbot, dock, dock.compute)
    other = "rings" if first.class_name == "spots" else "spots"

    second = computed(qtbot, dock, lambda: dock.class_box.setCurrentText(other))
    assert second.class_name == other and second.target_class != first.target_class

    dock.method_box.setCurrentIndex(dock.method_box.findData("gradcam"))
    third = computed(qtbot, dock, lambda: dock.layer_box.setCurrentText("block2"))
    assert third.layer == "block2" and third.class_name == other
    # back to the first choice: shown from the cache, no new job
    dock.method_box.setCurrentIndex(dock.method_box.findData("auto"))
    dock.class_box.setCurrentIndex(0)
    assert dock.result is first and not dock.jobs.busy


def test_switching_images_clears_then_follows(
    qtbot, window, feature, tiny_bundle, make_tiff, tmp_path
):
    dock = feature.dock
    first, second = open_images(qtbot, window, make_tiff, tmp_path, [(40, 60), (50, 36)])
    window.select_entry(first)
    dock.set_model_path(tiny_bundle)
    dock.follow_box.setChecked(False)
    result = computed(qtbot, dock, dock.compute)
    assert result.heatmap.shape == first.shape

    window.select_entry(second)  # not computed, not following: nothing drawn over it
    assert dock.result is None and not dock.layer.item.isVisible()
    window.select_entry(first)  # cached
    assert dock.result is result and dock.layer.item.isVisible()

    dock.follow_box.setChecked(True)
    followed = computed(qtbot, dock, lambda: window.select_entry(second))
    assert followed.heatmap.shape == second.shape
    assert window.viewer.layer(LAYER_NAME).image.shape == second.shape


def test_export_writes_the_overlay_png_and_the_float32_map(
    qtbot, window, feature, tiny_bundle, make_tiff, tmp_path
):
    dock = feature.dock
    (entry,) = open_images(qtbot, window, make_tiff, tmp_path, [(45, 64)])
    dock.set_model_path(tiny_bundle)
    result = computed(qtbot, dock, dock.compute)

    png, tiff = dock.export_to(tmp_path / "exported")  # the .png is added

    assert png.suffix == ".png" and tiff.suffix == ".tif"
    raw = tifffile.imread(tiff)
    assert raw.dtype == np.float32 and raw.shape == entry.shape
    np.testing.assert_array_equal(raw, result.heatmap)
    with Image.open(png) as picture:
        assert picture.mode == "RGB" and picture.width > picture.height > 0


def test_export_to_an_unwritable_place_raises(
    qtbot, window, feature, tiny_bundle, make_tiff, tmp_path
):
    dock = feature.dock
    open_images(qtbot, window, make_tiff, tmp_path, [(40, 40)])
    dock.set_model_path(tiny_bundle)
    computed(qtbot, dock, dock.compute)
    with pytest.raises(OSError):
        dock.export_to(tmp_path / "no such folder" / "map.png")


def test_threshold_hides_weak_evidence():
    lut = threshold_lut("inferno", 0.5)
    assert lut.shape == (256, 4) and lut.dtype == np.uint8
    assert (lut[:127, 3] == 0).all() and (lut[128:, 3] == 255).all()
    assert (threshold_lut("jet", 0.0)[:, 3] == 255).all()


def test_a_broken_model_file_is_reported_in_the_dock(qtbot, window, feature, make_tiff, tmp_path):
    dock = feature.dock
    open_images(qtbot, window, make_tiff, tmp_path, [(40, 40)])
    broken = tmp_path / "broken.cvmodel"
    broken.write_bytes(b"not a zip")
    dock.set_model_path(broken)
    with qtbot.waitSignal(dock.jobs.busy_changed, timeout=10_000, check_params_cb=lambda b: not b):
        dock.compute()
    assert dock.info.text().startswith("The heat map failed")
    assert "broken.cvmodel" in dock.info.text()
    assert dock.result is None
    assert len(window.notifications) == 1  # and a dialog says it too


def test_closing_the_window_while_computing_leaves_no_thread(
    qtbot, window, feature, tiny_bundle, make_tiff, tmp_path
):
    dock = feature.dock
    open_images(qtbot, window, make_tiff, tmp_path, [(256, 256)])
    dock.set_model_path(tiny_bundle)
    dock.method_box.setCurrentIndex(dock.method_box.findData("occlusion"))  # slow on purpose
    with qtbot.waitSignal(dock.jobs.progress, timeout=10_000):
        dock.compute()
    assert dock.jobs.busy

    window.close()

    assert window.pool.active() == []
    assert QThreadPool.globalInstance().activeThreadCount() == 0
    assert window.pool.wait_for_done(0)


def test_the_dock_explains_the_model_chosen_in_the_model_dock(
    qtbot, window, tmp_path, make_tiff, tiny_bundle_factory
):
    from crystalview import paths
    from crystalview.gui.cam import install
    from crystalview.gui.docks import install_features

    if not hasattr(window, "model_dock"):
        install_features(window, ("crystalview.gui.docks.model",))
    feature = getattr(window, "heatmap", None) or install(window)
    model_dock, dock = window.model_dock, feature.dock
    user_models = paths.user_models_dir()
    user_models.mkdir(parents=True, exist_ok=True)
    bundle = tiny_bundle_factory(user_models / "heatmap-test-tiny.cvmodel")
    try:
        model_dock.refresh_models(select="heatmap-test-tiny")
        qtbot.waitUntil(lambda: dock.model_path == bundle, timeout=20_000)
        assert (
            not dock.model_box.isVisibleTo(dock) and "heatmap-test-tiny" in dock.model_label.text()
        )
        open_images(qtbot, window, make_tiff, tmp_path, [(40, 60)])
        model_dock.tile_box.setValue(48)
        assert dock.request().run.tile_size == 48
        result = computed(qtbot, dock, dock.compute)
        assert result.heatmap.shape == (40, 60)
    finally:
        bundle.unlink()


def test_the_map_cache_is_bounded_in_bytes(
    qtbot, window, feature, tiny_bundle, make_tiff, tmp_path, monkeypatch
):
    import crystalview.gui.cam.dock as dock_module

    monkeypatch.setattr(dock_module, "CACHE_BYTES", 40 * 60 * 4 + 1)  # room for one map
    dock = feature.dock
    open_images(qtbot, window, make_tiff, tmp_path, [(40, 60)])
    dock.set_model_path(tiny_bundle)
    first = computed(qtbot, dock, dock.compute)
    other = "rings" if first.class_name == "spots" else "spots"
    second = computed(qtbot, dock, lambda: dock.class_box.setCurrentText(other))
    assert list(dock.cache.values()) == [second]


def test_every_heat_map_method_has_a_choice_in_the_dock():
    from crystalview.cam.names import METHODS
    from crystalview.gui.cam.dock import METHOD_CHOICES, METHOD_LABELS

    assert {method for _, method in METHOD_CHOICES} == set(METHODS) == set(METHOD_LABELS)
