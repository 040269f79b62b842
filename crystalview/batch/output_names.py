"""Where per-image outputs go: the input tree mirrored under the output folder, names unique.

Instruments write ``Image001.tif`` into every acquisition folder, so per-image outputs named by
the file's stem alone overwrite each other. An image found inside a folder given on the command
line keeps its path relative to that folder; images named directly go to the top; a name that
is still taken in this run gets ``-2``, ``-3``… A file left by an earlier run is replaced, and
the caller says so.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


class MirroredNames:
    """Hands out ``(folder, stem)`` for each input image, never the same one twice."""

    def __init__(self, out_dir: Path, inputs: Iterable[Path]):
        self.out_dir = Path(out_dir)
        self.roots = [Path(p).resolve() for p in inputs if Path(p).is_dir()]
        self._taken: set[Path] = set()

    def place(self, image: Path) -> tuple[Path, str]:
        """Output folder and stem for ``image`` (``<folder>/<stem>_cam.tif`` and so on)."""
        resolved = Path(image).resolve()
        relative = Path(resolved.name)
        for root in sorted(self.roots, key=lambda r: len(r.parts), reverse=True):
            if resolved.is_relative_to(root):
                relative = resolved.relative_to(root)
                break
        folder = self.out_dir / relative.parent
        stem, candidate, n = relative.stem, relative.stem, 1
        while folder / candidate in self._taken:
            n += 1
            candidate = f"{stem}-{n}"
        self._taken.add(folder / candidate)
        return folder, candidate
