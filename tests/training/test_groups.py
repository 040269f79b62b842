"""Near-duplicate detection, series names and the warnings the user is given."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from crystalview.core.errors import CrystalViewError
from crystalview.training.groups import (
    build_groups,
    fingerprint,
    group_samples,
    grouping_warnings,
    groups_from_table,
    read_group_csv,
    series_name,
    user_group_names,
)


def _texture(rng: np.random.Generator, shape=(480, 640)) -> np.ndarray:
    """A micrograph-like random texture: structures of several sizes plus pixel noise."""
    from scipy.ndimage import gaussian_filter

    noise = rng.standard_normal(shape)
    base = 8 * gaussian_filter(noise, 12) + 2 * gaussian_filter(noise, 2)
    base += 0.2 * rng.standard_normal(shape)
    return (base * 40 + 128).clip(0, 255).astype(np.uint8)


def _shifted(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """A copy of ``image`` shifted by a few pixels, edges filled by reflection (as in the set)."""
    padded = np.pad(image, 12, mode="reflect")
    h, w = image.shape
    return padded[12 + dy : 12 + dy + h, 12 + dx : 12 + dx + w]


def _rings(rng: np.random.Generator, radii, size=256) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size] - size / 2 + rng.uniform(-4, 4, 2)[:, None, None]
    r = np.hypot(yy, xx)
    image = 2000 * np.exp(-r / 3) + sum(50 * np.exp(-((r - q) ** 2) / 4) for q in radii)
    return rng.poisson(image + 5).astype(np.float32)


def test_shifted_copies_group_together_and_distinct_fields_do_not():
    rng = np.random.default_rng(0)
    originals = [_texture(rng) for _ in range(5)]
    images, truth = [], []
    for k, image in enumerate(originals):
        images.append(image)
        truth.append(k)
        if k < 2:  # three shifted copies of the first two fields
            for dy, dx in [(3, -5), (-6, 2), (4, 6)]:
                images.append(_shifted(image, dy, dx))
                truth.append(k)
    grouping = build_groups(np.stack([fingerprint(im) for im in images]))
    assert grouping.n_distinct == grouping.n_groups == 5
    assert grouping.duplicate_files == 8
    for a in range(len(images)):
        for b in range(len(images)):
            same = grouping.group_of[a] == grouping.group_of[b]
            assert same == (truth[a] == truth[b])
    assert grouping.summary(1003) == "1,003 images, 5 distinct micrographs"
    assert grouping.summary(1003, "SAED") == "1,003 images, 5 distinct patterns"


def test_distinct_diffraction_patterns_are_not_duplicates():
    """Concentric patterns look alike at thumbnail scale; their fine detail tells them apart."""
    rng = np.random.default_rng(1)
    patterns = [_rings(rng, rng.uniform(20, 120, 5)) for _ in range(12)]
    patterns.append(np.roll(patterns[0], (2, -3), axis=(0, 1)))  # one real re-export
    grouping = build_groups(np.stack([fingerprint(p) for p in patterns]))
    assert grouping.n_distinct == 12
    assert grouping.group_of[0] == grouping.group_of[12]


def test_fingerprint_survives_odd_inputs():
    assert fingerprint(np.zeros((3, 5))).shape == fingerprint(np.ones((700, 1024))).shape
    assert np.isfinite(fingerprint(np.full((40, 40), np.nan))).all()
    with pytest.raises(CrystalViewError):
        fingerprint(np.zeros((4, 4, 3)))


def test_series_names_from_file_stems():
    paths = [
        Path("Defective/translated_PPC9_01_17.tif"),
        Path("Defective/translated_ppc9_07_1.tif"),
        Path("Defective/translated_PPC9-_2.tif"),
        Path("NonDefective/translated_pancnt2_01_40.tif"),
    ]
    names = user_group_names(paths, [0, 0, 0, 1], "series")
    assert names == ["ppc9", "ppc9", "ppc9", "pancnt2"]
    assert series_name(Path("Image001.tif")) == "image001"


def test_folder_groups_and_union_with_duplicates(tmp_path):
    paths = [
        tmp_path / "A" / "s1" / "x.tif",
        tmp_path / "A" / "s1" / "y.tif",
        tmp_path / "A" / "z.tif",
    ]
    prints = np.stack([fingerprint(np.random.default_rng(i).random((64, 64))) for i in range(3)])
    grouping = group_samples(paths, [0, 0, 0], prints, "folder")
    assert grouping.n_distinct == 3 and grouping.n_groups == 2
    none = group_samples(paths, [0, 0, 0], prints, "none")
    assert none.n_groups == 3
    with pytest.raises(CrystalViewError):
        group_samples(paths, [0, 0, 0], prints, "bogus")


def test_csv_groups(tmp_path):
    table = tmp_path / "groups.csv"
    table.write_text("file,sample\na.tif,S1\nb.tif,S1\nc.tif,S2\n", encoding="utf-8")
    groups = read_group_csv(table, "sample")
    names = groups_from_table([tmp_path / "a.tif", tmp_path / "c.tif", tmp_path / "d.tif"], groups)
    assert names == ["S1", "S2", None]
    with pytest.raises(CrystalViewError, match="column"):
        read_group_csv(table, "nothere")


def test_warnings_name_single_series_and_few_groups():
    labels = np.array([0] * 6 + [1] * 6)
    series = ["ppc9"] * 6 + ["a", "b", "c", "d", "e", "f"]
    grouping = build_groups(None, [f"g{i}" for i in range(12)])
    warnings = grouping_warnings(grouping, labels, ["Defective", "Good"], series)
    assert any("one series" in w and "Defective" in w for w in warnings)
    assert not any("'Good'" in w for w in warnings)
    few = build_groups(None, ["g1"] * 6 + [f"h{i}" for i in range(6)])
    warnings = grouping_warnings(few, labels, ["Defective", "Good"], None)
    assert any("only 1 distinct group" in w for w in warnings)
