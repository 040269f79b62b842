"""Persistence between runs (QSettings under CRYSTALVIEW_HOME) and the preferences dialog."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from crystalview.core.memory import memory_budget_bytes, set_memory_budget
from crystalview.gui.preferences import PreferencesDialog
from crystalview.gui.settings import (
    MAX_RECENT,
    Preferences,
    add_recent_paths,
    make_settings,
    recent_paths,
)
from crystalview.paths import user_data_dir


def test_settings_live_under_the_crystalview_home(tmp_path, monkeypatch):
    monkeypatch.setenv("CRYSTALVIEW_HOME", str(tmp_path))
    settings = make_settings()
    assert Path(settings.fileName()).parent == user_data_dir()
    assert str(tmp_path) in settings.fileName()


def test_recent_paths_newest_first_without_duplicates(tmp_path, monkeypatch):
    monkeypatch.setenv("CRYSTALVIEW_HOME", str(tmp_path))
    settings = make_settings()
    a, b = tmp_path / "a.tif", tmp_path / "b"
    add_recent_paths(settings, [a])
    add_recent_paths(settings, [b])
    add_recent_paths(settings, [a])
    assert recent_paths(make_settings()) == [a.resolve(), b.resolve()]
    add_recent_paths(settings, [tmp_path / f"{i}.tif" for i in range(30)])
    assert len(recent_paths(settings)) == MAX_RECENT


def test_preferences_round_trip_and_apply(tmp_path, monkeypatch):
    monkeypatch.setenv("CRYSTALVIEW_HOME", str(tmp_path))
    prefs = Preferences(device="cpu", threads=3, memory_budget_mb=512, color_map="inferno")
    prefs.save()
    assert Preferences.load() == prefs
    try:
        prefs.apply()
        assert memory_budget_bytes() == 512 * 1024**2
    finally:
        set_memory_budget(None)


def test_bad_stored_preferences_fall_back_to_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("CRYSTALVIEW_HOME", str(tmp_path))
    settings = make_settings()
    settings.setValue("preferences/device", "quantum")
    settings.setValue("preferences/threads", "many")
    assert Preferences.load(settings) == Preferences()


def test_preferences_dialog_edits_a_copy(qtbot):
    dialog = PreferencesDialog(Preferences())
    qtbot.addWidget(dialog)
    dialog.device_box.setCurrentText("cpu")
    dialog.threads_box.setValue(1)
    dialog.cmap_box.setCurrentText("viridis")
    edited = dialog.preferences()
    assert (edited.device, edited.threads, edited.color_map) == ("cpu", 1, "viridis")


def test_window_geometry_and_docks_persist(qtbot, tmp_path, monkeypatch):
    from crystalview.gui.main_window import MainWindow

    monkeypatch.setenv("CRYSTALVIEW_HOME", str(tmp_path))
    first = MainWindow()
    qtbot.addWidget(first)
    first.show()
    first.resize(700, 500)  # the offscreen screen is 800 x 600
    first.dock("metadata").hide()
    first.close()
    second = MainWindow()
    qtbot.addWidget(second)
    second.show()
    assert (second.width(), second.height()) == (700, 500)
    assert second.dock("metadata").isHidden()
    assert not second.dock("gallery").isHidden()
    second.close()


def test_add_dock_registers_a_view_menu_toggle(window):
    from PySide6.QtWidgets import QLabel

    dock = window.add_dock("models", "Model", QLabel("model controls"))
    assert window.dock("models") is dock
    assert dock.toggleViewAction() in window.view_menu.actions()
    assert window.dockWidgetArea(dock) == Qt.DockWidgetArea.RightDockWidgetArea
