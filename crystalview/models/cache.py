"""A loaded model kept for one consumer, loaded again only when its bundle file changes.

One owner per model: the model dock's runs, the heat-map dock and the feature browser each keep
their own `ModelCache`, so inference, CAM and training never share one module. Loading imports
torch, so it happens on the consumer's worker thread, never when the cache is made.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from crystalview.core.errors import CrystalViewError

if TYPE_CHECKING:
    from crystalview.models.bundle import LoadedModel


class ModelCache:
    """The `LoadedModel` of one bundle file, keyed by its path and modification time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[str, int] | None = None
        self._loaded: LoadedModel | None = None

    def _load(self, path: Path) -> LoadedModel:
        """(Re)load when ``path`` is not the cached file or changed on disk; hold the lock."""
        from crystalview.models.catalog import load_model

        path = Path(path)
        try:
            key = (str(path), path.stat().st_mtime_ns)
        except OSError as error:
            raise CrystalViewError(f"the model file {path} cannot be read ({error})") from None
        if key != self._key or self._loaded is None:
            self._loaded, self._key = None, None  # drop the old one before loading another
            self._loaded = load_model(path)
            self._key = key
        return self._loaded

    def get(self, path: Path) -> LoadedModel:
        """The loaded model of ``path``, for a caller that runs one job at a time on it."""
        with self._lock:
            return self._load(path)

    @contextmanager
    def lease(self, path: Path) -> Iterator[LoadedModel]:
        """The loaded model of ``path`` for exclusive use inside the ``with`` block: a second
        lease, even from a stray run on another thread, waits until this one ends."""
        with self._lock:
            yield self._load(path)
