"""Bad and hostile inputs: each gives a specific `CrystalViewError` that names the file."""

from __future__ import annotations

import json
import shutil
import struct
import time

import numpy as np
import pytest
import tifffile
from PIL import Image

from crystalview.cli import main as cli_main
from crystalview.core.errors import (
    CorruptFileError,
    FileTooLargeError,
    MissingCodecError,
    ReadTimeoutError,
    UnsupportedFormatError,
)
from crystalview.io import open_image
from crystalview.io.display import auto_levels, to_display
from crystalview.io.safety import run_with_timeout


def _huge_tiff_header(width: int, height: int) -> bytes:
    """A little-endian TIFF whose single IFD claims ``width x height`` 16-bit pixels."""
    entries = [
        (256, 4, 1, width),  # ImageWidth, LONG
        (257, 4, 1, height),  # ImageLength
        (258, 3, 1, 16),  # BitsPerSample
        (259, 3, 1, 1),  # Compression: none
        (262, 3, 1, 1),  # Photometric: min-is-black
        (273, 4, 1, 200),  # StripOffsets
        (277, 3, 1, 1),  # SamplesPerPixel
        (278, 4, 1, height),  # RowsPerStrip
        (279, 4, 1, 0xFFFFFFFF),  # StripByteCounts (as much as a LONG can say)
    ]
    ifd = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        ifd += struct.pack("<HHII", tag, kind, count, value)
    ifd += struct.pack("<I", 0)
    return b"II*\x00" + struct.pack("<I", 8) + ifd + b"\x00" * 64


def test_zero_byte_file(tmp_path):
    path = tmp_path / "empty.tif"
    path.touch()
    with pytest.raises(CorruptFileError, match=r"empty.tif.*empty \(0 bytes\)"):
        open_image(path)


def test_truncated_tiff(tmp_path):
    path = tmp_path / "cut.tif"
    tifffile.imwrite(path, np.ones((256, 256), dtype=np.uint16))
    path.write_bytes(path.read_bytes()[:40_000])
    with pytest.raises(CorruptFileError, match=r"cut.tif.*truncated"):
        open_image(path)


def test_truncated_dm3(shared_data, tmp_path):
    path = tmp_path / "cut.dm3"
    path.write_bytes((shared_data / "dm3/multi_signal.dm3").read_bytes()[:100_000])
    with pytest.raises(CorruptFileError, match=r"cut.dm3.*damaged or truncated"):
        open_image(path)


def test_header_claiming_100000_squared_is_refused_without_allocating(tmp_path):
    path = tmp_path / "huge.tif"
    path.write_bytes(_huge_tiff_header(100_000, 100_000))
    assert path.stat().st_size < 1000
    start = time.monotonic()
    with pytest.raises(FileTooLargeError, match=r"huge.tif.*100000 x 100000.*18.6 GiB"):
        open_image(path, memory_budget=4 * 1024**3)
    assert time.monotonic() - start < 10


def test_budget_applies_to_every_format(shared_data, tmp_path):
    with pytest.raises(FileTooLargeError, match="too large"):
        open_image(shared_data / "dm3/multi_signal.dm3", memory_budget=1000)
    png = tmp_path / "x.png"
    Image.fromarray(np.zeros((100, 100), np.uint8)).save(png)
    with pytest.raises(FileTooLargeError, match=r"x\.png"):
        open_image(png, memory_budget=1000)


def test_png_named_tif_opens(tmp_path):
    path = tmp_path / "really_a_png.tif"
    Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8)).save(path, format="PNG")
    image = open_image(path)
    assert image.format == "png"
    assert image.data[7, 7] == 63


def test_text_named_tif_is_reported_as_not_tiff(tmp_path):
    path = tmp_path / "notes.tif"
    path.write_text("this is not an image\n" * 20)
    with pytest.raises(CorruptFileError, match=r"notes.tif.*name says TIFF.*not a TIFF"):
        open_image(path)


def test_unknown_extension(tmp_path):
    path = tmp_path / "data.xyz"
    path.write_text("hello")
    with pytest.raises(UnsupportedFormatError, match=r"data.xyz.*not an image format"):
        open_image(path)


