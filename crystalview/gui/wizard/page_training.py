"""Page 5: training on a worker, with live curves, epoch progress, time left and Cancel.

The run starts when the page opens (or with "Train again"). `train_model` gets its own
`CancelToken`, not the worker's: cancelling asks the loop to stop after the current batch and
still *return* the best checkpoint so far, whereas cancelling the worker would throw that result
away. Closing the wizard cancels both and waits for the thread.
"""

from __future__ import annotations

import logging
import re
import time
from typing import TYPE_CHECKING

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWizard,
    QWizardPage,
)

from crystalview.core.errors import CrystalViewError
from crystalview.core.progress import CancelToken, Progress
from crystalview.gui.wizard.widgets import (
    ERROR_STYLE,
    GOOD_STYLE,
    WARNING_STYLE,
    message_label,
    set_message,
)
from crystalview.training import EpochMetrics, TrainingConfig
from crystalview.training.config import RECOMMENDED

if TYPE_CHECKING:
    from crystalview.gui.wizard.context import WizardContext
    from crystalview.gui.wizard.page_model import ModelPage

log = logging.getLogger(__name__)

TRAIN_COLOR = "#1f77b4"
VAL_COLOR = "#ff7f0e"
BAR_FORMAT = "%p%"
EPOCH_MESSAGE = re.compile(r"Epoch (\d+)/(\d+)")


def format_seconds(seconds: float) -> str:
    """``"45 s"``, ``"3 min 05 s"``: a time left a person reads at a glance."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    return f"{seconds // 60} min {seconds % 60:02d} s"


def validation_html(result) -> str:
    """The honest summary: distinct images, validation with interval and how, the choice,
    and every warning (a class from one series, too few groups, shrunk images)."""
    parts = []
    report = result.validation
    if report is not None:
        low, high = report.interval
        how = f"{report.folds}-fold by group" if report.folds > 1 else report.method
        parts.append(
            f"validation accuracy <b>{report.accuracy:.1%}</b> (95 % CI {low:.0%}–{high:.0%}) "
            f"on {report.n_images} images from {report.n_groups} groups, {how}."
        )
    else:
        parts.append(f"validation accuracy <b>{result.val_accuracy:.1%}</b>.")
    if result.data_summary:
        parts.append(f"Data: {result.data_summary}.")
    recommended = result.manifest.provenance.get("recommended")
    if recommended:
        parts.append(
            f"Chosen: <b>{recommended['chosen']}</b> — {recommended['reason']}; final model "
            f"trained on {recommended['final_training']}."
        )
    parts += [f"⚠ {w}" for w in result.warnings]
    return "<br>".join(parts)


def _curve_plot(title: str, y_label: str) -> pg.PlotWidget:
    plot = pg.PlotWidget(background="w")
    plot.setTitle(title, color="#222", size="11pt")
    plot.setLabel("bottom", "epoch")
    plot.setLabel("left", y_label)
    # Losses and accuracies are plain numbers: no "(x0.001)" rescaling of the tick labels.
    plot.getAxis("left").enableAutoSIPrefix(False)
    plot.showGrid(x=True, y=True, alpha=0.25)
    plot.addLegend(offset=(-10, 10))
    plot.setMinimumHeight(200)
    return plot


def _curve(plot: pg.PlotWidget, color: str, name: str) -> pg.PlotDataItem:
    """An empty line with dots at the epochs, in one colour (line and dots alike)."""
    return plot.plot(
        [],
        [],
        pen=pg.mkPen(color, width=2),
        symbol="o",
        symbolSize=6,
        symbolBrush=color,
        symbolPen=color,
        name=name,
    )


def run_training(samples, class_names, config: TrainingConfig, cancel: CancelToken):
    """The worker's job: threads set once (one core left to the GUI), then the training loop."""
    from crystalview.inference import configure_threads
    from crystalview.training import train_model

    configure_threads()
    if config.base == RECOMMENDED:
        from crystalview.training.auto import AutoOptions, train_recommended

        options = AutoOptions.from_config(config)
        return (yield from train_recommended(samples, class_names, options, cancel))
    return (yield from train_model(samples, class_names, config, cancel))


