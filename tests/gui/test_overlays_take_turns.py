"""The heat map and the per-tile class overlay are never drawn over each other."""

from __future__ import annotations

import numpy as np


def _tiny_bundle(path):
    import torch

    from crystalview.models.bundle import save_bundle
    from crystalview.models.manifest import ModelManifest
    from crystalview.models.registry import build_model

    torch.manual_seed(0)
    manifest = ModelManifest(
        architecture="diffraction_cnn", classes=["spots", "rings"], input_size=32, name="tiny"
    )
    return save_bundle(path, build_model("diffraction_cnn", num_classes=2), manifest)


def test_heat_map_and_class_overlay_take_turns(qtbot, window, make_tiff, tmp_path):
    results, feature = window.results_dock, window.heatmap
    path = make_tiff(tmp_path / "a.tif", np.random.default_rng(0).integers(0, 999, (48, 64)))
    window.open_paths([path], remember=False)
    qtbot.waitUntil(lambda: window.current is not None, timeout=10_000)
    dock = feature.dock
    dock.set_model_path(_tiny_bundle(tmp_path / "tiny.cvmodel"))
    results.overlay_box.setChecked(True)
    with qtbot.waitSignal(dock.result_shown, timeout=20_000, check_params_cb=bool):
        dock.compute()
    assert dock.show_box.isChecked() and not results.overlay_box.isChecked()

    results.overlay_box.setChecked(True)  # the user wants the classes back
    assert not dock.show_box.isChecked() and not dock.layer.item.isVisible()

    dock.show_box.setChecked(True)  # and the heat map again
    assert not results.overlay_box.isChecked() and dock.layer.item.isVisible()
