"""The model dock in the real window: choosing, importing and running models, queue and cancel."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch

from crystalview import paths
from crystalview.gui.docks.model import preferred_model

CLASSES = ["alpha", "beta", "gamma"]


@pytest.fixture
def save_tiny_model(tiny_bundle_factory):
    """``save(folder, name, modality, input_mode, pixel_size)``: the suite's tiny bundle with
    this module's three classes on 16 px inputs (fast enough for thousands of tiles), saved as
    ``folder/<name>.cvmodel``; ``pixel_size`` (nm) calibrates it, so calibrated images are
    resampled to its scale."""

    def save(folder, name, modality="unknown", input_mode="tiles", pixel_size=None) -> Path:
        unit = "nm" if pixel_size is not None else None
        return tiny_bundle_factory(
            folder / f"{name}.cvmodel",
            tuple(CLASSES),
            input_size=16,
            modality=modality,
            input_mode=input_mode,
            name=name,
            pixel_size=pixel_size,
            pixel_unit=unit,
        )

    return save


def write_saed_tiff(path: Path, size: int = 48) -> Path:
    """A pattern saved the way the simulator saves one (ImageJ TIFF calibrated in 1/nm)."""
    rng = np.random.default_rng(1)
    image = rng.integers(0, 60000, (size, size), dtype=np.uint16)
    tifffile.imwrite(
        path, image, imagej=True, resolution=(20.0, 20.0), metadata={"unit": "1/nm", "axes": "YX"}
    )
    return path


@pytest.fixture
def builtin_dir(tmp_path, monkeypatch) -> Path:
    """An empty built-in models folder, so the shipped models do not change what tests see."""
    folder = tmp_path / "builtin"
    folder.mkdir()
    monkeypatch.setattr(paths, "builtin_models_dir", lambda: folder)
    return folder


def open_window(qtbot):
    """The real main window, shown (the model dock is one of its features)."""
    from crystalview.gui.main_window import MainWindow

    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    return win


@pytest.fixture
def cv_window(qtbot, tmp_path, monkeypatch, builtin_dir):
    """The real window with its own user folder (models, settings) and the model dock."""
    monkeypatch.setenv("CRYSTALVIEW_HOME", str(tmp_path / "home"))
    win = open_window(qtbot)
    yield win
    win.close()
    assert win.pool.active() == []
    assert win.pool.wait_for_done(0)


def refresh(qtbot, win) -> list:
    with qtbot.waitSignal(win.model_dock.models_listed, timeout=20_000) as blocker:
        win.model_dock.refresh_models()
    return blocker.args[0]


def open_and_wait(qtbot, win, paths_: list[Path], count: int) -> None:
    win.open_paths(paths_)
    qtbot.waitUntil(
        lambda: (
            win.gallery_model.rowCount() == count and not win.pool.active(include_background=False)
        ),
        timeout=10_000,
    )


def run_and_wait(qtbot, win, start) -> object:
    with qtbot.waitSignal(win.model_dock.run_finished, timeout=30_000) as blocker:
        start()
    return blocker.args[0]


@pytest.fixture
def small_images(tmp_path) -> list[Path]:
    rng = np.random.default_rng(0)
    folder = tmp_path / "images"
    folder.mkdir()
    out = []
    for index, shape in enumerate([(40, 52), (64, 64), (12, 12)]):
        path = folder / f"img{index}.tif"
        tifffile.imwrite(path, rng.integers(0, 255, shape, dtype=np.uint8))
        out.append(path)
    return out


def test_run_on_all_sets_badges_and_device(qtbot, cv_window, small_images, save_tiny_model):
    win = cv_window
    save_tiny_model(paths.user_models_dir(), "tiny")
    models = refresh(qtbot, win)
    assert [m.name for m in models] == ["tiny"]
    open_and_wait(qtbot, win, small_images, 3)
    dock = win.model_dock
    assert dock.current_model_entry().name == "tiny"
    assert dock.tile_box.value() == 16  # default from the manifest
    assert "alpha" in dock.card.text() and "16 x 16" in dock.card.text()

    summary = run_and_wait(qtbot, win, dock.run_all_button.click)
    assert summary is not None and not summary.failures
    for entry in win.gallery_model.entries:
        prediction = dock.prediction_for(entry)
        assert prediction is not None and prediction.label in CLASSES
        text, colour = entry.badge
        assert text.startswith(prediction.label) and text.endswith("%")
        assert colour.startswith("#")
    # the 12 x 12 image is smaller than a tile: classified whole
    small = next(e for e in win.gallery_model.entries if e.shape == (12, 12))
    assert dock.prediction_for(small).n_tiles == 1
    assert dock.prediction_for(win.gallery_model.entries[1]).n_tiles > 1
    assert "cpu" in dock.device_label.text()
    assert win.device_label.isVisible() and "cpu" in win.device_label.text()


def test_run_current_and_selected(qtbot, cv_window, small_images, save_tiny_model):
    win = cv_window
    save_tiny_model(paths.user_models_dir(), "tiny")
    refresh(qtbot, win)
    open_and_wait(qtbot, win, small_images, 3)
    dock = win.model_dock
    run_and_wait(qtbot, win, dock.run_current_button.click)
    classified = [e for e in win.gallery_model.entries if dock.prediction_for(e) is not None]
    assert classified == [win.current]

    win.gallery.selectAll()
    run_and_wait(qtbot, win, dock.run_selected_button.click)
    assert all(dock.prediction_for(e) is not None for e in win.gallery_model.entries)


def test_second_run_is_queued_not_parallel(qtbot, cv_window, small_images, save_tiny_model):
    win = cv_window
    save_tiny_model(paths.user_models_dir(), "tiny")
    refresh(qtbot, win)
    open_and_wait(qtbot, win, small_images, 3)
    dock = win.model_dock
    started, finished = [], []
    running_at_start = []
    dock.run_started.connect(
        lambda r: running_at_start.append(
            sum(w.title.startswith("Classifying") for w in win.pool.active())
        )
    )
    dock.run_started.connect(started.append)
    dock.run_finished.connect(finished.append)

    first = dock.run_on(win.gallery_model.entries[:2])
    second = dock.run_on(win.gallery_model.entries[2:])
    assert dock.is_running() and dock.queued_runs() == 1
    assert "queued" in dock.queue_label.text()
    qtbot.waitUntil(lambda: len(finished) == 2, timeout=30_000)
    assert started == [first, second]
    assert running_at_start == [1, 1]  # never two classifications at once
    assert dock.queued_runs() == 0 and not dock.is_running()
    assert all(dock.prediction_for(e) is not None for e in win.gallery_model.entries)


@pytest.fixture
def big_image(tmp_path) -> Path:
    """Thousands of 16 px tiles with these settings: a run long enough to interrupt."""
    path = tmp_path / "big" / "big.tif"
    path.parent.mkdir()
    tifffile.imwrite(path, np.random.default_rng(2).integers(0, 255, (1024, 1024), np.uint8))
    return path


def slow_settings(dock) -> None:
    dock.overlap_box.setValue(50)
    dock.batch_box.setValue(1)


def test_cancel_stops_the_run_and_drops_the_queue(
    qtbot, cv_window, big_image, small_images, save_tiny_model
):
    win = cv_window
    save_tiny_model(paths.user_models_dir(), "tiny")
    refresh(qtbot, win)
    open_and_wait(qtbot, win, [big_image, *small_images], 4)
    dock = win.model_dock
    slow_settings(dock)
    big = win.gallery_model.entries[0]
    with qtbot.waitSignal(dock.run_finished, timeout=30_000) as blocker:
        dock.run_on([big])
        dock.run_on(win.gallery_model.entries[1:])  # queued
        qtbot.waitUntil(lambda: win.cancel_button.isVisible(), timeout=5_000)
        qtbot.wait(200)
        win.cancel_button.click()
    assert blocker.args == [None]
    qtbot.waitUntil(lambda: not win.pool.active(include_background=False), timeout=10_000)
    assert dock.queued_runs() == 0 and not dock.is_running()
    assert all(dock.prediction_for(e) is None for e in win.gallery_model.entries)
    assert all(e.badge is None for e in win.gallery_model.entries)


def test_switching_and_closing_images_during_a_run(
    qtbot, cv_window, small_images, tmp_path, save_tiny_model
):
    win = cv_window
    save_tiny_model(paths.user_models_dir(), "tiny")
    refresh(qtbot, win)
    medium = tmp_path / "medium.tif"
    tifffile.imwrite(medium, np.random.default_rng(3).integers(0, 255, (256, 256), np.uint8))
    open_and_wait(qtbot, win, [*small_images, medium], 4)
    dock = win.model_dock
    dock.overlap_box.setValue(50)
    dock.batch_box.setValue(8)
    big = next(e for e in win.gallery_model.entries if e.shape == (256, 256))
    doomed = win.gallery_model.entries[0]
    with qtbot.waitSignal(dock.run_finished, timeout=60_000) as blocker:
        dock.run_all()
        for step in (1, 1, -1, 1, 1):
            win.step_image(step)
            qtbot.wait(20)
        win.remove_entries([doomed])
        win.select_entry(big)
    summary = blocker.args[0]
    assert summary is not None and not summary.failures
    assert win.current is big
    prediction = dock.prediction_for(big)
    assert prediction is not None and prediction.n_tiles == 31 * 31
    assert win.results_dock.table_model.rowCount() == prediction.n_tiles


def test_closing_the_window_during_a_run_stops_it(
    qtbot, tmp_path, monkeypatch, builtin_dir, big_image, save_tiny_model
):
    monkeypatch.setenv("CRYSTALVIEW_HOME", str(tmp_path / "home"))
    win = open_window(qtbot)
    save_tiny_model(paths.user_models_dir(), "tiny")
    refresh(qtbot, win)
    open_and_wait(qtbot, win, [big_image], 1)
    slow_settings(win.model_dock)
    win.model_dock.run_all()
    win.model_dock.run_all()  # and one queued
    qtbot.waitUntil(lambda: win.cancel_button.isVisible(), timeout=5_000)
    qtbot.wait(200)
    win.close()
    assert win.pool.active() == []
    assert win.pool.wait_for_done(0)  # no pool thread is still running a job
    qtbot.wait(100)  # late signals of the closed window are ignored, nothing new starts
    assert win.pool.active() == [] and win.model_dock.prediction_for(win.current) is None


def test_importing_a_broken_model_shows_an_error_and_the_app_goes_on(
    qtbot, cv_window, tmp_path, small_images, save_tiny_model
):
    win = cv_window
    save_tiny_model(paths.user_models_dir(), "tiny")
    refresh(qtbot, win)
    broken = tmp_path / "broken.cvmodel"
    broken.write_bytes(b"this is not a zip file at all")
    worker = win.model_dock.import_model_file(broken)
    with qtbot.waitSignal(worker.finished, timeout=10_000):
        pass
    qtbot.waitUntil(lambda: len(win.notifications) == 1, timeout=5_000)
    box = win.notifications[0]
    assert "broken.cvmodel" in box.text()
    assert not box.isModal()
    assert not any(p.name.startswith("broken") for p in paths.user_models_dir().iterdir())
    # the window still works: the existing model runs
    open_and_wait(qtbot, win, small_images[:1], 1)
    summary = run_and_wait(qtbot, win, win.model_dock.run_all)
    assert summary is not None


def test_importing_a_good_model_lists_and_selects_it(qtbot, cv_window, tmp_path, save_tiny_model):
    win = cv_window
    save_tiny_model(paths.user_models_dir(), "tiny")
    refresh(qtbot, win)
    source = save_tiny_model(tmp_path, "tiny")  # same name: imported under a new one
    with qtbot.waitSignal(win.model_dock.models_listed, timeout=20_000):
        win.model_dock.import_model_file(source)
    assert sorted(m.name for m in win.model_dock.models()) == ["tiny", "tiny-2"]
    assert win.model_dock.current_model_entry().name == "tiny-2"
    assert win.model_dock.model_box.currentText().startswith("tiny-2")


def test_saed_images_preselect_the_builtin_model(
    qtbot, cv_window, builtin_dir, tmp_path, save_tiny_model
):
    win = cv_window
    save_tiny_model(builtin_dir, "another-saed", modality="SAED")
    save_tiny_model(builtin_dir, "saed-crystal-system", modality="SAED")
    save_tiny_model(builtin_dir, "saed-zone-lattice", modality="SAED")
    save_tiny_model(paths.user_models_dir(), "aaa-sem", modality="SEM")
    models = refresh(qtbot, win)
    assert [m.builtin for m in models] == [True, True, True, False]
    dock = win.model_dock
    assert dock.current_model_entry().name == "another-saed"  # nothing to follow yet

    pattern = write_saed_tiff(tmp_path / "pattern.tif")
    open_and_wait(qtbot, win, [pattern], 1)
    assert win.current.modality == "SAED"
    assert dock.current_model_entry().name == "saed-crystal-system"
    # the other SAED built-in is offered as a link
    assert dock.sibling_hint.isVisibleTo(dock)
    assert "saed-zone-lattice" in dock.sibling_hint.text()
    dock.sibling_hint.linkActivated.emit("saed-zone-lattice")
    assert dock.current_model_entry().name == "saed-zone-lattice"
    assert "saed-crystal-system" in dock.sibling_hint.text()
    assert not dock.mismatch.isVisibleTo(dock)
    # a model trained on SEM images warns on a diffraction pattern; the user's choice sticks
    dock.model_box.setCurrentIndex(3)
    dock.model_box.activated.emit(3)
    assert dock.current_model_entry().name == "aaa-sem"
    assert dock.mismatch.isVisibleTo(dock) and "SAED" in dock.mismatch.text()
    assert not dock.sibling_hint.isVisibleTo(dock)
    win.show_entry(win.current)
    assert dock.current_model_entry().name == "aaa-sem"


def test_preferred_model_order(tmp_path, builtin_dir, save_tiny_model):
    from crystalview.models.catalog import list_models

    save_tiny_model(builtin_dir, "saed-zone-lattice", modality="SAED")
    save_tiny_model(builtin_dir, "sem-grains", modality="SEM")
    models = list_models()
    assert preferred_model(models, "SAED").name == "saed-zone-lattice"
    assert preferred_model(models, "SEM").name == "sem-grains"
    assert preferred_model(models, "TEM") is None


def test_only_matching_images_are_classified(
    qtbot, cv_window, small_images, tmp_path, save_tiny_model
):
    win = cv_window
    save_tiny_model(paths.user_models_dir(), "saed-model", modality="SAED")
    refresh(qtbot, win)
    pattern = write_saed_tiff(tmp_path / "pattern.tif")
    open_and_wait(qtbot, win, [pattern, *small_images[:2]], 3)
    dock = win.model_dock
    assert dock.matching_box.isChecked() and "SAED" in dock.matching_box.text()
    # plain TIFFs have no modality ("unknown") and are classified; an SEM image is skipped
    win.gallery_model.entries[2].modality = "SEM"
    with qtbot.waitSignal(dock.run_finished, timeout=30_000) as blocker:
        request = dock.run_all()
    assert [e.modality for e in request.entries] == ["SAED", "unknown"]
    assert len(blocker.args[0].results) == 2
    assert dock.prediction_for(win.gallery_model.entries[2]) is None
    dock.matching_box.setChecked(False)
    with qtbot.waitSignal(dock.run_finished, timeout=30_000):
        request = dock.run_all()
    assert len(request.entries) == 3


def test_device_preference_cuda_without_gpu_is_reported(
    qtbot, cv_window, small_images, save_tiny_model
):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    win = cv_window
    save_tiny_model(paths.user_models_dir(), "tiny")
    refresh(qtbot, win)
    open_and_wait(qtbot, win, small_images[:1], 1)
    win.model_dock.device_box.setCurrentText("cuda")
    finished = run_and_wait(qtbot, win, win.model_dock.run_all)
    assert finished is None
    qtbot.waitUntil(lambda: len(win.notifications) == 1, timeout=5_000)
    assert "CUDA" in win.notifications[0].text()


def test_tile_grid_link_shows_the_grid_used(qtbot, cv_window, small_images, save_tiny_model):
    win = cv_window
    save_tiny_model(paths.user_models_dir(), "tiny")
    refresh(qtbot, win)
    open_and_wait(qtbot, win, small_images[1:2], 1)
    dock, tiles = win.model_dock, win.tile_dock
    dock.grid_box.setChecked(True)
    assert tiles.show_box.isChecked()
    assert tiles.size_box.value() == 16 and tiles.overlap_box.value() == 25
    dock.tile_box.setValue(32)
    assert tiles.size_box.value() == 32
    tiles.overlap_box.setValue(50)  # edited in the Tiles dock: used by the next run
    assert dock.overlap_box.value() == 50
    summary = run_and_wait(qtbot, win, dock.run_all)
    prediction = dock.prediction_for(win.current)
    from crystalview.core.tiling import tile_grid

    assert summary is not None
    assert prediction.n_tiles == tile_grid((64, 64), 32, 0.5).n_tiles
    tiles.show_box.setChecked(False)
    assert not dock.grid_box.isChecked()


def test_images_whose_pixels_were_evicted_are_read_again(
    qtbot, cv_window, small_images, save_tiny_model
):
    win = cv_window
    save_tiny_model(paths.user_models_dir(), "tiny")
    refresh(qtbot, win)
    open_and_wait(qtbot, win, small_images, 3)
    evicted = [e for e in win.gallery_model.entries if e is not win.current]
    for entry in evicted:
        entry.micrograph = None  # as the memory cap does for images not on screen
    summary = run_and_wait(qtbot, win, win.model_dock.run_all)
    assert not summary.failures
    assert all(win.model_dock.prediction_for(e) is not None for e in evicted)
    assert all(e.micrograph is None for e in evicted)  # the run kept no copy on the entries


def test_out_of_memory_retries_are_told_to_the_user(
    qtbot, cv_window, small_images, monkeypatch, save_tiny_model
):
    from crystalview.inference.runner import BatchRunner

    real_forward = BatchRunner._forward
    calls = []

    def forward_failing_once(self, batch):
        calls.append(len(batch))
        if len(calls) == 1:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_forward(self, batch)

    monkeypatch.setattr(BatchRunner, "_forward", forward_failing_once)
    win = cv_window
    save_tiny_model(paths.user_models_dir(), "tiny")
    refresh(qtbot, win)
    open_and_wait(qtbot, win, small_images[1:2], 1)  # 64 x 64: 25 tiles in one batch
    summary = run_and_wait(qtbot, win, win.model_dock.run_all)
    assert calls[:2] == [25, 16]  # retried with half the batch
    assert any("out of memory" in note for note in summary.notes)
    assert "out of memory" in win.model_dock.device_label.text()
    assert "out of memory" in win.statusBar().currentMessage()
    assert win.model_dock.prediction_for(win.current) is not None


def test_demo_pattern_opens_with_the_shipped_crystal_system_model(qtbot, tmp_path, monkeypatch):
    """What ``crystalview --demo`` shows: a simulated ring pattern and the built-in model."""
    shipped = paths.builtin_models_dir() / "saed-crystal-system.cvmodel"
    pattern = paths.resources_dir() / "samples" / "saed" / "rings" / "cubic" / "rings_0.tif"
    if not (shipped.is_file() and pattern.is_file()):
        pytest.skip("the built-in SAED model or the demo patterns are not in this checkout")
    monkeypatch.setenv("CRYSTALVIEW_HOME", str(tmp_path / "home"))
    win = open_window(qtbot)
    refresh(qtbot, win)
    open_and_wait(qtbot, win, [pattern], 1)
    assert win.model_dock.current_model_entry().name == "saed-crystal-system"
    summary = run_and_wait(qtbot, win, win.model_dock.run_current)
    prediction = win.model_dock.prediction_for(win.current)
    assert not summary.failures
    assert prediction.class_names == win.model_dock.current_model_entry().manifest.classes
    assert win.current.badge[0].startswith(prediction.label)
    win.close()
    assert win.pool.active() == []


def test_an_image_that_cannot_be_read_is_reported_and_the_others_classified(
    qtbot, cv_window, small_images, save_tiny_model
):
    win = cv_window
    save_tiny_model(paths.user_models_dir(), "tiny")
    refresh(qtbot, win)
    open_and_wait(qtbot, win, small_images, 3)
    run_and_wait(qtbot, win, win.model_dock.run_all)
    gone = next(e for e in win.gallery_model.entries if e is not win.current)
    gone.micrograph = None
    gone.path.unlink()  # deleted behind our back after it was evicted
    summary = run_and_wait(qtbot, win, win.model_dock.run_all)
    assert [path for path, _reason in summary.failures] == [gone.path]
    assert gone.badge[0] == "failed" and win.model_dock.prediction_for(gone) is None
    others = [e for e in win.gallery_model.entries if e is not gone]
    assert all(win.model_dock.prediction_for(e) is not None for e in others)
    qtbot.waitUntil(lambda: len(win.notifications) == 1, timeout=5_000)
    assert gone.path.name in win.notifications[0].informativeText()


def test_the_window_installs_the_docks_and_one_model_menu(cv_window):
    win = cv_window
    assert win.dock("model").widget().widget() is win.model_dock
    assert win.dock("results").widget().widget() is win.results_dock
    titles = [action.text() for action in win.menuBar().actions()]
    assert titles.count("&Model") == 1 and titles[-1] == "&Help"
    menu = next(a.menu() for a in win.menuBar().actions() if a.text() == "&Model")
    texts = [action.text() for action in menu.actions()]
    assert "Run on &All Images" in texts and "&Export Results (CSV)…" in texts


def test_model_summary_names_the_diffraction_view():
    from crystalview.gui.docks.model import model_card_html
    from crystalview.models.catalog import list_models

    entries = {entry.name: entry for entry in list_models()}
    if "saed-crystal-system" not in entries:
        pytest.skip("the built-in models are not in models/")
    assert "radial profile about the beam centre" in model_card_html(entries["saed-crystal-system"])
    zone = model_card_html(entries["saed-zone-lattice"])
    assert "spot-net) view, plus the spot net measured on the full pattern" in zone
    assert "measured" not in model_card_html(entries["saed-crystal-system"])


def test_tile_overlay_equals_the_tiles_classified_on_a_calibrated_image(
    qtbot, cv_window, tmp_path, make_tiff, save_tiny_model
):
    # the model reads 1.3 nm pixels, the image has 1 nm ones: tiles are cut after resampling,
    # where a grid drawn over the image in image pixels would differ by rounding
    win = cv_window
    save_tiny_model(paths.user_models_dir(), "tiny", pixel_size=1.3)
    refresh(qtbot, win)
    rng = np.random.default_rng(3)
    image = make_tiff(tmp_path / "cal.tif", rng.integers(0, 255, (90, 120), np.uint8), 1.0)
    open_and_wait(qtbot, win, [image], 1)
    dock, tiles = win.model_dock, win.tile_dock
    dock.grid_box.setChecked(True)
    dock.set_run_settings(replace(dock.run_settings(), tile_size=21, overlap=0.3))
    assert dock.tile_box.value() == 21 and dock.overlap_box.value() == 30
    drawn = tiles.boxes.copy()
    summary = run_and_wait(qtbot, win, dock.run_all)
    assert summary is not None
    prediction = dock.prediction_for(win.current)
    np.testing.assert_array_equal(drawn, prediction.tile_boxes)
    from crystalview.core.tiling import tile_grid

    naive = tile_grid((90, 120), round(21 / 1.3), 0.3).boxes  # the grid in image pixels
    assert naive.shape != drawn.shape or (naive != drawn).any()


def test_settings_changed_reaches_the_heat_map_and_the_overlay(
    qtbot, cv_window, small_images, save_tiny_model
):
    win = cv_window
    save_tiny_model(paths.user_models_dir(), "tiny")
    refresh(qtbot, win)
    open_and_wait(qtbot, win, small_images[1:2], 1)
    dock = win.model_dock
    with qtbot.waitSignal(dock.settings_changed) as blocker:
        dock.set_run_settings(replace(dock.run_settings(), tile_size=24, batch_size=4))
    assert blocker.args[0] == dock.run_settings()
    assert blocker.args[0].tile_size == 24 and dock.batch_box.value() == 4
    assert win.heatmap.dock.settings == dock.run_settings()