def test_directory_named_like_a_file(tmp_path):
    folder = tmp_path / "looks_like.tif"
    folder.mkdir()
    with pytest.raises(UnsupportedFormatError, match=r"looks_like.tif.*folder"):
        open_image(folder)


def test_nan_and_inf_floats_open_and_display(tmp_path):
    data = np.linspace(0, 1, 64 * 64, dtype=np.float32).reshape(64, 64)
    data[0, :5] = np.nan
    data[1, :5] = np.inf
    data[2, :5] = -np.inf
    path = tmp_path / "nan.tif"
    tifffile.imwrite(path, data)
    image = open_image(path)
    assert np.isnan(image.data[0, 0]) and np.isinf(image.data[1, 0])
    lo, hi = auto_levels(image.image, image.modality)
    assert np.isfinite(lo) and np.isfinite(hi) and 0 <= lo < hi <= 1
    assert np.all(np.isfinite(to_display(image.image, (lo, hi))))


def test_missing_codec_is_reported(tmp_path, monkeypatch):
    path = tmp_path / "jpegxl.tif"
    tifffile.imwrite(path, np.ones((8, 8), np.uint8), compression="zlib")

    def no_codec(self, *args, **kwargs):
        raise ValueError("<COMPRESSION.JPEGXL: 50002> requires the 'imagecodecs' package")

    monkeypatch.setattr(tifffile.TiffPageSeries, "asarray", no_codec)
    with pytest.raises(MissingCodecError, match=r"jpegxl.tif.*imagecodecs"):
        open_image(path)


def test_hanging_reader_is_cut_off(tmp_path):
    start = time.monotonic()
    with pytest.raises(ReadTimeoutError, match=r"slow.tif.*longer than 0.2 s"):
        run_with_timeout(lambda: time.sleep(5), tmp_path / "slow.tif", 0.2)
    assert time.monotonic() - start < 2


def test_open_image_gives_up_on_a_spinning_reader(tmp_path, monkeypatch):
    path = tmp_path / "spin.tif"
    tifffile.imwrite(path, np.zeros((4, 4), np.uint8))
    monkeypatch.setattr("crystalview.io.reader._read", lambda *args: time.sleep(3))
    start = time.monotonic()
    with pytest.raises(ReadTimeoutError, match=r"spin.tif.*longer than 0.3 s"):
        open_image(path, timeout_s=0.3)
    assert time.monotonic() - start < 2


def test_info_json_reports_bad_files_cleanly(tmp_path, capsys):
    good = tmp_path / "good.tif"
    tifffile.imwrite(good, np.ones((4, 6), np.uint8))
    empty = tmp_path / "empty.tif"
    empty.touch()
    folder = tmp_path / "dir.tif"
    folder.mkdir()
    copy = tmp_path / "copy.png"
    shutil.copy(good, copy)  # TIFF content under a PNG name: still opens
    status = cli_main(["info", "--json", str(good), str(empty), str(folder), str(copy)])
    out = capsys.readouterr().out
    records = json.loads(out)
    assert status == 1
    assert [r["ok"] for r in records] == [True, False, False, True]
    assert records[0]["shape"] == [4, 6] and records[0]["pixel_size"] is None
    assert "0 bytes" in records[1]["error"] and "folder" in records[2]["error"]
    assert set(records[0]) >= {
        "path",
        "format",
        "shape",
        "dtype",
        "frames",
        "pixel_size",
        "pixel_unit",
        "modality",
        "microscope",
        "beam_energy_kv",
        "magnification",
        "detector",
        "datasets",
        "ok",
        "error",
    }


def test_info_human_output_and_exit_status(tmp_path, capsys):
    good = tmp_path / "good.tif"
    tifffile.imwrite(good, np.ones((4, 6), np.uint8))
    assert cli_main(["info", str(good)]) == 0
    out = capsys.readouterr().out
    # text gives width x height (the window's convention); JSON keeps the array shape
    assert "good.tif" in out and "6 x 4 px uint8" in out and "uncalibrated" in out
