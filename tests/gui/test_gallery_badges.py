"""The prediction badge never covers the modality tag on a gallery tile."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QStyleOptionViewItem

from crystalview.gui.gallery import GalleryDelegate


def test_a_long_prediction_badge_leaves_the_modality_tag_visible(
    qtbot, window, make_tiff, tmp_path
):
    path = make_tiff(tmp_path / "pattern.tif", np.zeros((40, 40), np.uint16))
    window.open_paths([path], remember=False)
    qtbot.waitUntil(lambda: window.gallery_model.rowCount() == 1, timeout=10_000)
    entry = window.gallery_model.entry(0)
    window.gallery_model.set_badge(entry, ("orthorhombic (pseudo-hexagonal) 93%", "#aa3377"))

    drawn = []
    original = GalleryDelegate._draw_tag

    def recording(*args, **kwargs):
        rect = original(*args, **kwargs)
        drawn.append(rect)
        return rect

    delegate = GalleryDelegate()
    delegate._draw_tag = recording
    option = QStyleOptionViewItem()
    option.rect = window.gallery.visualRect(window.gallery_model.index(0))
    option.rect.moveTo(0, 0)
    image = QImage(option.rect.size(), QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:
        delegate.paint(painter, option, window.gallery_model.index(0))
    finally:
        painter.end()
    modality_tag, badge = drawn
    assert modality_tag is not None and badge is not None
    assert not modality_tag.intersects(badge)
    assert badge.width() <= 128  # elided to the thumbnail, not spilling over the next tile
