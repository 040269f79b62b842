"""The gallery: every open image as a tiled grid of thumbnails (Qt model/view).

Thumbnails are made lazily: the view asks the model only for the items on screen, the model
asks the `ThumbnailService` for the ones it lacks, and the service computes them on worker
threads, most recently requested first (what the user scrolled to). Uniform item sizes keep
layout cost flat, so a thousand images scroll smoothly.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QRect,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QPalette, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QListView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
)

from crystalview.core.progress import CancelToken
from crystalview.core.units import format_pixel_size
from crystalview.gui.workers import WorkerPool
from crystalview.jobs.library import ImageEntry

THUMB_SIZE = 128
_TEXT_HEIGHT = 20
_PADDING = 6
# The modality tag shrinks to no less than this (a few letters) to leave a result badge whole.
_MIN_MODALITY_ROOM = 40

ENTRY_ROLE = Qt.ItemDataRole.UserRole + 1
MODALITY_ROLE = Qt.ItemDataRole.UserRole + 2
BADGE_ROLE = Qt.ItemDataRole.UserRole + 3
"""``(text, colour name)`` of a prediction badge, or ``None``; drawn top-right by the delegate."""
THUMBNAIL_ROLE = Qt.ItemDataRole.UserRole + 4

# Badges of answers that are not a verdict: neutral, never a class colour.
UNSURE_COLOUR = "#7a7a7a"
NOT_THIS_KIND_COLOUR = "#3a3a3a"


def prediction_badge(prediction) -> tuple[str, str]:
    """The gallery badge ``(text, colour)`` of an `ImagePrediction`, by its status.

    ``ok``: the label and its probability in the class colour; ``unsure``: the best guess with
    a question mark, in grey (never the class colour); ``not-this-kind``: "not this kind" in
    dark grey, no class at all.
    """
    from crystalview.gui.tile_classes import class_colour

    status = getattr(prediction, "status", "ok")
    if status == "not-this-kind":
        return "not this kind", NOT_THIS_KIND_COLOUR
    if status == "unsure":
        return f"{prediction.label}? {prediction.confidence:.0%}", UNSURE_COLOUR
    index = prediction.class_names.index(prediction.label)
    return f"{prediction.label} {prediction.confidence:.0%}", class_colour(index).name()


def thumbnail_array(entry: ImageEntry, max_size: int = THUMB_SIZE) -> np.ndarray:
    """A 2-D float 0..1 thumbnail for ``entry``: from its pixels if in memory, else the file."""
    from crystalview.io import read_thumbnail
    from crystalview.io.display import auto_levels, to_display

    micrograph = entry.micrograph
    if micrograph is None and entry.dataset_index == 0:
        return read_thumbnail(entry.path, max_size=max_size)
    if micrograph is None:
        from crystalview.jobs.library import reload_micrograph

        micrograph = reload_micrograph(entry)
    image = np.asarray(micrograph.image)
    step = max(1, int(np.ceil(max(image.shape) / max_size)))
    small = image[::step, ::step]
    return to_display(
        small, auto_levels(small, micrograph.is_diffraction), micrograph.is_diffraction
    )


def to_qimage(array: np.ndarray) -> QImage:
    """8-bit greyscale QImage owning its pixels (safe to make on a worker thread)."""
    grey = np.ascontiguousarray(np.clip(array * 255.0 + 0.5, 0, 255).astype(np.uint8))
    height, width = grey.shape
    return QImage(grey.data, width, height, width, QImage.Format.Format_Grayscale8).copy()


class GalleryModel(QAbstractListModel):
    """The list of open images. Emits ``thumbnail_wanted`` for shown items lacking one."""

    thumbnail_wanted = Signal(object)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._entries: list[ImageEntry] = []
        self._row_of: dict[int, int] = {}
        self._thumbnails: dict[int, QImage] = {}
        self._requested: set[int] = set()

    # -- Qt model interface -------------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._entries)

    def data(self, index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._entries):
            return None
        entry = self._entries[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return entry.name
        if role == Qt.ItemDataRole.ToolTipRole:
            height, width = entry.shape
            scale = (
                format_pixel_size(entry.pixel_size, entry.pixel_unit)
                if entry.pixel_size
                else "no scale"
            )
            return f"{entry.path}\n{entry.modality}, {width} x {height} px {entry.dtype}, {scale}"
        if role in (THUMBNAIL_ROLE, Qt.ItemDataRole.DecorationRole):
            image = self._thumbnails.get(id(entry))
            if image is None and id(entry) not in self._requested:
                self._requested.add(id(entry))
                self.thumbnail_wanted.emit(entry)
            return image
        if role == ENTRY_ROLE:
            return entry
        if role == MODALITY_ROLE:
            return entry.modality
        if role == BADGE_ROLE:
            return entry.badge
        return None

    # -- editing ------------------------------------------------------------------------------

    @property
    def entries(self) -> list[ImageEntry]:
        return list(self._entries)

    def entry(self, row: int) -> ImageEntry:
        return self._entries[row]

    def row_of(self, entry: ImageEntry) -> int:
        return self._row_of.get(id(entry), -1)

    def add_entries(self, entries: Iterable[ImageEntry]) -> list[ImageEntry]:
        """Append entries not already open (same file and dataset); returns those added."""
        known = {e.key for e in self._entries}
        new = []
        for entry in entries:
            if entry.key not in known:
                known.add(entry.key)
                new.append(entry)
        if new:
            first = len(self._entries)
            self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
            self._entries.extend(new)
            self._reindex()
            self.endInsertRows()
        return new

    def remove_entries(self, entries: Iterable[ImageEntry]) -> None:
        doomed = {id(e) for e in entries}
        rows = sorted((self._row_of[i] for i in doomed if i in self._row_of), reverse=True)
        for row in rows:  # one contiguous-row call each keeps the view's selection model right
            self.beginRemoveRows(QModelIndex(), row, row)
            entry = self._entries.pop(row)
            self._thumbnails.pop(id(entry), None)
            self._requested.discard(id(entry))
            self.endRemoveRows()
        self._reindex()

    def set_thumbnail(self, entry: ImageEntry, image: QImage) -> None:
        row = self.row_of(entry)
        if row < 0:
            return
        self._thumbnails[id(entry)] = image
        index = self.index(row)
        self.dataChanged.emit(index, index, [THUMBNAIL_ROLE, Qt.ItemDataRole.DecorationRole])

    def set_badge(self, entry: ImageEntry, badge: tuple[str, str] | None) -> None:
        """Show a prediction badge ``(text, colour)`` on an entry's tile (``None`` clears it)."""
        row = self.row_of(entry)
        if row < 0:
            return
        entry.badge = badge
        index = self.index(row)
        self.dataChanged.emit(index, index, [BADGE_ROLE])

    def forget_thumbnail_request(self, entry: ImageEntry) -> None:
        """Let a failed or cancelled thumbnail be requested again next time it is shown."""
        self._requested.discard(id(entry))

    def _reindex(self) -> None:
        self._row_of = {id(e): row for row, e in enumerate(self._entries)}


