"""Results dock: what the model said about the image on screen, and the CSV export.

For the current image it shows the predicted class and confidence with the answer's status
(``ok``; ``unsure``, drawn in grey as a best guess, never in a class colour; ``not-this-kind``,
with the reason and no class at all), a bar chart of the class
probabilities, the per-tile table (selecting a row outlines that tile in the viewer), and the
per-tile class overlay on the viewer (`crystalview.gui.tile_classes`) with a legend, a toggle
and an opacity slider (for tiled results only: one whole-image tile would merely tint the
image). Predictions live on the image entries (see
`crystalview.gui.docks.model.ModelDock.prediction_for`), so switching images shows each one's
own result. "Export results (CSV)…" writes the same columns as ``crystalview classify``.
"""

from __future__ import annotations

import csv
import html
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QColor, QFontMetrics
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QSlider,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from crystalview.gui.tile_classes import TileClassLayer, TileHighlight, class_colour
from crystalview.gui.viewer import ImageViewer
from crystalview.jobs.library import ImageEntry

if TYPE_CHECKING:
    from crystalview.inference.predict import ImagePrediction

OVERLAY_LAYER = "tile-classes"
HIGHLIGHT_LAYER = "tile-highlight"
PREDICTION_KEY = "prediction"
"""Key of an entry's latest `ImagePrediction` in ``ImageEntry.extra``."""
NEUTRAL_COLOUR = "#8a8a8a"
"""Bars and text of an answer that is not ``ok``."""


def prediction_of(entry: ImageEntry | None) -> ImagePrediction | None:
    """The latest prediction stored on ``entry`` (None when it was never classified)."""
    return None if entry is None else entry.extra.get(PREDICTION_KEY)


def write_results_csv(path: str | os.PathLike, entries: Iterable[ImageEntry]) -> int:
    """Write one row per classified entry; returns the number of rows.

    Entries classified by models with different classes share one file: the ``p_`` columns are
    the union of the classes in order of first appearance, blank where a model lacks a class.
    """
    rows = [(entry, prediction_of(entry)) for entry in entries]
    rows = [(entry, prediction) for entry, prediction in rows if prediction is not None]
    classes: list[str] = []
    for _entry, prediction in rows:
        classes.extend(name for name in prediction.class_names if name not in classes)
    from crystalview.batch.records import csv_cells, record_from_prediction, result_columns

    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(result_columns(classes))  # the columns of ``crystalview classify``
        for entry, prediction in rows:
            record = record_from_prediction(entry.path, prediction, entry.modality)
            writer.writerow(csv_cells(record, classes))
    return len(rows)


def summary_html(prediction: ImagePrediction) -> str:
    """The dock's headline for a prediction: the verdict only when its status is ``ok``."""
    tiles = "whole image" if prediction.n_tiles == 1 else f"{prediction.n_tiles} tiles"
    label = html.escape(prediction.label)
    reason = html.escape(prediction.status_reason)
    if prediction.status == "not-this-kind":
        headline = (
            f"<span style='color:{NEUTRAL_COLOUR}; font-size:large'><b>Not this kind of "
            f"image</b></span><br><small>{reason}. The model's classes do not apply; its "
            f"output ({label} {prediction.confidence:.0%}) is shown in grey for reference "
            "only.</small>"
        )
    elif prediction.status == "unsure":
        headline = (
            f"<span style='color:{NEUTRAL_COLOUR}; font-size:large'><b>Unsure</b></span>"
            f" &nbsp;best guess {label} {prediction.confidence:.1%}<br><small>{reason}</small>"
        )
    else:
        colour = class_colour(prediction.class_names.index(prediction.label)).name()
        headline = (
            f"<span style='color:{colour}; font-size:large'><b>{label}</b></span>"
            f" &nbsp;{prediction.confidence:.1%} &nbsp;<small>ok</small>"
        )
    calibrated = "calibrated" if prediction.calibrated else "not calibrated"
    return (
        f"{headline}<br><small>{html.escape(prediction.model_name)} ({calibrated}) · {tiles}"
        f" · {prediction.device}</small>"
    )


