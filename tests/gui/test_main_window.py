"""The real window: drops, opening, gallery selection, failures, closing with jobs running."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from crystalview.core.progress import Progress
from crystalview.gui.settings import recent_paths


def drop(target, paths: list[Path]) -> bool:
    """Send the drag-enter and drop events a file manager would send to ``target``."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    actions = Qt.DropAction.CopyAction
    buttons, modifiers = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(QPoint(10, 10), actions, mime, buttons, modifiers)
    QApplication.sendEvent(target, enter)
    if not enter.isAccepted():
        return False
    event = QDropEvent(QPointF(10, 10), actions, mime, buttons, modifiers)
    QApplication.sendEvent(target, event)
    return event.isAccepted()


def wait_loaded(qtbot, window, count: int) -> None:
    qtbot.waitUntil(
        lambda: window.gallery_model.rowCount() == count and not window.pool.active(),
        timeout=10_000,
    )


def names(window) -> list[str]:
    return sorted(e.path.name for e in window.gallery_model.entries)


def test_dropping_a_folder_opens_images_recursively_and_skips_others(qtbot, window, image_folder):
    assert drop(window, [image_folder])
    wait_loaded(qtbot, window, 3)
    assert names(window) == ["a.tif", "b.tif", "c.tif"]
    report = window.last_report
    assert [p.name for p in report.skipped] == ["notes.txt"]
    assert report.failures == []
    assert window.notifications == []
    # the first image is shown at once
    assert window.viewer.micrograph is not None
    assert window.current is window.gallery_model.entry(0)


def test_drop_on_the_viewer_reaches_the_window(qtbot, window, image_folder):
    assert drop(window.viewer.graphics.viewport(), [image_folder / "a.tif"])
    wait_loaded(qtbot, window, 1)


def test_dropping_files_and_a_non_image(qtbot, window, image_folder):
    files = [image_folder / "a.tif", image_folder / "b.tif", image_folder / "notes.txt"]
    assert drop(window, files)
    wait_loaded(qtbot, window, 2)
    assert names(window) == ["a.tif", "b.tif"]
    assert len(window.last_report.skipped) == 1


