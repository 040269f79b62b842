"""Page 3: label images fast — thumbnails, a large preview, keys 1-9, undo/redo, filters.

The grid is a `QListView` in icon mode over `LabelGridModel`, which shows the project's images
through a filter (all, unlabelled, one class, or "label these next"). Keys 1-9 label the
selected images (one undo step, however many), ``0`` clears, arrows move, and labelling a single
image moves on to the next one, so a scientist can label with one hand on the keyboard. Counts
per class and the project's warnings (tiny or unbalanced classes) stay in view.

After a first training run, "Label these next" runs the trained model over the unlabelled
images on a worker and orders them by how unsure it is, so the next labels teach it most.

"Find duplicates" compares every image's fingerprint (`crystalview.training.groups`) on a worker
and tells how many distinct micrographs (or patterns, for diffraction) the folder really holds
("38 images, 26 distinct micrographs"); the "Near-duplicates" filter shows the twins side by
side, group by group, and "Label these next" then puts one image of each group before its twins
(a twin teaches little).
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import (
    QAbstractListModel,
    QItemSelectionModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QRect,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QImage, QKeySequence, QPainter, QPen, QPixmap, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListView,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from crystalview.core.progress import CancelToken
from crystalview.gui.gallery import (
    BADGE_ROLE,
    MODALITY_ROLE,
    THUMBNAIL_ROLE,
    GalleryDelegate,
    GalleryView,
)
from crystalview.gui.wizard.widgets import (
    ERROR_STYLE,
    GOOD_STYLE,
    WARNING_STYLE,
    message_label,
    set_message,
    swatch_html,
)
from crystalview.jobs.ranking import predict_probabilities

if TYPE_CHECKING:
    from crystalview.gui.wizard.context import WizardContext

log = logging.getLogger(__name__)

PATH_ROLE = Qt.ItemDataRole.UserRole + 20
COLOR_ROLE = Qt.ItemDataRole.UserRole + 21

FILTER_ALL = "all"
FILTER_UNLABELLED = "unlabelled"
FILTER_SUGGESTED = "suggested"
FILTER_DUPLICATES = "duplicates"


class LabelGridModel(QAbstractListModel):
    """The filtered image list of a project, with thumbnails and label badges."""

    def __init__(self, context: WizardContext, parent: QObject | None = None):
        super().__init__(parent)
        self._context = context
        self._paths: list[Path] = []
        self._row_of: dict[Path, int] = {}
        context.thumbnails.ready.connect(self._on_thumbnail)

    @property
    def paths(self) -> list[Path]:
        return list(self._paths)

    def path(self, row: int) -> Path:
        return self._paths[row]

    def row_of(self, path: Path) -> int:
        return self._row_of.get(path, -1)

    def set_paths(self, paths: list[Path]) -> None:
        """Show ``paths``; a change of membership resets the view, a same list only repaints."""
        if paths == self._paths:
            if paths:
                self.dataChanged.emit(self.index(0), self.index(len(paths) - 1))
            return
        self.beginResetModel()
        self._paths = list(paths)
        self._row_of = {p: i for i, p in enumerate(self._paths)}
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._paths)

    def data(self, index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._paths):
            return None
        path = self._paths[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return path.name
        if role == Qt.ItemDataRole.ToolTipRole:
            label = self._context.project.label_of(path)
            return f"{path}\n{'label: ' + label if label else 'unlabelled'}"
        if role == THUMBNAIL_ROLE:
            return self._context.thumbnails.get(path)
        if role in (BADGE_ROLE, COLOR_ROLE):
            name = self._context.project.label_of(path)
            if name is None:
                return None
            color = next(c.color for c in self._context.project.classes if c.name == name)
            return (name, color) if role == BADGE_ROLE else color
        if role == MODALITY_ROLE:
            return None
        if role == PATH_ROLE:
            return path
        return None

    def _on_thumbnail(self, path: Path) -> None:
        row = self.row_of(path)
        if row >= 0:
            index = self.index(row)
            self.dataChanged.emit(index, index, [THUMBNAIL_ROLE])


class LabelDelegate(GalleryDelegate):
    """The gallery's tile, framed in the class colour once labelled (visible at a glance)."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        super().paint(painter, option, index)
        color = index.data(COLOR_ROLE)
        if color:
            painter.save()
            pen = QPen(QColor(color))
            pen.setWidth(4)
            painter.setPen(pen)
            rect = QRect(option.rect).adjusted(3, 3, -3, -3)
            painter.drawRoundedRect(rect, 4, 4)
            painter.restore()