class TileTableModel(QAbstractTableModel):
    """Rows of (tile index, box, label, confidence) for one prediction."""

    HEADERS = ("Tile", "Box y0,x0,y1,x1", "Label", "Conf.")

    def __init__(self, parent=None):
        super().__init__(parent)
        self._boxes = np.zeros((0, 4), dtype=np.int64)
        self._labels = np.zeros(0, dtype=np.int64)
        self._confidence = np.zeros(0, dtype=np.float32)
        self._classes: list[str] = []
        self._neutral = False

    def set_prediction(self, prediction: ImagePrediction | None) -> None:
        self.beginResetModel()
        if prediction is None:
            self._boxes = np.zeros((0, 4), dtype=np.int64)
            self._labels = np.zeros(0, dtype=np.int64)
            self._confidence = np.zeros(0, dtype=np.float32)
            self._classes = []
        else:
            probabilities = np.asarray(prediction.tile_probabilities)
            self._boxes = np.asarray(prediction.tile_boxes)
            self._labels = probabilities.argmax(axis=1)
            self._confidence = probabilities.max(axis=1)
            self._classes = list(prediction.class_names)
        # tiles of an answer that is not ok are no verdict either: no class colours
        self._neutral = prediction is not None and prediction.status != "ok"
        self.endResetModel()

    def box(self, row: int) -> np.ndarray:
        return self._boxes[row]

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._boxes)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(self, section: int, orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.HEADERS[section]
        return None

    def data(self, index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row, column = index.row(), index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return str(row)
            if column == 1:
                return ",".join(str(int(v)) for v in self._boxes[row])
            if column == 2:
                return self._classes[int(self._labels[row])]
            return f"{float(self._confidence[row]):.1%}"
        if role == Qt.ItemDataRole.DecorationRole and column == 2:
            if self._neutral:
                return QColor(NEUTRAL_COLOUR)
            return class_colour(int(self._labels[row]))
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (0, 3):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class ProbabilityChart(pg.PlotWidget):
    """Bar chart of class probabilities, class names on the x axis, colours by class."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setBackground(None)
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        self.setYRange(0, 1, padding=0)
        self.setLabel("left", "probability")
        self.showGrid(y=True, alpha=0.3)
        self.setMinimumHeight(140)
        self.bars: pg.BarGraphItem | None = None
        self.neutral = False
        self._names: list[str] = []

    def set_probabilities(
        self, class_names: list[str], values: list[float], neutral: bool = False
    ) -> None:
        """Bars of ``values``; ``neutral`` draws them all grey (an answer that is not ``ok``)."""
        if self.bars is not None:
            self.removeItem(self.bars)
            self.bars = None
        axis = self.getAxis("bottom")
        self._names = list(class_names)
        if not class_names:
            axis.setTicks([[]])
            self.setToolTip("")
            return
        x = np.arange(len(class_names), dtype=float)
        brushes = [
            pg.mkBrush(NEUTRAL_COLOUR if neutral else class_colour(i))
            for i in range(len(class_names))
        ]
        self.neutral = neutral
        self.bars = pg.BarGraphItem(
            x=x, height=np.asarray(values, dtype=float), width=0.7, brushes=brushes
        )
        self.addItem(self.bars)
        self._update_ticks()
        pairs = zip(class_names, values, strict=False)
        self.setToolTip("\n".join(f"{name}: {value:.1%}" for name, value in pairs))
        self.setXRange(-0.6, len(class_names) - 0.4, padding=0)
        self.setYRange(0, 1, padding=0)

    def tick_labels(self) -> list[str]:
        """The class names as drawn under the bars (shortened to the room each bar has)."""
        ticks = self.getAxis("bottom")._tickLevels
        return [text for _x, text in ticks[0]] if ticks else []

    def _update_ticks(self) -> None:
        # Each name gets the width of its bar slot; longer names are elided ("orthorho…"), the
        # tooltip has them in full. Recomputed when the dock is resized.
        names = self.__dict__.get("_names")  # resize events arrive during __init__ too
        if not names:
            return
        axis = self.getAxis("bottom")
        metrics = QFontMetrics(axis.style.get("tickFont") or self.font())
        plot_width = self.getViewBox().width() or self.width()
        room = max(24, int(plot_width / len(names)) - 6)
        axis.setTicks(
            [
                [
                    (float(i), metrics.elidedText(name, Qt.TextElideMode.ElideRight, room))
                    for i, name in enumerate(names)
                ]
            ]
        )

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._update_ticks()

    def heights(self) -> list[float]:
        """The bar heights shown (for tests and screenshots)."""
        if self.bars is None:
            return []
        return [float(v) for v in self.bars.opts["height"]]


class ResultsDock(QWidget):
    """Shows the prediction of the current image and controls the per-tile class overlay.

    Signals
    -------
    tile_selected(int)
        Row of the tile chosen in the table (-1 when the selection is cleared).
    message(str)
        A short note for the status bar (export written, nothing to export).
    """

    tile_selected = Signal(int)
    message = Signal(str)

    def __init__(self, viewer: ImageViewer, parent: QWidget | None = None):
        super().__init__(parent)
        self.viewer = viewer
        self.entry: ImageEntry | None = None
        self.entries_for_export: Callable[[], Iterable[ImageEntry]] = list

        self.summary = QLabel("No result yet: run a model from the Model dock.")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.chart = ProbabilityChart()

        self.overlay_box = QCheckBox("Class overlay")
        self.overlay_box.setChecked(True)
        self.overlay_box.setToolTip("Colour every tile by its predicted class")
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setValue(40)
        self.opacity_slider.setToolTip("Overlay opacity")
        self.legend = QLabel()
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setWordWrap(True)

        self.table_model = TileTableModel(self)
        self.table = QTableView()
        self.table.setModel(self.table_model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)  # class names vary most
        header.setStretchLastSection(False)
        # size columns from the first rows only: measuring thousands of tiles would stall the GUI
        header.setResizeContentsPrecision(64)
        self.table.selectionModel().currentRowChanged.connect(self._on_row_changed)

        self.export_button = QPushButton("Export results (CSV)…")
        self.export_button.setToolTip(
            "Save label, confidence and class probabilities of every classified image"
        )
        self.export_button.clicked.connect(self.export_dialog)

        overlay_row = QHBoxLayout()
        overlay_row.addWidget(self.overlay_box)
        overlay_row.addWidget(QLabel("Opacity"))
        overlay_row.addWidget(self.opacity_slider, 1)
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(self.summary)
        top_layout.addWidget(self.chart, 1)
        top_layout.addLayout(overlay_row)
        top_layout.addWidget(self.legend)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(top)
        splitter.addWidget(self.table)
        splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.export_button)

        self.overlay = TileClassLayer()
        self.highlight = TileHighlight()
        viewer.add_layer(OVERLAY_LAYER, self.overlay, z=15)
        viewer.add_layer(HIGHLIGHT_LAYER, self.highlight, z=25)
        self.overlay_box.toggled.connect(self._apply_overlay_style)
        self.opacity_slider.valueChanged.connect(self._apply_overlay_style)
        self.show_entry(None)

    # -- showing -------------------------------------------------------------------------------

    def show_entry(self, entry: ImageEntry | None) -> None:
        """Show ``entry``'s stored prediction (or say that there is none)."""
        self.entry = entry
        prediction = prediction_of(entry)
        self.highlight.hide()
        self.table_model.set_prediction(prediction)
        if prediction is None:
            self.summary.setText(
                "No image."
                if entry is None
                else "Not classified yet: run a model from the Model dock."
            )
            self.chart.set_probabilities([], [])
            self.overlay.clear_tiles()
            self.legend.setText("")
            self._apply_overlay_style()
            return
        self.summary.setText(summary_html(prediction))
        self.chart.set_probabilities(
            list(prediction.class_names),
            [prediction.probabilities[name] for name in prediction.class_names],
            neutral=prediction.status != "ok",
        )
        self.legend.setText(
            " ".join(
                f"<span style='background:{class_colour(i).name()}'>&nbsp;&nbsp;&nbsp;</span>"
                f"&nbsp;{html.escape(name)}&nbsp;&nbsp;"
                for i, name in enumerate(prediction.class_names)
            )
        )
        self.overlay.show_tiles(prediction.tile_boxes, prediction.tile_probabilities, entry.shape)
        self._apply_overlay_style()

    def update_entry(self, entry: ImageEntry) -> None:
        """A new prediction arrived for ``entry``: refresh if it is the one shown."""
        if entry is self.entry:
            self.show_entry(entry)

    def _apply_overlay_style(self, *_args) -> None:
        prediction = prediction_of(self.entry)
        # one tile covering the whole image would only tint it: the summary says it all
        tiled = prediction is not None and prediction.n_tiles > 1
        visible = self.overlay_box.isChecked() and tiled
        self.viewer.set_layer_visible(OVERLAY_LAYER, visible)
        self.viewer.set_layer_opacity(OVERLAY_LAYER, self.opacity_slider.value() / 100.0)

    def _on_row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not current.isValid():
            self.highlight.hide()
            self.tile_selected.emit(-1)
            return
        self.highlight.show_box(self.table_model.box(current.row()))
        self.tile_selected.emit(current.row())

    def select_tile(self, row: int) -> None:
        """Select tile ``row`` in the table (and outline it in the viewer)."""
        self.table.selectRow(row)

    # -- export --------------------------------------------------------------------------------

    def export_dialog(self) -> None:
        entries = list(self.entries_for_export())
        if not any(prediction_of(e) is not None for e in entries):
            self.message.emit("Nothing to export yet: run a model first.")
            return
        path, _ = QFileDialog.getSaveFileName(
            self, "Export results", str(Path.home() / "crystalview-results.csv"), "CSV (*.csv)"
        )
        if not path:
            return
        try:
            count = write_results_csv(path, entries)
        except OSError as error:
            QMessageBox.warning(
                self,
                "Export failed",
                f"The results could not be written to {path}: {error.strerror or error}. "
                "Choose a folder you can write to.",
            )
            return
        self.message.emit(f"Wrote {count} result(s) to {path}")
