"""Page 6: how good is the model — confusion matrix, precision and recall, and its mistakes.

The figures are those of the kept checkpoint on the held-out validation images. The gallery
shows each misclassified validation image with the heat map of the class the model wrongly
chose, so the scientist sees *why* it went wrong (a scale bar, a label, the background …).
Heat maps are computed on a worker with a deep copy of the trained model (one owner per model).

Every validation answer also gets the status the saved model will give (``ok`` / ``unsure``):
with at least `MIN_CALIBRATION_IMAGES` validation images the page fits a temperature and an
``unsure`` threshold on them (`crystalview.inference.calibration`) and stores it in the
model's manifest, so the model saved on the next page answers ``unsure`` where it should. The
figures then come from the split the threshold was chosen on, and the page says so.
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QBrush, QColor, QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QAbstractScrollArea,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWizardPage,
)

from crystalview.core.progress import Progress
from crystalview.gui.wizard.widgets import WARNING_STYLE, message_label, set_message
from crystalview.jobs.mistakes import HEATMAP_THUMB, MistakeView, explain_mistakes

if TYPE_CHECKING:
    from crystalview.gui.wizard.context import WizardContext

log = logging.getLogger(__name__)

MAX_HEATMAPS = 24
FEW_VALIDATION_IMAGES = 30
MIN_CALIBRATION_IMAGES = 30


def _rgb_icon(rgb: np.ndarray) -> QIcon:
    rgb = np.ascontiguousarray(rgb)
    height, width, _ = rgb.shape
    image = QImage(rgb.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()
    return QIcon(QPixmap.fromImage(image))


class EvaluationPage(QWizardPage):
    """Validation figures of the trained model and a gallery of its mistakes with heat maps."""

    def __init__(self, context: WizardContext):
        super().__init__()
        self._context = context
        self._shown_result = None
        self._worker = None
        self.setTitle("6 · Evaluation")
        self.setSubTitle(
            "How the kept model does on the validation images it never trained on. "
            "Rows are the true classes, columns what the model said."
        )
        self.summary_label = QLabel()
        self.summary_label.setTextFormat(Qt.TextFormat.RichText)
        self.summary_label.setStyleSheet("QLabel { font-size: 14px; }")
        self.status_label = QLabel()
        self.status_label.setTextFormat(Qt.TextFormat.RichText)
        self.status_label.setWordWrap(True)
        self.calibration = None
        self.val_status: list[str] = []
        self.cancelled_label = message_label(style=WARNING_STYLE)
        self.matrix_table = QTableWidget()
        self.matrix_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.matrix_table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.scores_table = QTableWidget()
        self.scores_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.scores_table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        for table in (self.matrix_table, self.scores_table):
            table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
            # as tall as the rows need: the free space goes to the gallery of mistakes
            table.setSizeAdjustPolicy(QAbstractScrollArea.SizeAdjustPolicy.AdjustToContents)
        matrix_box = QGroupBox("Confusion matrix (validation images)")
        QVBoxLayout(matrix_box).addWidget(self.matrix_table)
        scores_box = QGroupBox("Per class")
        QVBoxLayout(scores_box).addWidget(self.scores_table)
        tables = QHBoxLayout()
        tables.addWidget(matrix_box, 3)
        tables.addWidget(scores_box, 2)

        self.mistakes_list = QListWidget()
        self.mistakes_list.setViewMode(QListView.ViewMode.IconMode)
        self.mistakes_list.setIconSize(QSize(HEATMAP_THUMB, HEATMAP_THUMB))
        self.mistakes_list.setResizeMode(QListView.ResizeMode.Adjust)
        self.mistakes_list.setMovement(QListView.Movement.Static)
        self.mistakes_list.setWordWrap(True)
        self.mistakes_list.setGridSize(QSize(HEATMAP_THUMB + 40, HEATMAP_THUMB + 56))
        self.mistakes_list.setMinimumHeight(HEATMAP_THUMB + 70)
        self.mistakes_note = QLabel()
        self.mistakes_progress = QProgressBar()
        self.mistakes_progress.setMaximumWidth(200)
        self.mistakes_progress.hide()
        mistakes_box = QGroupBox("Misclassified validation images (heat map of the wrong class)")
        mistakes_layout = QVBoxLayout(mistakes_box)
        note_row = QHBoxLayout()
        note_row.addWidget(self.mistakes_note, 1)
        note_row.addWidget(self.mistakes_progress)
        mistakes_layout.addLayout(note_row)
        mistakes_layout.addWidget(self.mistakes_list)

        layout = QVBoxLayout(self)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.status_label)
        layout.addWidget(self.cancelled_label)
        layout.addLayout(tables)
        layout.addWidget(mistakes_box, 1)

    def initializePage(self) -> None:
        result = self._context.result
        if result is None or result is self._shown_result:
            return
        self._shown_result = result
        self.show_result(result)
        self.explain(result)

    def cleanupPage(self) -> None:
        """Going back keeps what is shown; a new training result refreshes it."""

    # -- figures ----------------------------------------------------------------------------------

    def show_result(self, result) -> None:
        names = list(result.class_names)
        matrix = np.asarray(result.confusion_matrix, dtype=np.int64)
        total = int(matrix.sum())
        text = (
            f"Validation accuracy <b>{result.val_accuracy:.1%}</b> on <b>{total}</b> held-out "
            f"image(s) · best epoch {result.best_epoch} of {len(result.history)}"
        )
        if total < FEW_VALIDATION_IMAGES:
            text += (
                f"<br><i>Only {total} validation images: one more or less right moves the "
                "accuracy a lot. Label more images for figures you can rely on.</i>"
            )
        self.summary_label.setText(text)
        set_message(
            self.cancelled_label,
            f"Training was cancelled — best epoch {result.best_epoch} kept."
            if result.cancelled
            else "",
        )
        self.matrix_table.clear()
        self.matrix_table.setRowCount(len(names))
        self.matrix_table.setColumnCount(len(names))
        self.matrix_table.setHorizontalHeaderLabels([f"→ {n}" for n in names])
        self.matrix_table.setVerticalHeaderLabels(names)
        row_totals = matrix.sum(axis=1)
        for i in range(len(names)):
            for j in range(len(names)):
                count = int(matrix[i, j])
                item = QTableWidgetItem(str(count))
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                share = count / row_totals[i] if row_totals[i] else 0.0
                item.setBackground(QBrush(_cell_colour(share, i == j)))
                item.setToolTip(f"true {names[i]}, predicted {names[j]}: {count}")
                self.matrix_table.setItem(i, j, item)
        self.scores_table.clear()
        self.scores_table.setRowCount(len(names))
        self.scores_table.setColumnCount(3)
        self.scores_table.setHorizontalHeaderLabels(["precision", "recall", "images"])
        self.scores_table.setVerticalHeaderLabels(names)
        for i, name in enumerate(names):
            scores = result.per_class[name]
            values = (f"{scores['precision']:.2f}", f"{scores['recall']:.2f}")
            for j, text in enumerate((*values, str(int(scores["support"])))):
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                self.scores_table.setItem(i, j, item)

        self.show_status(result)

    def show_status(self, result) -> None:
        """Calibrate on the validation answers (when there are enough) and show their status."""
        from crystalview.inference.calibration import (
            UNCALIBRATED_UNSURE_BELOW,
            coverage_at_precision,
            fit_calibration,
        )

        predictions = list(result.val_predictions)
        if not predictions:
            self.status_label.setText("")
            return
        probabilities = np.array([p.probabilities for p in predictions], dtype=np.float64)
        labels = np.array([p.true for p in predictions], dtype=np.int64)
        self.calibration = None
        if len(predictions) >= MIN_CALIBRATION_IMAGES:
            log_probabilities = np.log(np.clip(probabilities, 1e-12, 1.0))  # logits up to a shift
            self.calibration = fit_calibration(
                log_probabilities,
                labels,
                split=f"the wizard's validation images ({len(predictions)}), "
                "the same split as the figures",
            )
            result.manifest.calibration = self.calibration.to_dict()
            probabilities = self.calibration.probabilities(log_probabilities)
            threshold = self.calibration.unsure_below
        else:
            result.manifest.calibration = None
            threshold = UNCALIBRATED_UNSURE_BELOW
        self.val_status = ["ok" if p.max() >= threshold else "unsure" for p in probabilities]
        ok = np.array([s == "ok" for s in self.val_status])
        correct = probabilities.argmax(axis=1) == labels
        ok_text = f"{correct[ok].mean():.1%} of them right" if ok.any() else "none"
        text = (
            f"Status of the validation answers: <b>{ok.sum()}</b> ok ({ok_text}), "
            f"<b>{(~ok).sum()}</b> unsure (below {threshold:.2f})."
        )
        if self.calibration is not None:
            c = self.calibration
            text += (
                f" Calibrated on these images: temperature {c.temperature:.2f}, calibration "
                f"error {c.ece_before:.1%} → {c.ece_after:.1%}; the saved model answers "
                f"unsure below {threshold:.2f}. 98 % right is reached at "
                f"{coverage_at_precision(c.curve, 0.98):.0%} coverage. <i>Chosen on the same "
                "images as these figures: expect a little worse on new images.</i>"
            )
        else:
            text += (
                f" <i>Fewer than {MIN_CALIBRATION_IMAGES} validation images: the model is not "
                "calibrated and uses the default threshold.</i>"
            )
        self.status_label.setText(text)

    def matrix_total(self) -> int:
        """Sum of the counts shown in the confusion matrix table."""
        total = 0
        for i in range(self.matrix_table.rowCount()):
            for j in range(self.matrix_table.columnCount()):
                total += int(self.matrix_table.item(i, j).text())
        return total

    # -- heat maps of the mistakes ----------------------------------------------------------------

    def explain(self, result):
        """Start the heat-map job for the misclassified images (at most `MAX_HEATMAPS`)."""
        from crystalview.models.bundle import LoadedModel

        self.mistakes_list.clear()
        mistakes = [m for m in result.misclassified if m.path is not None]
        if not mistakes:
            self.mistakes_note.setText("No validation image was misclassified.")
            return None
        shown = mistakes[:MAX_HEATMAPS]
        more = len(mistakes) - len(shown)
        self.mistakes_note.setText(
            f"{len(mistakes)} misclassified image(s)"
            + (f"; the first {len(shown)} are shown" if more else "")
            + ". Bright = where the model found evidence for the wrong class."
        )
        loaded = LoadedModel(copy.deepcopy(result.model), result.manifest, Path("trained"))
        names = list(result.class_names)
        statuses = {
            p.index: status
            for p, status in zip(result.val_predictions, self.val_status, strict=False)
        }
        worker = self._context.pool.submit(
            lambda cancel: explain_mistakes(loaded, shown, names, cancel, statuses),
            "Heat maps of the mistakes",
            report_errors=False,
        )
        self._worker = worker
        self.mistakes_progress.setRange(0, len(shown))
        self.mistakes_progress.setValue(0)
        self.mistakes_progress.show()
        worker.progress.connect(self._on_mistake)
        worker.error.connect(lambda error, _tb: log.warning("heat maps failed: %s", error))
        worker.finished.connect(self._on_explained)
        return worker

    def _on_mistake(self, event: Progress) -> None:
        self.mistakes_progress.setValue(event.done)
        view = event.partial
        if not isinstance(view, MistakeView):
            return
        text = (
            f"{view.path.name}\ntrue {view.true_name} → {view.predicted_name} "
            f"({view.confidence:.0%}, {view.status})"
        )
        item = QListWidgetItem(text)
        if view.rgb is not None:
            item.setIcon(_rgb_icon(view.rgb))
        item.setToolTip(f"{view.path}" + (f"\nno heat map: {view.error}" if view.error else ""))
        self.mistakes_list.addItem(item)

    def _on_explained(self) -> None:
        self._worker = None
        self.mistakes_progress.hide()


def _cell_colour(share: float, diagonal: bool) -> QColor:
    """Green for right answers, red for confusions, stronger with the row's share."""
    strength = int(30 + 110 * share) if share > 0 else 0
    if strength == 0:
        return QColor("white")
    if diagonal:
        return QColor(255 - strength, 255 - strength // 4, 255 - strength)
    return QColor(255, 255 - strength, 255 - strength)
