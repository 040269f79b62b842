"""Issue 16 item 10, the wizard's leftovers: the training bar shows where a cancelled run
stopped, Next stays disabled while any run trains, and the labelling preview fits the whole
image (aspect kept) however its pane is resized."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSplitter, QWizard

from crystalview.core.labels import LabelProject
from crystalview.gui.wizard import FineTuneWizard
from crystalview.gui.wizard.wizard import LABELLING, MODEL, TRAINING
from crystalview.training import EpochMetrics

CLASS_NAMES = ["horizontal", "vertical"]


@pytest.fixture
def stripes_tree(tmp_path: Path) -> Path:
    """Two classes of 48-px stripe images, one subfolder per class."""
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:48, 0:48].astype(np.float64)
    root = tmp_path / "tree"
    for label, name in enumerate(CLASS_NAMES):
        (root / name).mkdir(parents=True)
        for i in range(8):
            axis = yy if label == 0 else xx
            image = np.sin(rng.uniform(0.5, 0.8) * axis) + 0.3 * rng.standard_normal((48, 48))
            tifffile.imwrite(root / name / f"{i:02d}.tif", (image * 1000 + 5000).astype(np.uint16))
    return root


def _long_run(wizard: FineTuneWizard) -> None:
    """Select a small model and a run far longer than the test lasts."""
    wizard.model_page.select_base("diffraction_cnn", pretrained=False)
    wizard.model_page.set_strategy("frozen")
    wizard.model_page.epochs.setValue(500)
    wizard.model_page.patience.setValue(0)


def _cancel_at_first_epoch(qtbot, wizard: FineTuneWizard) -> list[bool]:
    """Cancel when the first epoch ends; record whether Next was enabled at that moment."""
    training = wizard.training_page
    next_enabled: list[bool] = []

    def on_progress(event):
        if isinstance(event.partial, EpochMetrics) and not next_enabled:
            next_enabled.append(wizard.button(QWizard.WizardButton.NextButton).isEnabled())
            qtbot.mouseClick(training.cancel_button, Qt.MouseButton.LeftButton)

    training._worker.progress.connect(on_progress)
    return next_enabled


def test_cancel_shows_where_training_stopped_and_next_waits(qtbot, make_wizard, stripes_tree,
                                                            tmp_path):  # fmt: skip
    project = LabelProject.create(tmp_path / "labels.json")
    project.import_folder_tree(stripes_tree)
    wizard = make_wizard(project=project)
    wizard.resume()
    wizard.next()
    assert wizard.currentId() == MODEL
    _long_run(wizard)
    next_button = wizard.button(QWizard.WizardButton.NextButton)
    training = wizard.training_page

    for run in range(2):  # the first run, then "Train again" after a finished one
        with qtbot.waitSignal(wizard.training_finished, timeout=60_000) as finished:
            if run == 0:
                wizard.next()
                assert wizard.currentId() == TRAINING
            else:
                qtbot.mouseClick(training.again_button, Qt.MouseButton.LeftButton)
            assert training.running
            assert not next_button.isEnabled(), f"Next enabled while run {run + 1} trains"
            next_enabled = _cancel_at_first_epoch(qtbot, wizard)
        qtbot.waitUntil(lambda: not training.running, timeout=10_000)
        result = finished.args[0]
        assert result.cancelled
        assert next_enabled == [False], f"Next enabled during run {run + 1}"
        # the bar stays where the run stopped: an epoch or so of the 500 planned, not 100 %
        bar = training.progress_bar
        assert bar.minimum() <= bar.value() < bar.maximum()
        assert bar.value() > bar.minimum()
        reached = result.history[-1].epoch  # 1, or 2 if the worker was a step ahead
        assert bar.text().startswith(f"Cancelled after epoch {reached} of 500"), bar.text()
        assert training.step_label.text() == "Cancelled"
        assert next_button.isEnabled() and training.isComplete()


def _display_box(widget) -> tuple[int, int, int, int]:
    """Bounding box (left, top, right, bottom) of what is drawn over the dark background."""
    grabbed = widget.grab().toImage()
    width, height = grabbed.width(), grabbed.height()
    ptr = grabbed.convertToFormat(grabbed.Format.Format_RGB888)
    stride = ptr.bytesPerLine()
    data = np.frombuffer(ptr.constBits(), np.uint8)[: stride * height]
    rgb = data.reshape(height, stride)[:, : width * 3].reshape(height, width, 3)
    drawn = np.abs(rgb.astype(int) - 0x11).max(axis=2) > 6  # the background is #111
    rows, cols = np.flatnonzero(drawn.any(axis=1)), np.flatnonzero(drawn.any(axis=0))
    assert rows.size and cols.size, "nothing drawn in the preview"
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def test_labelling_preview_fits_the_whole_image(qtbot, make_wizard, tmp_path):
    # a wide image: black with white bands at both ends, so a crop loses one of them
    image = np.zeros((60, 300), np.uint8)
    image[:, :15] = 255
    image[:, -15:] = 255
    image[20:40, 140:160] = 128
    path = tmp_path / "wide.tif"
    tifffile.imwrite(path, image)
    project = LabelProject.create(tmp_path / "p.json", [path], CLASS_NAMES)
    wizard = make_wizard(project=project)
    wizard.resize(1100, 750)
    wizard.resume()
    assert wizard.currentId() == LABELLING
    labelling = wizard.labelling_page
    labelling.select_row(0)
    qtbot.waitUntil(lambda: wizard.previews.get(path) is not None, timeout=10_000)
    preview = labelling.preview

    def check(when: str) -> None:
        qtbot.wait(50)  # let the layout settle
        left, top, right, bottom = _display_box(preview)
        w, h = right - left, bottom - top
        area = preview.contentsRect()
        assert w <= area.width() and h <= area.height(), when
        # aspect kept (within a pixel or two of rounding) and the image fills one side
        assert abs(w / h - 5.0) < 0.2, f"{when}: drawn {w}x{h}, a 300x60 image"
        assert w >= area.width() - 2 or h >= area.height() - 2, f"{when}: not fitted"
        # both white ends are visible: nothing was cropped away
        grabbed = preview.grab().toImage()
        row = top + h // 2
        for x in (left + 1, right - 2):
            assert grabbed.pixelColor(x, row).lightness() > 200, f"{when}: an end is cropped"

    check("at first")
    splitter = labelling.findChild(QSplitter)
    total = sum(splitter.sizes())
    splitter.setSizes([total - 340, 340])  # the preview pane alone gets narrower
    check("after the splitter moved")
    splitter.setSizes([total // 3, total - total // 3])
    check("after the splitter moved back")
    wizard.resize(800, 600)
    check("after the window shrank")
