"""Generated files for vendor metadata, MRC and Pillow formats (no real data needed)."""

from __future__ import annotations

import codecs

import mrcfile
import numpy as np
import pytest
import tifffile
from PIL import Image

from crystalview.core.errors import CorruptFileError
from crystalview.io import open_image

FEI_INI = (
    "[User]\r\nDate=01/02/2024\r\n[System]\r\nType=SEM\r\nSystemType=Quanta FEG 250\r\n"
    "[Beam]\r\nHV=15000\r\nBeam=EBeam\r\nScan=EScan\r\n[EBeam]\r\nHV=15000\r\n"
    "[Scan]\r\nPixelWidth=2.5e-09\r\nPixelHeight=2.5e-09\r\n"
    "[EScan]\r\nPixelWidth=2.5e-09\r\nPixelHeight=2.5e-09\r\n[Detectors]\r\nName=ETD\r\nMode=SE\r\n"
)
ZEISS_TEXT = (
    "0\r\nAP_IMAGE_PIXEL_SIZE\r\nImage Pixel Size = 4.5 nm\r\nAP_ACTUALKV\r\nEHT = 5.00 kV\r\n"
    "DP_DETECTOR_TYPE\r\nDetector = InLens\r\nSV_SERIAL_NUMBER\r\nSerial No. = Merlin-1\r\n"
)
HITACHI_SIDECAR = (
    "[SemImageFile]\r\nInstructName=TM0000\r\nDataSize=30x20\r\nPixelSize=12.5\r\n"
    "Magnification=5000\r\nAcceleratingVoltage=5000 Volt\r\nSignalName=SE\r\n"
)


def test_fei_sem_tag(tmp_path):
    path = tmp_path / "fei.tif"
    tifffile.imwrite(path, np.zeros((20, 30), np.uint8), extratags=[(34682, "s", 0, FEI_INI, True)])
    image = open_image(path)
    assert (image.pixel_size, image.pixel_unit, str(image.modality)) == (2.5, "nm", "SEM")
    assert image.instrument.microscope == "Quanta FEG 250"
    assert image.instrument.beam_energy_kv == 15.0 and image.instrument.detector == "ETD SE"


def test_zeiss_sem_tag(tmp_path):
    path = tmp_path / "zeiss.tif"
    tifffile.imwrite(
        path, np.zeros((20, 30), np.uint8), extratags=[(34118, "s", 0, ZEISS_TEXT, True)]
    )
    image = open_image(path)
    assert (image.pixel_size, image.pixel_unit, str(image.modality)) == (4.5, "nm", "SEM")
    assert image.instrument.detector == "InLens" and image.instrument.beam_energy_kv == 5.0


def test_hitachi_utf16_sidecar(tmp_path):
    path = tmp_path / "hitachi.tif"
    tifffile.imwrite(path, np.zeros((20, 30), np.uint8))
    path.with_suffix(".txt").write_bytes(codecs.BOM_UTF16_LE + HITACHI_SIDECAR.encode("utf-16-le"))
    image = open_image(path)
    assert (image.pixel_size, image.pixel_unit, str(image.modality)) == (12.5, "nm", "SEM")
    assert image.instrument.microscope == "TM0000"
    assert image.instrument.beam_energy_kv == 5.0 and image.instrument.magnification == 5000


def test_mrc_with_voxel_size(tmp_path):
    path = tmp_path / "stack.mrc"
    data = np.arange(3 * 8 * 10, dtype=np.int16).reshape(3, 8, 10)
    with mrcfile.new(path) as mrc:
        mrc.set_data(data)
        mrc.voxel_size = 2.5  # Å
    image = open_image(path)
    assert image.data.shape == (3, 8, 10) and image.n_frames == 3
    np.testing.assert_array_equal(image.data, data)
    assert (image.pixel_size, image.pixel_unit) == (pytest.approx(0.25), "nm")


@pytest.mark.filterwarnings("ignore:Error opening memmap")
def test_truncated_mrc(tmp_path):
    path = tmp_path / "cut.mrc"
    with mrcfile.new(path) as mrc:
        mrc.set_data(np.zeros((64, 64), np.float32))
    path.write_bytes(path.read_bytes()[:3000])
    with pytest.raises(CorruptFileError, match=r"cut.mrc.*truncated"):
        open_image(path)


@pytest.mark.parametrize("suffix", [".png", ".bmp", ".jpg"])
def test_plain_raster(tmp_path, suffix):
    grey = np.tile(np.arange(0, 250, 10, dtype=np.uint8), (10, 1))
    path = tmp_path / f"grey{suffix}"
    Image.fromarray(grey).save(path)
    image = open_image(path)
    assert image.shape == (10, 25) and image.pixel_size is None
    assert abs(int(image.data[0, 10]) - 100) <= 3  # JPEG is lossy


def test_sixteen_bit_png(tmp_path):
    data = np.arange(0, 60000, 600, dtype=np.uint16).reshape(10, 10)
    path = tmp_path / "deep.png"
    Image.fromarray(data).save(path)
    image = open_image(path)
    assert image.data.dtype == np.uint16
    np.testing.assert_array_equal(image.data, data)


def test_colour_and_palette_png_are_grey_with_colour_kept(tmp_path):
    rgb = np.zeros((6, 6, 3), np.uint8)
    rgb[..., 1] = 255
    Image.fromarray(rgb).save(tmp_path / "green.png")
    image = open_image(tmp_path / "green.png")
    assert image.data.shape == (6, 6) and image.data[0, 0] == round(0.587 * 255)
    assert image.color.shape == (6, 6, 3)
    Image.fromarray(rgb).convert("P").save(tmp_path / "pal.png")
    palette = open_image(tmp_path / "pal.png")
    assert palette.color is not None and palette.data[0, 0] == image.data[0, 0]


def test_truncated_png(tmp_path):
    path = tmp_path / "cut.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (200, 200), dtype=np.uint8)).save(path)
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(CorruptFileError, match=r"cut.png.*(damaged|truncated)"):
        open_image(path)