class TrainingPage(QWizardPage):
    """Runs the training and draws its loss and accuracy curves as epochs finish."""

    def __init__(self, context: WizardContext, model_page: ModelPage):
        super().__init__()
        self._context = context
        self._model_page = model_page  # the settings a run trains with
        self._worker = None
        self._token: CancelToken | None = None
        self._history: list[EpochMetrics] = []
        self._trial = ""  # the candidate the recommended choice is training now
        self._started = 0.0
        self._first_batch: tuple[float, int] | None = None
        # the last epoch progress (done, total, planned epochs): where a cancelled run stopped
        self._epoch_progress: tuple[int, int, int] | None = None
        self.setTitle("5 · Training")
        self.setSubTitle(
            "The model trains on most of your labelled images and is checked on the held-out "
            "rest after every epoch. The best epoch is kept."
        )
        self.loss_plot = _curve_plot("Loss", "loss")
        self.acc_plot = _curve_plot("Accuracy", "accuracy")
        self.acc_plot.setYRange(0, 1.0)
        self.train_loss = _curve(self.loss_plot, TRAIN_COLOR, "training")
        self.val_loss = _curve(self.loss_plot, VAL_COLOR, "validation")
        self.train_acc = _curve(self.acc_plot, TRAIN_COLOR, "training")
        self.val_acc = _curve(self.acc_plot, VAL_COLOR, "validation")
        plots = QHBoxLayout()
        plots.addWidget(self.loss_plot)
        plots.addWidget(self.acc_plot)

        self.progress_bar = QProgressBar()
        self.progress_bar.setTextVisible(True)
        self.step_label = QLabel()
        self.step_label.setMinimumWidth(300)
        self.status_label = QLabel()
        self.status_label.setTextFormat(Qt.TextFormat.RichText)
        self.time_label = QLabel()
        self.cancel_button = QPushButton("Cancel training")
        self.cancel_button.setToolTip("Stop after this batch and keep the best epoch so far.")
        self.cancel_button.clicked.connect(self.cancel_training)
        self.again_button = QPushButton("Train again")
        self.again_button.clicked.connect(self.start_training)
        row = QHBoxLayout()
        row.addWidget(self.step_label)
        row.addWidget(self.progress_bar, 1)
        row.addWidget(self.time_label)
        row.addWidget(self.cancel_button)
        row.addWidget(self.again_button)
        self.outcome_label = message_label()
        layout = QVBoxLayout(self)
        layout.addLayout(plots, 1)
        layout.addLayout(row)
        layout.addWidget(self.status_label)
        layout.addWidget(self.outcome_label)

    # -- page life --------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._worker is not None

    def initializePage(self) -> None:
        if self.running:
            return
        # train again when the settings or the labels changed since the last run
        if self._context.result is None or self._context.result_key != self._run_key():
            self.start_training()
        else:
            self._update_buttons()

    def cleanupPage(self) -> None:
        """Going back stops a run in progress (its best epoch is still kept)."""
        self.cancel_training()

    def isComplete(self) -> bool:
        return self._context.result is not None and not self.running

    def _run_key(self) -> tuple:
        """What a run depends on: the settings, the labelled images and the class names."""
        samples, names = self._context.project.samples()
        return self._model_page.config(), samples, names

    # -- running ----------------------------------------------------------------------------------

    def start_training(self) -> None:
        if self.running:
            return
        key = self._run_key()
        config, samples, names = key
        self._context.result = None
        self._context.result_key = None
        self._history = []
        self._trial = ""
        self._redraw()
        self._token = CancelToken()
        token = self._token
        self._started = time.monotonic()
        self._first_batch = None
        self._epoch_progress = None
        worker = self._context.pool.submit(
            lambda _worker_token: run_training(samples, names, config, token),
            "Training",
            report_errors=False,
        )
        self._worker = worker
        worker.progress.connect(self._on_progress)
        worker.result.connect(lambda result, k=key: self._on_result(result, k))
        worker.error.connect(self._on_error)
        worker.cancelled.connect(self._on_cancelled_early)
        worker.finished.connect(self._on_finished)
        self.progress_bar.setFormat(BAR_FORMAT)
        self.progress_bar.setRange(0, 0)
        self.step_label.setText("Reading the images…")
        self.time_label.setText("")
        for plot in (self.loss_plot, self.acc_plot):  # the axis shows the whole planned run
            plot.enableAutoRange(x=False)
            plot.setXRange(1, max(2, config.epochs), padding=0.02)
        set_message(self.outcome_label, "")
        if config.base == RECOMMENDED:
            budget = config.budget_s or 240
            self.status_label.setText(
                f"Choosing a recipe for <b>{len(samples)}</b> images of {len(names)} classes: "
                f"trying candidates on a group-aware split for up to {budget / 60:.0f} min, "
                "then training the best on all images."
            )
        else:
            self.status_label.setText(
                f"Training <b>{len(samples)}</b> images of {len(names)} classes from "
                f"<b>{self._model_page.current_choice().text}</b>, strategy "
                f"<b>{config.strategy}</b>, up to {config.epochs} epochs."
            )
        self._update_buttons()
        self.completeChanged.emit()  # no result and a run going: Next waits for its end

    def cancel_training(self) -> None:
        """Ask the run to stop after the current batch, keeping the best epoch so far."""
        if self._token is not None and self.running:
            self._token.cancel()
            self.step_label.setText("Stopping after this batch…")

    def _on_progress(self, event: Progress) -> None:
        # The recommended choice trains one candidate after another: each gets fresh curves.
        trial = event.message.split(" — ")[0]
        if trial.startswith(("Trying ", "Training ")) and trial != self._trial:
            self._trial = trial
            self._history = []
            self._redraw()
        if isinstance(event.partial, EpochMetrics):
            self._history.append(event.partial)
            self._redraw()
        epoch = EPOCH_MESSAGE.search(event.message)
        if epoch is not None and event.total > 0:
            self._epoch_progress = (min(event.done, event.total), event.total, int(epoch[2]))
        if event.total > 0:
            self.progress_bar.setRange(0, event.total)
            self.progress_bar.setValue(min(event.done, event.total))
        if not (self._token is not None and self._token.cancelled):
            self.step_label.setText(event.message)
        if event.message.startswith("Epoch") and event.total:
            self._update_time_left(event)

    def _update_time_left(self, event: Progress) -> None:
        now = time.monotonic()
        if self._first_batch is None:  # reading and caching are over: estimate from here
            self._first_batch = (now, event.done)
            return
        start, done0 = self._first_batch
        if event.done > done0 and now > start:
            rate = (event.done - done0) / (now - start)
            self.time_label.setText(
                f"about {format_seconds((event.total - event.done) / rate)} left"
            )

    def _redraw(self) -> None:
        epochs = [m.epoch for m in self._history]
        self.train_loss.setData(epochs, [m.train_loss for m in self._history])
        self.train_acc.setData(epochs, [m.train_acc for m in self._history])
        validated = [m for m in self._history if m.validated]  # none in a final all-image run
        self.val_loss.setData([m.epoch for m in validated], [m.val_loss for m in validated])
        self.val_acc.setData([m.epoch for m in validated], [m.val_acc for m in validated])

    def _on_result(self, result, key: tuple) -> None:
        self._context.result = result
        self._context.result_key = key
        elapsed = format_seconds(result.train_seconds)
        if result.cancelled:
            text = (
                f"<b>Cancelled — best epoch {result.best_epoch} kept</b> (validation accuracy "
                f"{result.val_accuracy:.1%}). You can evaluate and save it, or train again."
            )
            set_message(self.outcome_label, text, WARNING_STYLE)
        else:
            epochs = (
                f"best epoch {result.best_epoch} of {len(result.history)}, "
                if result.history
                else ""
            )
            text = f"<b>Finished</b> in {elapsed}: {epochs}" + validation_html(result)
            set_message(self.outcome_label, text, WARNING_STYLE if result.warnings else GOOD_STYLE)
        if result.skipped_files:
            names = ", ".join(str(p) for p, _ in result.skipped_files[:5])
            self.outcome_label.setText(
                self.outcome_label.text()
                + f"<br>{len(result.skipped_files)} image(s) could not be read and were left "
                f"out: {names}"
            )
        if result.cancelled:
            self._show_where_stopped()
        else:
            self.progress_bar.setFormat(BAR_FORMAT)
            self.progress_bar.setRange(0, 1)
            self.progress_bar.setValue(1)
        self.step_label.setText("Cancelled" if result.cancelled else "Done")
        self.time_label.setText("")
        self._context.training_finished.emit(result)

    def _on_error(self, error: Exception, details: str) -> None:
        if isinstance(error, CrystalViewError):
            message = str(error)
        else:
            log.error("training failed unexpectedly:\n%s", details)
            message = f"Training failed because of an unexpected error: {error}"
        set_message(self.outcome_label, f"<b>Training failed.</b> {message}", ERROR_STYLE)
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.step_label.setText("Failed")
        if not self._context.closing:
            box = QMessageBox(QMessageBox.Icon.Warning, "Training failed", message, parent=self)
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.setModal(False)
            box.show()

    def _on_cancelled_early(self) -> None:
        set_message(
            self.outcome_label,
            "Cancelled before the first epoch finished — there is no model to keep yet.",
            WARNING_STYLE,
        )
        self._show_where_stopped()
        self.step_label.setText("Cancelled")

    def _show_where_stopped(self) -> None:
        """A cancelled run's bar stays at the batch it reached and says so, never 100 %."""
        epochs_done = self._history[-1].epoch if self._history else 0
        if self._epoch_progress is None:
            self.progress_bar.setRange(0, 1)
            self.progress_bar.setValue(0)
            self.progress_bar.setFormat("Cancelled before the first epoch")
            return
        done, total, planned = self._epoch_progress
        self.progress_bar.setRange(0, total)
        self.progress_bar.setValue(done)
        self.progress_bar.setFormat(f"Cancelled after epoch {epochs_done} of {planned} (%p%)")

    def _on_finished(self) -> None:
        self._worker = None
        self._token = None
        self._update_buttons()
        self.completeChanged.emit()

    def _update_buttons(self) -> None:
        self.cancel_button.setEnabled(self.running)
        self.again_button.setEnabled(not self.running)
        wizard = self.wizard()
        if wizard is not None and wizard.currentPage() is self:
            back = wizard.button(QWizard.WizardButton.BackButton)
            back.setEnabled(not self.running)
