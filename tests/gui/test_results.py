"""The results dock: bars, tile table, class overlay, per-image results, CSV export."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PySide6.QtCore import Qt

from crystalview import paths
from crystalview.core.tiling import tile_grid
from crystalview.gui.docks.results import (
    HIGHLIGHT_LAYER,
    NEUTRAL_COLOUR,
    OVERLAY_LAYER,
    write_results_csv,
)
from crystalview.gui.gallery import BADGE_ROLE, UNSURE_COLOUR
from crystalview.gui.tile_classes import class_colour, class_overlay_rgba, tile_index_map

CLASSES = ["ferrite", "pearlite", "bainite", "martensite"]


@pytest.fixture
def save_model(tiny_bundle_factory):
    """``save(folder, name, classes, input_mode, decisive)``: the suite's tiny bundle (seed 1,
    16 px inputs) as ``folder/<name>.cvmodel``; ``decisive`` scales its last layer (large:
    confident answers)."""

    def save(folder, name, classes, input_mode="tiles", decisive=1.0) -> Path:
        path = folder / f"{name}.cvmodel"
        return tiny_bundle_factory(
            path, tuple(classes), 16, 1, decisive, input_mode=input_mode, name=name
        )

    return save


@pytest.fixture
def cv_window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("CRYSTALVIEW_HOME", str(tmp_path / "home"))
    builtin = tmp_path / "builtin"
    builtin.mkdir()
    monkeypatch.setattr(paths, "builtin_models_dir", lambda: builtin)
    from crystalview.gui.main_window import MainWindow

    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()
    assert win.pool.active() == []


@pytest.fixture
def images(tmp_path) -> list[Path]:
    rng = np.random.default_rng(5)
    out = []
    for index, shape in enumerate([(64, 96), (48, 48)]):
        path = tmp_path / "images" / f"im{index}.tif"
        path.parent.mkdir(exist_ok=True)
        tifffile.imwrite(path, rng.integers(0, 4000, shape, dtype=np.uint16))
        out.append(path)
    return out


def classify(qtbot, win, image_paths: list[Path], model: str = "steel") -> None:
    with qtbot.waitSignal(win.model_dock.models_listed, timeout=20_000):
        win.model_dock.refresh_models(select=model)
    win.open_paths(image_paths)
    qtbot.waitUntil(
        lambda: (
            win.gallery_model.rowCount() == len(image_paths)
            and not win.pool.active(include_background=False)
        ),
        timeout=10_000,
    )
    with qtbot.waitSignal(win.model_dock.run_finished, timeout=30_000):
        win.model_dock.run_all_button.click()


def test_results_of_the_current_image(qtbot, cv_window, images, save_model):
    win = cv_window
    save_model(paths.user_models_dir(), "steel", CLASSES)
    classify(qtbot, win, images)
    results = win.results_dock
    first = win.gallery_model.entries[0]
    win.select_entry(first)
    prediction = win.model_dock.prediction_for(first)

    # bars: one per class, heights = probabilities, class names on the axis
    assert results.chart.heights() == pytest.approx([prediction.probabilities[c] for c in CLASSES])
    ticks = results.chart.getAxis("bottom")._tickLevels[0]
    assert [name for _x, name in ticks] == CLASSES
    assert prediction.label in results.summary.text()
    assert all(name in results.legend.text() for name in CLASSES)

    # table: one row per tile, with its box and label
    expected = tile_grid((64, 96), 16, 0.25)
    assert results.table_model.rowCount() == prediction.n_tiles == expected.n_tiles
    row = 5
    box = ",".join(str(int(v)) for v in prediction.tile_boxes[row])
    assert results.table_model.index(row, 1).data() == box
    label = CLASSES[int(prediction.tile_probabilities[row].argmax())]
    assert results.table_model.index(row, 2).data() == label

    # selecting a row outlines that tile in the viewer
    results.select_tile(row)
    highlight = win.viewer.layer(HIGHLIGHT_LAYER)
    y0, x0, y1, x1 = prediction.tile_boxes[row]
    rect = highlight.rect()
    assert highlight.isVisible()
    assert (rect.x(), rect.y(), rect.right(), rect.bottom()) == (x0, y0, x1, y1)

    # the overlay: present, covering the image, toggle and opacity work
    overlay = win.viewer.layer(OVERLAY_LAYER)
    assert overlay is not None and overlay.isVisible()
    assert overlay.image.shape[:2] == (64, 96) and overlay.image.shape[2] == 4
    results.opacity_slider.setValue(70)
    assert overlay.opacity() == pytest.approx(0.7)
    results.overlay_box.setChecked(False)
    assert not overlay.isVisible()
    results.overlay_box.setChecked(True)
    assert overlay.isVisible()


def test_switching_images_shows_each_ones_results(qtbot, cv_window, images, save_model):
    win = cv_window
    save_model(paths.user_models_dir(), "steel", CLASSES)
    classify(qtbot, win, images)
    results = win.results_dock
    first, second = win.gallery_model.entries
    win.select_entry(second)
    assert results.table_model.rowCount() == win.model_dock.prediction_for(second).n_tiles
    assert win.viewer.layer(OVERLAY_LAYER).image.shape[:2] == (48, 48)
    win.select_entry(first)
    assert results.table_model.rowCount() == win.model_dock.prediction_for(first).n_tiles

    # a new, unclassified image shows no result and no overlay
    third = images[0].parent / "new.tif"
    tifffile.imwrite(third, np.zeros((20, 20), np.uint8))
    win.open_paths([third])
    qtbot.waitUntil(lambda: win.gallery_model.rowCount() == 3, timeout=10_000)
    win.select_entry(win.gallery_model.entries[2])
    assert results.chart.heights() == []
    assert results.table_model.rowCount() == 0
    assert not win.viewer.layer(OVERLAY_LAYER).isVisible()
    assert "Not classified" in results.summary.text()


def test_whole_image_model_has_one_tile(qtbot, cv_window, images, save_model):
    win = cv_window
    save_model(paths.user_models_dir(), "steel", CLASSES, input_mode="whole")
    classify(qtbot, win, images)
    assert not win.model_dock.tile_box.isEnabled()
    for entry in win.gallery_model.entries:
        assert win.model_dock.prediction_for(entry).n_tiles == 1
    assert win.results_dock.table_model.rowCount() == 1
    assert win.results_dock.chart.heights() != []
    assert not win.viewer.layer(OVERLAY_LAYER).isVisible()  # one tile would only tint it


def test_csv_export_matches_the_cli_columns(
    qtbot, cv_window, images, tmp_path, monkeypatch, save_model
):
    win = cv_window
    save_model(paths.user_models_dir(), "steel", CLASSES)
    classify(qtbot, win, images)
    out = tmp_path / "results.csv"
    monkeypatch.setattr(
        "crystalview.gui.docks.results.QFileDialog.getSaveFileName",
        lambda *args, **kwargs: (str(out), "CSV (*.csv)"),
    )
    messages = []
    win.results_dock.message.connect(messages.append)
    win.results_dock.export_button.click()
    with out.open(newline="") as handle:
        rows = list(csv.reader(handle))
    from crystalview.batch.records import result_columns as csv_columns

    assert rows[0] == csv_columns(CLASSES)  # the CLI's columns exactly
    assert rows[0][:12] == [
        "path", "label", "confidence", "status", "n_tiles", "model", "ood_score",
        "status_reason", "modality", "error", "file_size", "file_mtime_ns",
    ]  # fmt: skip
    assert len(rows) == 3 and "2 result(s)" in messages[-1]
    for row, entry in zip(rows[1:], win.gallery_model.entries, strict=True):
        prediction = win.model_dock.prediction_for(entry)
        assert row[0] == str(entry.path)
        assert row[1] == prediction.label
        assert float(row[2]) == pytest.approx(prediction.confidence, abs=1e-6)
        assert row[3] == prediction.status and row[7] == prediction.status_reason
        assert int(row[4]) == prediction.n_tiles
        assert row[5] == "steel"
        assert row[8] == entry.modality and row[9] == ""  # modality, no error
        assert sum(float(v) for v in row[12:]) == pytest.approx(1.0, abs=1e-4)


def test_csv_of_models_with_different_classes(tmp_path):
    from crystalview.jobs.library import ImageEntry

    def entry(name: str, probabilities: dict[str, float]):
        e = ImageEntry(Path(name), 0, name, "unknown", (4, 4), 1, "uint8", None, None)
        label = max(probabilities, key=probabilities.get)

        class Prediction:  # the fields the export reads
            pass

        p = Prediction()
        p.label, p.confidence, p.n_tiles, p.model_name = label, probabilities[label], 1, "m"
        p.class_names, p.probabilities = list(probabilities), probabilities
        p.status, p.status_reason, p.ood_score = "ok", "fine", None
        e.extra["prediction"] = p
        return e

    entries = [entry("a.tif", {"x": 0.9, "y": 0.1}), entry("b.tif", {"y": 0.3, "z": 0.7})]
    unclassified = ImageEntry(Path("c.tif"), 0, "c", "unknown", (4, 4), 1, "uint8", None, None)
    out = tmp_path / "mixed.csv"
    assert write_results_csv(out, [*entries, unclassified]) == 2
    rows = list(csv.reader(out.open(newline="")))
    assert rows[0][12:] == ["p_x", "p_y", "p_z"]
    assert rows[1][12:] == ["0.900000", "0.100000", ""]
    assert rows[2][12:] == ["", "0.300000", "0.700000"]
    assert rows[1][3] == "ok" and rows[1][7] == "fine"


# -- the overlay geometry (no window needed) ------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "tile", "overlap"), [((64, 96), 16, 0.25), ((100, 37), 20, 0.5), ((30, 30), 30, 0)]
)
def test_every_pixel_belongs_to_a_tile_that_contains_it(shape, tile, overlap):
    boxes = tile_grid(shape, tile, overlap).boxes
    owner = tile_index_map(boxes, shape)
    assert owner.shape == shape and (owner >= 0).all()
    ys, xs = np.mgrid[0 : shape[0], 0 : shape[1]]
    chosen = boxes[owner]
    assert ((chosen[..., 0] <= ys) & (ys < chosen[..., 2])).all()
    assert ((chosen[..., 1] <= xs) & (xs < chosen[..., 3])).all()
    # overlaps are split: every tile owns some pixels
    assert set(np.unique(owner)) == set(range(len(boxes)))


def test_big_images_get_a_small_overlay():
    shape = (4096, 3000)
    boxes = tile_grid(shape, 224, 0.25).boxes
    probabilities = np.random.default_rng(0).random((len(boxes), 3))
    rgba = class_overlay_rgba(boxes, probabilities, shape)
    assert max(rgba.shape[:2]) <= 512 and rgba.dtype == np.uint8
    colours = {tuple(c) for c in rgba.reshape(-1, 4)}
    expected = {
        (class_colour(i).red(), class_colour(i).green(), class_colour(i).blue(), 255)
        for i in range(3)
    }
    assert colours <= expected and len(colours) == 3


def test_irregular_boxes_are_painted_and_uncovered_pixels_transparent():
    boxes = np.array([[0, 0, 10, 10], [5, 5, 15, 12]])
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8]])
    rgba = class_overlay_rgba(boxes, probabilities, (20, 20))
    assert rgba[2, 2, 3] == 255 and rgba[2, 2, 0] == class_colour(0).red()
    assert rgba[12, 8, 3] == 255 and rgba[12, 8, 0] == class_colour(1).red()
    assert rgba[18, 18, 3] == 0  # no tile there
    empty = class_overlay_rgba(np.zeros((0, 4)), np.zeros((0, 2)), (20, 20))
    assert empty.shape == (20, 20, 4) and not empty.any()


def test_class_colours_are_distinct():
    names = {class_colour(i).name() for i in range(40)}
    assert len(names) == 40
    assert class_colour(0).isValid() and class_colour(0) != class_colour(1)


def test_badge_colour_follows_the_class(qtbot, cv_window, images, save_model):
    win = cv_window
    save_model(paths.user_models_dir(), "steel", CLASSES)
    classify(qtbot, win, images)
    for entry in win.gallery_model.entries:
        prediction = win.model_dock.prediction_for(entry)
        colour = class_colour(CLASSES.index(prediction.label)).name()
        if prediction.status == "ok":
            assert entry.badge[1] == colour
        else:  # an unsure answer is never drawn in a class colour
            assert entry.badge[1] == UNSURE_COLOUR and entry.badge[0].startswith(prediction.label)
        row = win.gallery_model.row_of(entry)
        assert win.gallery_model.index(row).data(BADGE_ROLE) == entry.badge


def test_decisive_answers_get_the_class_colour(qtbot, cv_window, images, save_model):
    win = cv_window
    save_model(paths.user_models_dir(), "steel", CLASSES, input_mode="whole", decisive=300.0)
    classify(qtbot, win, images)
    for entry in win.gallery_model.entries:
        prediction = win.model_dock.prediction_for(entry)
        assert prediction.status == "ok" and prediction.confidence >= 0.6
        assert entry.badge == (
            f"{prediction.label} {prediction.confidence:.0%}",
            class_colour(CLASSES.index(prediction.label)).name(),
        )


def stored_prediction(entry, probabilities, status, reason="why"):
    from crystalview.gui.docks.results import PREDICTION_KEY
    from crystalview.inference.predict import ImagePrediction

    values = np.asarray(probabilities, dtype=float)
    best = int(values.argmax())
    prediction = ImagePrediction(
        label=CLASSES[best],
        confidence=float(values[best]),
        probabilities=dict(zip(CLASSES, values.tolist(), strict=True)),
        class_names=list(CLASSES),
        n_tiles=1,
        tile_boxes=np.array([[0, 0, *entry.shape]]),
        tile_probabilities=values[None],
        probability_map=None,
        device="cpu",
        model_name="steel",
        status=status,
        status_reason=reason,
        calibrated=True,
        unsure_below=0.7,
    )
    entry.extra[PREDICTION_KEY] = prediction
    return prediction


def open_images(qtbot, win, image_paths):
    win.open_paths(image_paths)
    qtbot.waitUntil(lambda: win.gallery_model.rowCount() == len(image_paths), timeout=10_000)


def test_unsure_and_not_this_kind_are_not_shown_as_verdicts(qtbot, cv_window, images):
    win = cv_window
    open_images(qtbot, win, images)
    first, second = win.gallery_model.entries
    results = win.results_dock
    stored_prediction(first, [0.5, 0.3, 0.1, 0.1], "unsure", "top probability 0.50 is below 0.70")
    win.select_entry(second)
    win.select_entry(first)
    text = results.summary.text()
    assert "Unsure" in text and "best guess ferrite" in text and "below 0.70" in text
    assert class_colour(0).name() not in text  # no class colour on an unsure answer
    assert results.chart.neutral and results.chart.heights() == pytest.approx([0.5, 0.3, 0.1, 0.1])
    decoration = results.table_model.index(0, 2).data(Qt.ItemDataRole.DecorationRole)
    assert decoration.name() == NEUTRAL_COLOUR  # the tile table shows no class colour either

    stored_prediction(second, [0.1, 0.8, 0.05, 0.05], "not-this-kind", "a spot pattern")
    win.select_entry(second)
    text = results.summary.text()
    assert "Not this kind of image" in text and "a spot pattern" in text
    assert class_colour(1).name() not in text and results.chart.neutral

    stored_prediction(second, [0.1, 0.8, 0.05, 0.05], "ok")
    results.show_entry(second)
    assert class_colour(1).name() in results.summary.text() and not results.chart.neutral
    decoration = results.table_model.index(0, 2).data(Qt.ItemDataRole.DecorationRole)
    assert decoration == class_colour(1)


def test_combine_selected_gives_one_verdict(qtbot, cv_window, images, tmp_path):
    win = cv_window
    extra = tmp_path / "images" / "im2.tif"
    tifffile.imwrite(extra, np.zeros((32, 32), np.uint16) + 5)
    open_images(qtbot, win, [*images, extra])
    a, b, c = win.gallery_model.entries
    stored_prediction(a, [0.6, 0.3, 0.05, 0.05], "unsure")
    stored_prediction(b, [0.7, 0.1, 0.1, 0.1], "ok")
    stored_prediction(c, [0.05, 0.05, 0.05, 0.85], "not-this-kind", "blank frame")
    assert win.combine_action.shortcut().toString() == "Ctrl+Shift+B"
    assert win.combine_action in win.gallery.actions()

    win.gallery.clearSelection()
    assert win.combine_selected() == []
    assert "Select the images" in win.last_combined_text

    win.gallery.selectAll()
    (verdict,) = win.combine_selected()
    assert verdict.label == "ferrite" and verdict.n_used == 2 and verdict.n_agree == 2
    assert verdict.n_patterns == 3 and verdict.status == "ok"
    assert "ferrite" in win.last_combined_text and "2 of 2 patterns agree" in win.last_combined_text
    assert "1 not-this-kind left out" in win.last_combined_text
    for box in list(win.notifications):
        box.close()
