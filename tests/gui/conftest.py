"""Fixtures for the GUI tests: tiny generated TIFFs and a main window that is closed cleanly."""

from __future__ import annotations

import gc
from pathlib import Path

import numpy as np
import pytest
import tifffile

# The offscreen platform plugin warns that it cannot propagate size hints whenever a top-level
# window is shown; that is a property of the headless test platform, not of our code.
OFFSCREEN_NOISE = r"This plugin does not support propagateSizeHints"


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.qt_log_ignore(OFFSCREEN_NOISE))


@pytest.fixture(autouse=True)
def collect_garbage_only_between_tests():
    """No automatic garbage collection while a GUI test runs, one full collection after it.

    The app collects only on the GUI thread while no job runs (crystalview.gui.garbage); tests
    that build widgets without the main window get the same guarantee from this fixture.
    Autouse, so it is set up first and torn down last, after the window fixture has waited for
    every worker.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    yield
    if was_enabled:
        gc.enable()
    gc.collect()


def write_tiff(path: Path, data: np.ndarray, pixel_size_nm: float | None = None) -> Path:
    """A plain TIFF; with ``pixel_size_nm`` an ImageJ TIFF whose calibration is in nm."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if pixel_size_nm is None:
        tifffile.imwrite(path, data)
    else:
        per_nm = 1.0 / pixel_size_nm
        tifffile.imwrite(
            path, data, imagej=True, resolution=(per_nm, per_nm), metadata={"unit": "nm"}
        )
    return path


@pytest.fixture
def make_tiff():
    """`write_tiff`, for tests that need their own images (test modules cannot import conftest
    under pytest's importlib import mode)."""
    return write_tiff


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    """A folder with three small images (one nested), a text file and an empty sub-folder."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "images"
    write_tiff(folder / "a.tif", rng.integers(0, 255, (40, 50), dtype=np.uint8))
    write_tiff(folder / "b.tif", rng.integers(0, 4000, (30, 30), dtype=np.uint16))
    write_tiff(folder / "nested" / "c.tif", rng.random((20, 24), dtype=np.float32))
    (folder / "notes.txt").write_text("not an image")
    (folder / "empty").mkdir()
    return folder


@pytest.fixture
def window(qtbot):
    """The real main window; closed at the end so every worker is waited for."""
    from crystalview.gui.main_window import MainWindow

    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()
    # closing waits for every job: nothing may still run once the window is gone
    assert win.pool.active() == []
    assert win.thumbnail_pool.active() == []


@pytest.fixture
def make_wizard(qtbot):
    """Make fine-tune wizards, shown; at the end each is closed and must leave no job running."""
    from crystalview.gui.wizard import FineTuneWizard

    made = []

    def make(**kwargs) -> FineTuneWizard:
        wizard = FineTuneWizard(**kwargs)
        qtbot.addWidget(wizard)
        wizard.show()
        made.append(wizard)
        return wizard

    yield make
    for wizard in made:
        wizard.close()
        assert wizard.pool.active() == []