def test_drop_without_files_is_refused(window):
    mime = QMimeData()
    mime.setText("hello")
    enter = QDragEnterEvent(
        QPoint(5, 5),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(window, enter)
    assert not enter.isAccepted()


def test_failures_are_listed_in_one_notification(qtbot, window, image_folder, tmp_path):
    broken = tmp_path / "broken.tif"
    broken.write_bytes(b"II*\x00" + b"\x00" * 20)  # a TIFF header with nothing behind it
    fake = tmp_path / "fake.dm3"
    fake.write_bytes(b"this is not a Gatan file at all")
    window.open_paths([image_folder / "a.tif", broken, fake])
    qtbot.waitUntil(lambda: window.last_report is not None, timeout=10_000)
    assert names(window) == ["a.tif"]
    assert len(window.notifications) == 1
    box = window.notifications[0]
    assert not box.isModal()
    assert "2 file(s) could not be opened" in box.text()
    for name in ("broken.tif", "fake.dm3"):
        assert name in box.informativeText()
        assert name in box.detailedText()
    lines = box.informativeText().splitlines()
    assert all(": " in line for line in lines[:2])  # each file comes with its reason


def test_gallery_selection_shows_the_image(qtbot, window, image_folder):
    window.open_paths([image_folder])
    wait_loaded(qtbot, window, 3)
    model = window.gallery_model
    row = next(r for r in range(3) if model.entry(r).path.name == "b.tif")
    window.gallery.setCurrentIndex(model.index(row))
    shown = window.viewer.micrograph
    assert shown is not None and shown.path.name == "b.tif"
    assert shown.data.dtype == np.uint16
    assert "b.tif" in window.loaded_label.text()
    assert window.metadata_dock.tree.topLevelItemCount() == 2


def test_thumbnails_are_made_for_shown_items(qtbot, window, image_folder):
    window.open_paths([image_folder])
    wait_loaded(qtbot, window, 3)
    model = window.gallery_model
    for row in range(3):
        model.index(row).data(Qt.ItemDataRole.DecorationRole)  # what the view does when painting
    qtbot.waitUntil(
        lambda: all(
            model.index(r).data(Qt.ItemDataRole.DecorationRole) is not None for r in range(3)
        ),
        timeout=10_000,
    )
    image = model.index(0).data(Qt.ItemDataRole.DecorationRole)
    assert max(image.width(), image.height()) <= 128


def test_removing_images_with_the_delete_key(qtbot, window, image_folder):
    window.open_paths([image_folder])
    wait_loaded(qtbot, window, 3)
    window.gallery.setFocus()
    window.gallery.setCurrentIndex(window.gallery_model.index(0))
    removed = window.gallery_model.entry(0)
    qtbot.keyClick(window.gallery, Qt.Key.Key_Delete)
    assert window.gallery_model.rowCount() == 2
    assert removed not in window.gallery_model.entries
    assert window.current is not removed
    window.close_all()
    assert window.gallery_model.rowCount() == 0
    assert window.viewer.micrograph is None


def test_same_image_is_not_opened_twice(qtbot, window, image_folder):
    window.open_paths([image_folder / "a.tif"])
    wait_loaded(qtbot, window, 1)
    window.open_paths([image_folder / "a.tif"])
    qtbot.waitUntil(lambda: not window.pool.active(), timeout=10_000)
    assert window.gallery_model.rowCount() == 1


def test_scale_and_uncalibrated_in_the_window(qtbot, window, tmp_path, make_tiff):
    data = np.random.default_rng(2).integers(0, 60000, (50, 60), dtype=np.uint16)
    calibrated = make_tiff(tmp_path / "cal.tif", data, pixel_size_nm=2.0)
    plain = make_tiff(tmp_path / "plain.tif", data)
    window.open_paths([calibrated, plain])
    wait_loaded(qtbot, window, 2)
    by_name = {e.path.name: e for e in window.gallery_model.entries}
    window.select_entry(by_name["cal.tif"])
    assert window.viewer.micrograph.pixel_size == pytest.approx(2.0)
    assert window.viewer.scale_bar.text.endswith("nm")
    assert "2 nm/px" in window.pixel_label.text()
    window.select_entry(by_name["plain.tif"])
    assert not window.viewer.scale_bar.isVisible()
    assert "no scale" in window.pixel_label.text()


def test_recent_paths_are_remembered(qtbot, window, image_folder):
    window.open_paths([image_folder])
    wait_loaded(qtbot, window, 3)
    assert recent_paths(window.settings)[0] == image_folder.resolve()


def test_tile_grid_overlay(qtbot, window, tmp_path, make_tiff):
    path = make_tiff(tmp_path / "big.tif", np.zeros((300, 500), np.uint8), pixel_size_nm=2.0)
    window.open_paths([path])
    wait_loaded(qtbot, window, 1)
    dock = window.tile_dock
    dock.size_box.setValue(100)
    dock.overlap_box.setValue(0)
    dock.show_box.setChecked(True)
    assert window.viewer.layer("tile-grid").isVisible()
    assert "15 tiles of 100 x 100 px" in dock.info.text()
    dock.unit_box.setCurrentText("nm")  # 100 nm at 2 nm/px = 50 px tiles
    assert "60 tiles of 50 x 50 px" in dock.info.text()
    dock.show_box.setChecked(False)
    assert not window.viewer.layer("tile-grid").isVisible()


def test_metadata_filter(qtbot, window, image_folder):
    window.open_paths([image_folder / "b.tif"])
    wait_loaded(qtbot, window, 1)
    dock = window.metadata_dock
    dock.filter_edit.setText("dtype")
    facts = dock.tree.topLevelItem(0)
    visible = [
        facts.child(i).text(0) for i in range(facts.childCount()) if not facts.child(i).isHidden()
    ]
    assert visible == ["dtype"]


def test_closing_with_a_job_running_waits_for_it(qtbot, image_folder):
    from crystalview.gui.main_window import MainWindow

    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    started, stopped = threading.Event(), threading.Event()

    def slow(cancel):
        try:
            while True:
                started.set()
                cancel.raise_if_cancelled()
                time.sleep(0.01)
                yield Progress(0, 0, "working")
        finally:
            stopped.set()

    worker = win.pool.submit(slow, "Slow job")
    assert started.wait(5)
    qtbot.waitUntil(lambda: win.cancel_button.isVisible(), timeout=5000)
    win.close()
    assert stopped.is_set()
    assert worker.token.cancelled
    assert win.pool.active() == []


def test_cancel_button_stops_loading(qtbot, window, tmp_path, monkeypatch, make_tiff):
    import crystalview.jobs.library as library

    gate = threading.Event()
    original = library._default_open

    def slow_open(path):
        gate.wait(5)
        return original(path)

    monkeypatch.setattr(library, "_default_open", slow_open)
    for i in range(5):
        make_tiff(tmp_path / f"{i}.tif", np.zeros((8, 8), np.uint8))
    worker = window.open_paths([tmp_path])
    cancelled = []
    worker.cancelled.connect(lambda: cancelled.append(True))
    qtbot.waitUntil(lambda: window.cancel_button.isVisible(), timeout=5000)
    window.cancel_button.click()
    gate.set()
    qtbot.waitUntil(lambda: not window.pool.active(), timeout=10_000)
    assert cancelled == [True]
    assert window.gallery_model.rowCount() < 5
    assert not window.cancel_button.isVisible()


def test_unexpected_job_error_is_shown(qtbot, window):
    def broken(cancel):
        raise RuntimeError("boom")

    worker = window.pool.submit(broken, "Broken job")
    with qtbot.waitSignal(worker.finished, timeout=5000):
        pass
    assert len(window.notifications) == 1
    box = window.notifications[0]
    assert "Broken job" in box.windowTitle()
    assert "boom" in box.text()
    assert "log file" in box.informativeText()


def test_symlink_loop_in_a_dropped_folder_is_survived(qtbot, window, image_folder):
    (image_folder / "nested" / "loop").symlink_to(image_folder, target_is_directory=True)
    assert drop(window, [image_folder])
    wait_loaded(qtbot, window, 3)
    assert names(window) == ["a.tif", "b.tif", "c.tif"]


@pytest.mark.shared_data
def test_dropping_the_real_microscope_files(qtbot, window, shared_data):
    assert drop(window, [shared_data])
    qtbot.waitUntil(lambda: window.last_report is not None, timeout=120_000)
    report = window.last_report
    opened = {e.path for e in window.gallery_model.entries}
    failed = {Path(p) for p, _reason in report.failures}
    assert report.n_files >= 30
    assert len(opened | failed) == report.n_files  # every file either opened or explained
    assert len(window.gallery_model.entries) >= 30
    assert any(e.modality == "SAED" for e in window.gallery_model.entries)
    if failed:
        assert len(window.notifications) == 1


def test_shortcuts_are_unique_and_present(window):
    keys = [a.shortcut().toString() for a in window.actions() if not a.shortcut().isEmpty()]
    assert len(keys) == len(set(keys)), keys  # an ambiguous shortcut never fires
    for expected in ("Ctrl+O", "Ctrl+Shift+O", "Ctrl+W", "Ctrl+,", "Ctrl+Q", "F", "A", "L", "T"):
        assert expected in keys


def test_keyboard_toggles_log_and_tile_grid(qtbot, window, image_folder):
    window.open_paths([image_folder / "b.tif"])
    wait_loaded(qtbot, window, 1)
    window.viewer.graphics.setFocus()
    assert not window.viewer.log_box.isChecked()
    qtbot.keyClick(window.viewer.graphics, Qt.Key.Key_L)
    assert window.viewer.log_box.isChecked()
    qtbot.keyClick(window.viewer.graphics, Qt.Key.Key_T)
    assert window.tile_dock.show_box.isChecked()
    assert window.viewer.layer("tile-grid").isVisible()


def test_feature_modules_install_their_docks(window, tmp_path, monkeypatch):
    from crystalview.gui.docks import install_features

    (tmp_path / "cv_fake_feature.py").write_text(
        "from PySide6.QtWidgets import QLabel\n"
        "def install(window):\n"
        "    window.add_dock('fake', 'Fake feature', QLabel('hello'))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    install_features(window, ("cv_fake_feature",))
    assert window.dock("fake").windowTitle() == "Fake feature"
    with pytest.raises(ValueError, match="already exists"):
        install_features(window, ("cv_fake_feature",))


def test_menu_finds_or_makes_one_before_help(window):
    model = window.menu("&Model")
    assert window.menu("Model") is model  # & ignored: the features share one Model menu
    texts = [a.text() for a in model.actions()]
    assert "&Fine-tune a Model…" in texts and "Run on &Current Image" in texts
    extra = window.menu("&Extra")
    titles = [a.text() for a in window.menuBar().actions()]
    assert titles[-1] == "&Help" and titles.index("&Extra") == len(titles) - 2
    assert window.menu("&Extra") is extra
