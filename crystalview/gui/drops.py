"""What a file manager drops on us: the local paths in a drag event's URLs."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QDragEnterEvent, QDropEvent


def dropped_paths(event: QDragEnterEvent | QDropEvent) -> list[Path]:
    """Local files and folders carried by the event (web links and text are not ours)."""
    return [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]


def accept_if_files(event: QDragEnterEvent) -> None:
    """Accept a drag that carries at least one local path, so the cursor shows a drop is OK."""
    if dropped_paths(event):
        event.acceptProposedAction()
    else:
        event.ignore()
