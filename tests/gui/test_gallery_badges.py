"""The prediction badge never covers the modality tag on a gallery tile."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QFont, QFontMetrics, QImage, QPainter
from PySide6.QtWidgets import QStyleOptionViewItem

from crystalview.gui.gallery import GalleryDelegate, _shortened


def open_one_tile(qtbot, window, make_tiff, tmp_path):
    """Open one small TIFF and return its gallery entry."""
    path = make_tiff(tmp_path / "pattern.tif", np.zeros((40, 40), np.uint16))
    window.open_paths([path], remember=False)
    qtbot.waitUntil(lambda: window.gallery_model.rowCount() == 1, timeout=10_000)
    return window.gallery_model.entry(0)


def paint_tags(window) -> list[tuple]:
    """Paint the first tile with the real delegate; ``(rect, text shown)`` of every tag drawn,
    the modality tag first."""
    drawn = []
    original = GalleryDelegate._draw_tag

    def recording(painter, box, text, background, left, max_width=None):
        rect = original(painter, box, text, background, left, max_width)
        metrics = GalleryDelegate._use_tag_font(painter)
        limit = box.width() - 6 if max_width is None else max_width
        drawn.append((rect, _shortened(metrics, text, limit - 8, badge=not left)))
        return rect

    delegate = GalleryDelegate()
    delegate._draw_tag = recording
    index = window.gallery_model.index(0)
    option = QStyleOptionViewItem()
    option.rect = window.gallery.visualRect(index)
    option.rect.moveTo(0, 0)
    image = QImage(option.rect.size(), QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:
        delegate.paint(painter, option, index)
    finally:
        painter.end()
    return drawn


def test_a_long_prediction_badge_leaves_the_modality_tag_visible(
    qtbot, window, make_tiff, tmp_path
):
    entry = open_one_tile(qtbot, window, make_tiff, tmp_path)
    window.gallery_model.set_badge(entry, ("orthorhombic (pseudo-hexagonal) 93%", "#aa3377"))
    (modality_tag, _), (badge, _) = paint_tags(window)
    assert modality_tag is not None and badge is not None
    assert not modality_tag.intersects(badge)
    assert badge.width() <= 128  # elided to the thumbnail, not spilling over the next tile


def test_a_status_badge_stays_whole_and_the_modality_tag_gives_way(
    qtbot, window, make_tiff, tmp_path
):
    """'not this kind' beside a long modality ('unknown' for a plain TIFF) is not cut to
    'not…ind': the modality tag is shortened instead, and still shows."""
    entry = open_one_tile(qtbot, window, make_tiff, tmp_path)
    entry.modality = "unknown modality"  # longer than any reader's, so it must give way
    window.gallery_model.set_badge(entry, ("not this kind", "#555"))
    (modality_rect, modality_text), (badge_rect, badge_text) = paint_tags(window)
    assert badge_text == "not this kind"
    assert modality_text != "unknown modality" and modality_text.startswith("un")
    assert not modality_rect.intersects(badge_rect)


def test_a_shortened_badge_keeps_its_percentage_and_the_unsure_question_mark(qtbot):
    metrics = QFontMetrics(QFont())
    unsure = "orthorhombic? 93%"
    limit = metrics.horizontalAdvance(unsure) * 6 // 10
    short = _shortened(metrics, unsure, limit, badge=True)
    assert short.endswith("? 93%") and "…" in short and short.startswith("or")
    assert metrics.horizontalAdvance(short) <= limit
    verdict = _shortened(metrics, "orthorhombic 93%", limit, badge=True)
    assert verdict.endswith("… 93%") and "?" not in verdict
    assert _shortened(metrics, unsure, 10_000, badge=True) == unsure  # room enough: whole
    modality = _shortened(metrics, "unknown modality", limit // 3, badge=False)
    assert modality.startswith("u") and modality.endswith("…")
