"""The gallery model, its lazy thumbnails, and the delegate that draws tiles and badges."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage

from crystalview.core.micrograph import Micrograph, Modality
from crystalview.gui.gallery import (
    BADGE_ROLE,
    MODALITY_ROLE,
    NOT_THIS_KIND_COLOUR,
    UNSURE_COLOUR,
    GalleryModel,
    GalleryView,
    prediction_badge,
    thumbnail_array,
    to_qimage,
)
from crystalview.jobs.library import ImageEntry, evict_to_budget


def entry(name: str, index: int = 0, size: int = 16) -> ImageEntry:
    data = np.arange(size * size, dtype=np.uint16).reshape(size, size)
    micrograph = Micrograph(
        data, path=Path(f"/data/{name}"), modality=Modality.SEM, dataset_index=index
    )
    return ImageEntry.from_micrograph(micrograph)


def test_model_adds_without_duplicates_and_removes(qtbot):
    model = GalleryModel()
    a, b, a_again = entry("a.tif"), entry("b.tif"), entry("a.tif")
    assert model.add_entries([a, b, a_again]) == [a, b]
    assert model.add_entries([entry("a.tif", index=1)])  # another dataset of the same file
    assert model.rowCount() == 3
    assert model.index(0).data(Qt.ItemDataRole.DisplayRole) == "a.tif"
    assert model.index(0).data(MODALITY_ROLE) == "SEM"
    model.remove_entries([a])
    assert model.entries[0] is b
    assert model.row_of(a) == -1 and model.row_of(b) == 0


def test_thumbnail_is_requested_once_per_shown_item(qtbot):
    model = GalleryModel()
    a = entry("a.tif")
    model.add_entries([a])
    wanted = []
    model.thumbnail_wanted.connect(wanted.append)
    assert model.index(0).data(Qt.ItemDataRole.DecorationRole) is None
    assert model.index(0).data(Qt.ItemDataRole.DecorationRole) is None
    assert wanted == [a]
    image = to_qimage(np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8))
    with qtbot.waitSignal(model.dataChanged):
        model.set_thumbnail(a, image)
    assert model.index(0).data(Qt.ItemDataRole.DecorationRole) == image


def test_thumbnail_of_an_in_memory_dataset_keeps_the_aspect(qtbot):
    wide = Micrograph(
        np.random.default_rng(0).random((100, 400)), path=Path("/x/w.emd"), dataset_index=1
    )
    thumb = thumbnail_array(ImageEntry.from_micrograph(wide), max_size=64)
    assert max(thumb.shape) <= 64
    assert thumb.shape[1] / thumb.shape[0] == pytest.approx(4, rel=0.1)
    assert thumb.dtype == np.float32 and thumb.min() >= 0 and thumb.max() <= 1
    image = to_qimage(thumb)
    assert (image.height(), image.width()) == thumb.shape
    assert image.format() == QImage.Format.Format_Grayscale8


def test_badge_role_is_drawn(qtbot):
    model = GalleryModel()
    a = entry("a.tif")
    model.add_entries([a])
    view = GalleryView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.resize(300, 200)
    plain = view.grab().toImage()
    with qtbot.waitSignal(model.dataChanged) as changed:
        model.set_badge(a, ("grain", "darkgreen"))
    assert BADGE_ROLE in changed.args[2]
    assert model.index(0).data(BADGE_ROLE) == ("grain", "darkgreen")
    badged = view.grab().toImage()
    assert badged != plain
    # the badge is drawn in the badge colour in the top-right corner of the thumbnail
    rect = view.visualRect(model.index(0))
    green = QColor("darkgreen")
    corner = [
        badged.pixelColor(x, y)
        for x in range(rect.x() + 6 + 64, rect.x() + 6 + 128)
        for y in range(rect.y() + 6, rect.y() + 6 + 24)
    ]
    assert sum(c == green for c in corner) > 50


@pytest.mark.parametrize(("budget", "n_evicted"), [(0, 4), (600, 2), (10_000, 0)])
def test_eviction_keeps_the_shown_image_and_drops_oldest_first(budget, n_evicted):
    entries = [entry(f"{i}.tif", size=10) for i in range(5)]  # 200 bytes each
    shown = entries[0]
    evicted = evict_to_budget(entries, budget, keep=shown)
    assert shown.micrograph is not None
    assert evicted == entries[1 : 1 + n_evicted]  # the oldest ones after the shown image
    assert all(e.micrograph is None for e in evicted)
    assert all(e.micrograph is not None for e in entries if e not in evicted)


@pytest.mark.parametrize(
    ("status", "text", "colour"),
    [
        ("ok", "beta 70%", "class"),
        ("unsure", "beta? 70%", UNSURE_COLOUR),
        ("not-this-kind", "not this kind", NOT_THIS_KIND_COLOUR),
    ],
)
def test_badge_says_the_status(status, text, colour):
    from types import SimpleNamespace

    from crystalview.gui.tile_classes import class_colour

    prediction = SimpleNamespace(
        label="beta", confidence=0.7, class_names=["alpha", "beta"], status=status
    )
    badge = prediction_badge(prediction)
    expected = class_colour(1).name() if colour == "class" else colour
    assert badge == (text, expected)
    palette = {class_colour(i).name() for i in range(20)}
    assert (badge[1] in palette) == (status == "ok")  # only a verdict wears a class colour
