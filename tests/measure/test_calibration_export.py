"""Set scale (stored per file, applied on open) and the calibrated ImageJ TIFF export."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from crystalview.core.micrograph import Micrograph
from crystalview.measure.calibration import (
    MANUAL_SCALE_KEY,
    ScaleStore,
    apply_scale,
    apply_stored_scale,
    is_set_by_hand,
    pixel_size_from_line,
    remove_scale,
)
from crystalview.measure.export import export_frame, write_imagej_tiff


def test_pixel_size_from_a_line_of_known_length():
    assert pixel_size_from_line(250.0, 500.0, "nm") == (pytest.approx(2.0), "nm")
    assert pixel_size_from_line(100.0, 1.0, "µm") == (pytest.approx(10.0), "nm")
    assert pixel_size_from_line(40.0, 2.0, "Å") == (pytest.approx(0.005), "nm")
    # reciprocal: a line between the ±g spots of a 0.2 nm plane is 10 1/nm long
    assert pixel_size_from_line(200.0, 10.0, "1/nm") == (pytest.approx(0.05), "1/nm")
    assert pixel_size_from_line(200.0, 1.0, "1/Å") == (pytest.approx(0.05), "1/nm")
    with pytest.raises(ValueError, match="positive"):
        pixel_size_from_line(100.0, -1.0, "nm")
    with pytest.raises(ValueError, match="Unknown unit"):
        pixel_size_from_line(100.0, 1.0, "furlong")
    with pytest.raises(ValueError, match="at least one pixel"):
        pixel_size_from_line(0.2, 1.0, "nm")


def test_scale_is_stored_per_file_and_applied_when_the_image_is_opened(tmp_path):
    image_file = tmp_path / "sem.jpg"
    image_file.write_bytes(b"x" * 100)
    other = tmp_path / "other.jpg"
    other.write_bytes(b"y" * 100)
    store = ScaleStore(tmp_path / "user" / "scales.json")
    store.set(image_file, 0, 4.5, "nm")
    assert ScaleStore(store.path).get(image_file, 0) == (4.5, "nm")  # survives a restart
    assert store.get(image_file, 1) is None
    assert store.get(other, 0) is None
    assert image_file.read_bytes() == b"x" * 100  # the original is never written

    micrograph = Micrograph(np.zeros((8, 8), np.uint8), path=image_file)
    assert apply_stored_scale(micrograph, store)
    assert (micrograph.pixel_size, micrograph.pixel_unit) == (4.5, "nm")
    assert is_set_by_hand(micrograph)
    assert micrograph.metadata[MANUAL_SCALE_KEY]["source"] == "set by hand"
    assert micrograph.metadata[MANUAL_SCALE_KEY]["pixel size in file"] == "none"
    assert not apply_stored_scale(Micrograph(np.zeros((8, 8)), path=other), store)

    apply_scale(micrograph, 2.0, "nm")  # set again: the file's own value is still remembered
    assert micrograph.metadata[MANUAL_SCALE_KEY]["pixel size in file"] == "none"
    assert remove_scale(micrograph) and micrograph.pixel_size is None
    assert not is_set_by_hand(micrograph) and not remove_scale(micrograph)

    calibrated = Micrograph(np.zeros((4, 4)), pixel_size=0.1234567891, pixel_unit="1/nm")
    apply_scale(calibrated, 0.2, "1/nm")
    assert remove_scale(calibrated)
    assert (calibrated.pixel_size, calibrated.pixel_unit) == (0.1234567891, "1/nm")

    image_file.write_bytes(b"x" * 200)  # a different file under the same name
    assert store.get(image_file, 0) is None
    assert store.remove(image_file, 0)
    assert not store.remove(image_file, 0)


def test_a_damaged_store_is_ignored_not_fatal(tmp_path):
    store = ScaleStore(tmp_path / "scales.json")
    store.path.write_text("{not json", encoding="utf-8")
    (tmp_path / "a.tif").write_bytes(b"1")
    assert store.get(tmp_path / "a.tif") is None
    store.set(tmp_path / "a.tif", 0, 1.0, "nm")
    assert store.get(tmp_path / "a.tif") == (1.0, "nm")


def test_imagej_tiff_opens_to_scale(tmp_path):
    frame = (np.arange(48 * 64) % 251).reshape(48, 64).astype(np.uint16)
    micrograph = Micrograph(frame, pixel_size=0.25, pixel_unit="nm", path=tmp_path / "a.dm3")
    out = export_frame(micrograph, tmp_path / "a.tif")
    with tifffile.TiffFile(out) as tif:
        assert tif.is_imagej
        assert tif.imagej_metadata["unit"] == "nm"
        page = tif.pages[0]
        data = page.asarray()
        x_res = page.tags["XResolution"].value
    assert data.dtype == np.float32
    np.testing.assert_array_equal(data, frame.astype(np.float32))
    assert x_res[0] / x_res[1] == pytest.approx(4.0)  # pixels per nm

    from crystalview.io import open_image

    again = open_image(out)
    assert again.pixel_size == pytest.approx(0.25)
    assert again.pixel_unit == "nm"


def test_reciprocal_and_uncalibrated_tiffs(tmp_path):
    write_imagej_tiff(tmp_path / "d.tif", np.ones((8, 8)), 0.05, "1/nm")
    with tifffile.TiffFile(tmp_path / "d.tif") as tif:
        assert tif.imagej_metadata["unit"] == "1/nm"
    write_imagej_tiff(tmp_path / "u.tif", np.ones((8, 8)) + 1j, None, None)
    with tifffile.TiffFile(tmp_path / "u.tif") as tif:
        assert "unit" not in tif.imagej_metadata
        assert tif.pages[0].asarray().dtype == np.float32