class ThumbnailService(QObject):
    """Computes gallery thumbnails on worker threads and hands them to the model."""

    def __init__(self, model: GalleryModel, pool: WorkerPool, size: int = THUMB_SIZE):
        super().__init__(model)
        self._model = model
        self._pool = pool
        self._size = size
        self._failed = QImage()
        model.thumbnail_wanted.connect(self.request)

    def request(self, entry: ImageEntry) -> None:
        size = self._size

        def job(cancel: CancelToken) -> QImage:
            cancel.raise_if_cancelled()
            return to_qimage(thumbnail_array(entry, size))

        worker = self._pool.submit(
            job,
            f"Thumbnail of {entry.name}",
            background=True,
            report_errors=False,
            latest_first=True,
        )
        worker.result.connect(lambda image, e=entry: self._model.set_thumbnail(e, image))
        # A thumbnail that cannot be made shows the placeholder; the viewer reports the error.
        worker.error.connect(lambda *_args, e=entry: self._model.set_thumbnail(e, self._failed))
        worker.cancelled.connect(lambda e=entry: self._model.forget_thumbnail_request(e))


def _shortened(metrics: QFontMetrics, text: str, width: int, badge: bool) -> str:
    """``text`` elided to ``width`` pixels.

    A badge keeps its percentage and an unsure answer's question mark and shortens the label:
    "orthorhombic? 93%" -> "orth…? 93%". The modality tag keeps its first letters ("unk…").
    """
    head, space, percentage = text.rpartition(" ")
    if not badge or not space or not percentage.endswith("%"):
        mode = Qt.TextElideMode.ElideMiddle if badge else Qt.TextElideMode.ElideRight
        return metrics.elidedText(text, mode, width)
    if metrics.horizontalAdvance(text) <= width:
        return text
    mark = "?" if head.endswith("?") else ""
    kept = f"{mark} {percentage}"
    label = head.removesuffix(mark)
    room = max(0, width - metrics.horizontalAdvance(kept))
    return metrics.elidedText(label, Qt.TextElideMode.ElideRight, room) + kept


