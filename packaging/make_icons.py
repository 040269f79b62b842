"""Render ``resources/icons/crystalview.svg`` to the PNG sizes desktops and installers want.

Run once after editing the SVG: ``python packaging/make_icons.py``. The PNGs are committed, so
neither the app nor the launcher installer needs an SVG renderer at run time.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

SIZES = (16, 32, 48, 64, 128, 256, 512)
ICONS = Path(__file__).resolve().parent.parent / "resources" / "icons"


def render(svg: Path, size: int, out: Path) -> None:
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    QSvgRenderer(str(svg)).render(painter)
    painter.end()
    if not image.save(str(out)):
        raise OSError(f"could not write {out}")


def main() -> int:
    _app = QGuiApplication(sys.argv[:1])
    svg = ICONS / "crystalview.svg"
    for size in SIZES:
        render(svg, size, ICONS / f"crystalview-{size}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
