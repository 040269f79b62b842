"""Thumbnails of project images, made on worker threads and cached for the wizard's pages.

A read that times out is tried again (up to `MAX_ATTEMPTS` times) rather than marked unreadable:
the first reads of a session also pay for importing the readers, which on a busy machine can
exceed the reader's time limit although the file is fine.

The gallery's `ThumbnailService` is bound to the main window's open images (`ImageEntry`);
the wizard knows only file paths, many of which are not open in the window, so it keeps its own
small cache keyed by path. Decoding runs on a `WorkerPool`; the cache emits ``ready(path)`` on
the GUI thread when a thumbnail arrives, and the views repaint just that item.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from crystalview.core.errors import ReadTimeoutError
from crystalview.core.progress import CancelToken
from crystalview.gui.gallery import to_qimage
from crystalview.gui.workers import WorkerPool

MAX_ATTEMPTS = 3


class ThumbnailCache(QObject):
    """Path → QImage thumbnails of one size, computed lazily; failed files get a null image.

    Signals
    -------
    ready(Path)
        A thumbnail (or the null placeholder of an unreadable file) is now in the cache.
    """

    ready = Signal(object)

    def __init__(self, pool: WorkerPool, size: int, parent: QObject | None = None):
        super().__init__(parent)
        self._pool = pool
        self._size = size
        self._images: dict[Path, QImage] = {}
        self._pending: set[Path] = set()
        self._attempts: dict[Path, int] = {}

    def get(self, path: Path) -> QImage | None:
        """The cached thumbnail, or ``None`` after asking a worker to make it."""
        image = self._images.get(path)
        if image is None and path not in self._pending:
            self._request(path)
        return image

    def _request(self, path: Path) -> None:
        size = self._size
        self._pending.add(path)
        self._attempts[path] = self._attempts.get(path, 0) + 1

        def job(cancel: CancelToken) -> QImage:
            from crystalview.io import read_thumbnail

            cancel.raise_if_cancelled()
            return to_qimage(read_thumbnail(path, max_size=size))

        worker = self._pool.submit(
            job,
            f"Thumbnail of {path.name}",
            background=True,
            report_errors=False,
            latest_first=True,
        )
        worker.result.connect(lambda image, p=path: self._store(p, image))
        worker.error.connect(lambda error, _details, p=path: self._on_error(p, error))
        worker.cancelled.connect(lambda p=path: self._pending.discard(p))

    def _on_error(self, path: Path, error: Exception) -> None:
        if isinstance(error, ReadTimeoutError) and self._attempts.get(path, 0) < MAX_ATTEMPTS:
            self._pending.discard(path)
            self.ready.emit(path)  # the view repaints the item, which asks for it again
            return
        self._store(path, QImage())

    def _store(self, path: Path, image: QImage) -> None:
        self._pending.discard(path)
        self._images[path] = image
        self.ready.emit(path)