class GalleryDelegate(QStyledItemDelegate):
    """Draws a tile: thumbnail, file name, modality tag and (when set) a prediction badge."""

    def sizeHint(self, _option, _index) -> QSize:
        return QSize(THUMB_SIZE + 2 * _PADDING, THUMB_SIZE + _TEXT_HEIGHT + 2 * _PADDING)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        painter.save()
        rect = option.rect
        palette = option.palette
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        if selected:
            painter.fillRect(rect, palette.color(QPalette.ColorRole.Highlight))
        elif option.state & QStyle.StateFlag.State_MouseOver:
            painter.fillRect(rect, palette.color(QPalette.ColorRole.AlternateBase))
        box = QRect(rect.x() + _PADDING, rect.y() + _PADDING, THUMB_SIZE, THUMB_SIZE)
        painter.fillRect(box, QColor("#111"))
        image = index.data(THUMBNAIL_ROLE)
        if isinstance(image, QImage) and not image.isNull():
            scaled = image.size().scaled(box.size(), Qt.AspectRatioMode.KeepAspectRatio)
            target = QRect(0, 0, scaled.width(), scaled.height())
            target.moveCenter(box.center())
            painter.drawImage(target, image)
        else:
            painter.setPen(QColor("#777"))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, "…")
        badge = index.data(BADGE_ROLE)
        modality_room = None
        if badge:
            # The result badge is what the user asked for: the modality tag gives way to it
            # (down to a few letters) before the badge is shortened.
            room = box.width() - 6 - self._tag_width(painter, str(badge[0])) - 8
            modality_room = max(_MIN_MODALITY_ROOM, room)
        modality_tag = self._draw_tag(
            painter,
            box,
            str(index.data(MODALITY_ROLE) or ""),
            QColor(0, 0, 0, 170),
            left=True,
            max_width=modality_room,
        )
        if badge:
            # top-right, shortened so that a long class name never covers the modality tag
            text, colour = badge
            room = box.right() - (modality_tag.right() if modality_tag else box.x()) - 8
            self._draw_tag(painter, box, str(text), QColor(colour), left=False, max_width=room)
        text_rect = QRect(rect.x() + 2, box.bottom() + 2, rect.width() - 4, _TEXT_HEIGHT)
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        painter.setPen(palette.color(role))
        name = option.fontMetrics.elidedText(
            str(index.data(Qt.ItemDataRole.DisplayRole)),
            Qt.TextElideMode.ElideMiddle,
            text_rect.width(),
        )
        painter.drawText(
            text_rect, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignVCenter, name
        )
        painter.restore()

    @staticmethod
    def _draw_tag(
        painter: QPainter,
        box: QRect,
        text: str,
        background: QColor,
        left: bool,
        max_width: int | None = None,
    ) -> QRect | None:
        """A rounded label in a top corner of the thumbnail, elided to ``max_width`` pixels
        (default: the thumbnail's width); returns where it was drawn."""
        if not text:
            return None
        metrics = GalleryDelegate._use_tag_font(painter)
        limit = box.width() - 6 if max_width is None else max_width
        text = _shortened(metrics, text, max(0, limit - 8), badge=not left)
        width, height = metrics.horizontalAdvance(text) + 8, metrics.height() + 2
        x = box.x() + 3 if left else box.right() - width - 2
        tag = QRect(x, box.y() + 3, width, height)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(background)
        painter.drawRoundedRect(tag, 3, 3)
        painter.setPen(QPen(QColor("white")))
        painter.drawText(tag, Qt.AlignmentFlag.AlignCenter, text)
        return tag

    @staticmethod
    def _use_tag_font(painter: QPainter) -> QFontMetrics:
        """Set the tags' small bold font on ``painter`` and return its metrics."""
        font = QFont(painter.font())
        font.setPointSizeF(max(6.0, font.pointSizeF() * 0.85))
        font.setBold(True)
        painter.setFont(font)
        return painter.fontMetrics()

    @staticmethod
    def _tag_width(painter: QPainter, text: str) -> int:
        """Width in pixels of the tag ``text`` would make, not shortened."""
        painter.save()
        try:
            return GalleryDelegate._use_tag_font(painter).horizontalAdvance(text) + 8
        finally:
            painter.restore()


class GalleryView(QListView):
    """Icon-mode list of the model's images; Delete removes the selected ones."""

    remove_requested = Signal(list)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(200)
        self.setSpacing(4)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setMouseTracking(True)
        self.setDragEnabled(False)
        self.setAcceptDrops(False)  # drops go to the main window, which opens them
        self.viewport().setAcceptDrops(False)
        self.setItemDelegate(GalleryDelegate(self))
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)

    def selected_entries(self) -> list[ImageEntry]:
        rows = sorted(index.row() for index in self.selectionModel().selectedIndexes())
        model = self.model()
        return [model.index(row).data(ENTRY_ROLE) for row in rows]

    def keyPressEvent(self, event) -> None:
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            entries = self.selected_entries()
            if entries:
                self.remove_requested.emit(entries)
                return
        super().keyPressEvent(event)