class LabelGridView(GalleryView):
    """Icon grid with the labelling keys: 1-9 label, 0 clears, Ctrl+Z / Ctrl+Shift+Z."""

    label_key = Signal(str)
    undo_requested = Signal()
    redo_requested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setItemDelegate(LabelDelegate(self))
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)

    def keyPressEvent(self, event) -> None:
        text = event.text()
        plain = not (
            event.modifiers()
            & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier)
        )
        if plain and len(text) == 1 and text.isdigit():
            self.label_key.emit(text)
            return
        if event.matches(QKeySequence.StandardKey.Redo) or (
            event.key() == Qt.Key.Key_Z
            and event.modifiers()
            == (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
        ):
            self.redo_requested.emit()
            return
        if event.matches(QKeySequence.StandardKey.Undo):
            self.undo_requested.emit()
            return
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            self.label_key.emit("0")  # clearing a label, never removing the image
            return
        QListView.keyPressEvent(self, event)


class FittedPreview(QLabel):
    """The large preview: the whole image, scaled to fit with its aspect kept, centred.

    The image is scaled when it is painted, to the label's size at that moment, so it fits
    whatever resized the label (the window, the splitter, a caption that wraps onto two
    lines). A pixmap scaled once to the size the label had then would be cropped by the
    label as soon as it shrinks. Without an image the label shows its text.
    """

    def __init__(self, text: str = ""):
        super().__init__(text)
        self._image: QImage | None = None
        self._pixmap: QPixmap | None = None

    def set_image(self, image: QImage | None) -> None:
        self._image = image if image is not None and not image.isNull() else None
        self._pixmap = QPixmap.fromImage(self._image) if self._image is not None else None
        if self._image is not None:
            super().setText("")
        self.update()

    def image(self) -> QImage | None:
        return self._image

    def setText(self, text: str) -> None:
        self.set_image(None)
        super().setText(text)

    def image_rect(self) -> QRect:
        """Where the image is drawn: the largest rectangle of its aspect in the label, centred."""
        area = self.contentsRect()
        if self._pixmap is None or area.isEmpty():
            return QRect()
        size = self._pixmap.size().scaled(area.size(), Qt.AspectRatioMode.KeepAspectRatio)
        rect = QRect(0, 0, size.width(), size.height())
        rect.moveCenter(area.center())
        return rect

    def paintEvent(self, event) -> None:
        if self._pixmap is None:
            super().paintEvent(event)
            return
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#111"))
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawPixmap(self.image_rect(), self._pixmap)
        painter.end()


class LabellingPage(QWizardPage):
    """Thumbnail grid, preview, counts, warnings, filters, undo/redo and "label these next"."""

    def __init__(self, context: WizardContext):
        super().__init__()
        self._context = context
        self._suggested: list[Path] = []
        self._rank_worker = None
        self._rank_token: CancelToken | None = None
        self._group_of: dict[Path, int] = {}
        self._duplicates_worker = None
        self.duplicate_summary = ""
        self.setTitle("3 · Labelling")
        self.setSubTitle(
            "Keys 1-9 label the selected images · 0 clears · arrows move · "
            "Shift/Ctrl-click selects many · Ctrl+Z undo, Ctrl+Shift+Z redo."
        )
        self.model = LabelGridModel(context, self)
        self.view = LabelGridView()
        self.view.setModel(self.model)
        self.view.label_key.connect(self.label_with_key)
        self.view.undo_requested.connect(self.undo)
        self.view.redo_requested.connect(self.redo)
        self.view.selectionModel().currentChanged.connect(self._on_current)
        self.view.setMinimumWidth(420)

        self.filter_box = QComboBox()
        self.filter_box.currentIndexChanged.connect(lambda _i: self.apply_filter())
        self.undo_button = QPushButton("Undo")
        self.redo_button = QPushButton("Redo")
        self.undo_button.setToolTip("Undo the last label change (Ctrl+Z)")
        self.redo_button.setToolTip("Redo (Ctrl+Shift+Z)")
        self.undo_button.clicked.connect(self.undo)
        self.redo_button.clicked.connect(self.redo)
        self.next_button = QPushButton("Label these next")
        self.next_button.setToolTip(
            "Run the model trained on this page's labels over the unlabelled images and show "
            "the ones it is least sure about first: labelling those helps it most."
        )
        self.next_button.clicked.connect(self.rank_by_uncertainty)
        self.rank_progress = QProgressBar()
        self.rank_progress.setMaximumWidth(160)
        self.rank_progress.hide()
        self.duplicates_button = QPushButton("Find duplicates")
        self.duplicates_button.setToolTip(
            "Compare the images and group near-identical ones (shifted copies, re-exports, "
            "overlapping fields). Validation keeps each group on one side, so the accuracy it "
            "reports is for micrographs the model has not seen."
        )
        self.duplicates_button.clicked.connect(self.find_duplicates)
        top = QHBoxLayout()
        top.addWidget(QLabel("Show:"))
        top.addWidget(self.filter_box, 1)
        top.addWidget(self.duplicates_button)
        top.addWidget(self.next_button)
        top.addWidget(self.rank_progress)
        top.addWidget(self.undo_button)
        top.addWidget(self.redo_button)

        self.preview = FittedPreview("Select an image")
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setMinimumSize(320, 320)
        self.preview.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.preview.setStyleSheet("QLabel { background: #111; color: #aaa; }")
        self.preview_caption = QLabel()
        self.preview_caption.setTextFormat(Qt.TextFormat.RichText)
        self.preview_caption.setWordWrap(True)
        self.counts_label = QLabel()
        self.counts_label.setTextFormat(Qt.TextFormat.RichText)
        self.counts_label.setStyleSheet("QLabel { font-size: 13px; }")
        self.warnings_label = message_label()
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.preview, 1)
        right_layout.addWidget(self.preview_caption)
        right_layout.addWidget(self.counts_label)
        right_layout.addWidget(self.warnings_label)
        splitter = QSplitter()
        splitter.addWidget(self.view)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(splitter, 1)

        undo = QShortcut(QKeySequence.StandardKey.Undo, self, self.undo)
        redo = QShortcut(QKeySequence("Ctrl+Shift+Z"), self, self.redo)
        for shortcut in (undo, redo):
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        context.project_changed.connect(self._on_project_changed)
        context.previews.ready.connect(self._on_preview_ready)
        context.training_finished.connect(lambda _result: self._refresh_side())

    # -- page life --------------------------------------------------------------------------------

    def initializePage(self) -> None:
        self._fill_filters()
        self.apply_filter()
        if self.model.rowCount() and not self.view.currentIndex().isValid():
            self.select_row(0)
        self._refresh_side()
        self.view.setFocus()

    def cleanupPage(self) -> None:
        """Going back keeps labels (they are saved already); nothing to reset."""

    def isComplete(self) -> bool:
        # training needs two classes with at least two images each (one to train, one to check)
        used = [count for count in self._context.project.counts().values() if count > 0]
        return len(used) >= 2 and min(used) >= 2

    # -- labelling --------------------------------------------------------------------------------

    def selected_paths(self) -> list[Path]:
        rows = sorted({i.row() for i in self.view.selectionModel().selectedIndexes()})
        if not rows and self.view.currentIndex().isValid():
            rows = [self.view.currentIndex().row()]
        return [self.model.path(r) for r in rows]

    def label_with_key(self, key: str) -> None:
        """Label the selected images with the class of ``key`` ("0" clears); move on after one."""
        project = self._context.project
        if key == "0":
            name = None
        else:
            label_class = project.class_for_key(key)
            if label_class is None:
                return
            name = label_class.name
        paths = self.selected_paths()
        if not paths:
            return
        current = self.view.currentIndex().row()
        following = None
        if len(paths) == 1 and current + 1 < self.model.rowCount():
            following = self.model.path(current + 1)
        project.set_label(paths, name)  # one undo step; the listener refreshes the view
        if following is not None:
            self.select_path(following)
        elif self.model.rowCount() and not self.view.currentIndex().isValid():
            self.select_row(min(current, self.model.rowCount() - 1))

    def undo(self) -> None:
        self._context.project.undo()

    def redo(self) -> None:
        self._context.project.redo()

    def select_row(self, row: int) -> None:
        if 0 <= row < self.model.rowCount():
            self.view.selectionModel().setCurrentIndex(
                self.model.index(row), QItemSelectionModel.SelectionFlag.ClearAndSelect
            )
            self.view.scrollTo(self.model.index(row))

    def select_path(self, path: Path) -> None:
        self.select_row(self.model.row_of(path))

    # -- filters ----------------------------------------------------------------------------------

    def _fill_filters(self) -> None:
        current = self.filter_box.currentData()
        self.filter_box.blockSignals(True)
        self.filter_box.clear()
        self.filter_box.addItem("All images", FILTER_ALL)
        self.filter_box.addItem("Unlabelled", FILTER_UNLABELLED)
        if self._suggested:
            self.filter_box.addItem("Label these next (least certain first)", FILTER_SUGGESTED)
        if self._group_of:
            self.filter_box.addItem("Near-duplicates (grouped)", FILTER_DUPLICATES)
        for label_class in self._context.project.classes:
            self.filter_box.addItem(f"Class: {label_class.name}", f"class:{label_class.name}")
        index = self.filter_box.findData(current)
        self.filter_box.setCurrentIndex(max(0, index))
        self.filter_box.blockSignals(False)

    def set_filter(self, data: str) -> None:
        index = self.filter_box.findData(data)
        if index >= 0:
            self.filter_box.setCurrentIndex(index)

    def filtered_paths(self) -> list[Path]:
        project = self._context.project
        mode = self.filter_box.currentData() or FILTER_ALL
        if mode == FILTER_UNLABELLED:
            return project.unlabelled()
        if mode == FILTER_SUGGESTED:
            open_now = set(project.unlabelled())
            return [p for p in self._suggested if p in open_now]
        if mode == FILTER_DUPLICATES:
            return self.duplicate_paths()
        if mode.startswith("class:"):
            name = mode.removeprefix("class:")
            return project.images_of(name) if name in project.class_names else []
        return project.images

    def apply_filter(self) -> None:
        """Show the images of the current filter, keeping the current image when it stays."""
        current = self.view.currentIndex()
        keep = self.model.path(current.row()) if current.isValid() else None
        old_row = current.row() if current.isValid() else 0
        selected = set(self.selected_paths())
        paths = self.filtered_paths()
        if paths == self.model.paths:
            self.model.set_paths(paths)
            return
        self.model.set_paths(paths)
        if keep is not None and self.model.row_of(keep) >= 0:
            self.select_path(keep)
            for path in selected - {keep}:
                row = self.model.row_of(path)
                if row >= 0:
                    self.view.selectionModel().select(
                        self.model.index(row), QItemSelectionModel.SelectionFlag.Select
                    )
        elif paths:
            self.select_row(min(old_row, len(paths) - 1))
        else:
            self._show_preview(None)

    # -- side panel -------------------------------------------------------------------------------

    def _on_project_changed(self) -> None:
        self._fill_filters()  # classes may have been added, renamed or removed
        self.apply_filter()
        self._refresh_side()
        self._on_current(self.view.currentIndex(), None)

    def _refresh_side(self) -> None:
        project = self._context.project
        counts = project.counts()
        total, labelled = len(project.images), len(project.labels)
        rows = [
            f"<tr><td>{swatch_html(c.color, c.key)}</td><td>&nbsp;{c.name}</td>"
            f"<td align='right'>&nbsp;&nbsp;<b>{counts[c.name]}</b></td></tr>"
            for c in project.classes
        ]
        distinct = f"<br>{self.duplicate_summary}" if self.duplicate_summary else ""
        self.counts_label.setText(
            f"<b>{labelled}</b> of {total} image(s) labelled, "
            f"<b>{total - labelled}</b> to go{distinct}<table>{''.join(rows)}</table>"
        )
        warnings = project.warnings()
        if warnings:
            text = "<b>Before training:</b><br>" + "<br>".join(w.message for w in warnings)
            tiny = any(w.kind in ("tiny", "too_few_classes") for w in warnings)
            set_message(self.warnings_label, text, ERROR_STYLE if tiny else WARNING_STYLE)
        elif project.labels:
            set_message(self.warnings_label, "Every class has enough labels to train.", GOOD_STYLE)
        else:
            set_message(self.warnings_label, "")
        self.undo_button.setEnabled(project.can_undo)
        self.redo_button.setEnabled(project.can_redo)
        self.next_button.setEnabled(
            self._context.result is not None and bool(project.unlabelled()) and not self._ranking
        )
        self.completeChanged.emit()

    def _on_current(self, current, _previous) -> None:
        if current is None or not current.isValid():
            self._show_preview(None)
            return
        self._show_preview(self.model.path(current.row()))

    def _show_preview(self, path: Path | None) -> None:
        if path is None:
            self.preview.setText("No image")
            self.preview_caption.setText("")
            return
        project = self._context.project
        label = project.label_of(path)
        if label is None:
            caption = "<i>unlabelled</i>"
        else:
            cls = next(c for c in project.classes if c.name == label)
            caption = f"{swatch_html(cls.color, cls.key)} <b>{label}</b>"
        self.preview_caption.setText(f"{caption} &nbsp; {path.name}")
        image = self._context.previews.get(path)
        if image is None:
            self.preview.setText("Loading…")
        elif image.isNull():
            self.preview.setText(f"{path.name} cannot be read")
        elif image is not self.preview.image():
            self.preview.set_image(image)  # scaled to fit when painted, on every resize

    def _on_preview_ready(self, path: Path) -> None:
        current = self.view.currentIndex()
        if current.isValid() and self.model.path(current.row()) == path:
            self._show_preview(path)

    # -- "label these next" -----------------------------------------------------------------------

    @property
    def _ranking(self) -> bool:
        return self._rank_worker is not None

    def rank_by_uncertainty(self):
        """Predict the unlabelled images with the trained model; least certain shown first."""
        result = self._context.result
        unlabelled = self._context.project.unlabelled()
        if result is None or not unlabelled or self._ranking:
            return None
        from crystalview.models.bundle import LoadedModel

        loaded = LoadedModel(copy.deepcopy(result.model), result.manifest, Path("trained"))
        worker = self._context.pool.submit(
            lambda cancel: predict_probabilities(loaded, unlabelled, cancel),
            "Ranking unlabelled images",
            report_errors=False,
        )
        self._rank_worker = worker
        self.rank_progress.setRange(0, len(unlabelled))
        self.rank_progress.setValue(0)
        self.rank_progress.show()
        worker.progress.connect(lambda e: self.rank_progress.setValue(e.done))
        worker.result.connect(self._on_ranked)
        worker.error.connect(lambda error, _tb: log.warning("ranking failed: %s", error))
        worker.finished.connect(self._on_rank_finished)
        self._refresh_side()
        return worker

    def _on_ranked(self, probabilities: dict[Path, list[float]]) -> None:
        self._suggested = self._one_per_group_first(
            self._context.project.order_by_uncertainty(probabilities)
        )
        self._fill_filters()
        self.set_filter(FILTER_SUGGESTED)
        self.select_row(0)

    def _on_rank_finished(self) -> None:
        self._rank_worker = None
        self.rank_progress.hide()
        self._refresh_side()

    # -- near-duplicates --------------------------------------------------------------------------

    def find_duplicates(self):
        """Group near-identical images on a worker; the result shows in counts and a filter."""
        paths = list(self._context.project.images)
        if not paths or self._duplicates_worker is not None:
            return None
        worker = self._context.pool.submit(
            lambda cancel: _groups_and_modality(paths, cancel),
            "Finding duplicates",
            report_errors=False,
        )
        self._duplicates_worker = worker
        self.duplicates_button.setEnabled(False)
        self.rank_progress.setRange(0, len(paths))
        self.rank_progress.setValue(0)
        self.rank_progress.show()
        worker.progress.connect(lambda e: self.rank_progress.setValue(e.done))
        worker.result.connect(lambda grouping, p=paths: self._on_duplicates(p, grouping))
        worker.error.connect(lambda error, _tb: log.warning("duplicate search failed: %s", error))
        worker.finished.connect(self._on_duplicates_finished)
        return worker

    def _on_duplicates(self, paths: list[Path], found) -> None:
        grouping, modality = found
        self._group_of = {p: int(g) for p, g in zip(paths, grouping.group_of, strict=True)}
        self.duplicate_summary = f"<b>{grouping.summary(len(paths), modality)}</b>" + (
            f" ({grouping.duplicate_files} images have a near-duplicate)"
            if grouping.duplicate_files
            else " (no near-duplicates)"
        )
        self._fill_filters()
        if grouping.duplicate_files:
            self.set_filter(FILTER_DUPLICATES)
        self._refresh_side()

    def _on_duplicates_finished(self) -> None:
        self._duplicates_worker = None
        self.duplicates_button.setEnabled(True)
        self.rank_progress.hide()

    def duplicate_paths(self) -> list[Path]:
        """Images that have a near-duplicate, group by group (largest groups first)."""
        members: dict[int, list[Path]] = {}
        for path in self._context.project.images:
            if path in self._group_of:
                members.setdefault(self._group_of[path], []).append(path)
        groups = sorted((m for m in members.values() if len(m) > 1), key=len, reverse=True)
        return [p for group in groups for p in group]

    def _one_per_group_first(self, ranked: list[Path]) -> list[Path]:
        """``ranked`` with each group's first image before twins (of it or of labelled images)."""
        if not self._group_of:
            return ranked
        labelled = self._context.project.labels
        seen = {g for p, g in self._group_of.items() if p in labelled}
        first, later = [], []
        for path in ranked:
            group = self._group_of.get(path)
            if group is None or group not in seen:
                first.append(path)
                if group is not None:
                    seen.add(group)
            else:
                later.append(path)
        return first + later


def _groups_and_modality(paths: list[Path], cancel):
    """Near-duplicate groups, and the modality most of the images are read as: a folder of
    diffraction patterns is counted in "distinct patterns", not micrographs."""
    from crystalview.training.data import sniff_modality
    from crystalview.training.groups import find_duplicates

    grouping = yield from find_duplicates(paths, cancel)
    return grouping, sniff_modality([(path, None) for path in paths])
