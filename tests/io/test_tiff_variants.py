"""Generated TIFFs of every variant the readers must handle."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from crystalview.core.errors import FileTooLargeError
from crystalview.io import open_image, open_images, read_thumbnail


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.uint32, np.int16, np.int32])
def test_integer_depths(write_tiff, gradient, dtype):
    data = gradient.astype(dtype)
    image = open_image(write_tiff("int.tif", data))
    assert image.data.dtype == dtype
    np.testing.assert_array_equal(image.data, data)
    assert image.pixel_size is None and image.pixel_unit is None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_floats(write_tiff, gradient, dtype):
    data = gradient.astype(dtype) / 7.0
    image = open_image(write_tiff("float.tif", data))
    assert image.data.dtype == dtype
    np.testing.assert_allclose(image.data, data)


@pytest.mark.parametrize("compression", ["lzw", "deflate", "zstd", "packbits", "lzma"])
def test_compressions(write_tiff, gradient, compression):
    image = open_image(write_tiff(f"{compression}.tif", gradient, compression=compression))
    np.testing.assert_array_equal(image.data, gradient)


def test_bigtiff_and_big_endian(write_tiff, gradient):
    big = open_image(write_tiff("big.tif", gradient, bigtiff=True))
    np.testing.assert_array_equal(big.data, gradient)
    swapped = open_image(write_tiff("be.tif", gradient, byteorder=">"))
    np.testing.assert_array_equal(swapped.data, gradient)
    assert swapped.data.dtype.isnative


def test_rgb_and_rgba_shown_grey_original_kept(write_tiff):
    rgb = np.zeros((16, 20, 3), dtype=np.uint8)
    rgb[..., 0] = 200
    image = open_image(write_tiff("rgb.tif", rgb, photometric="rgb"))
    assert image.data.shape == (16, 20)
    assert image.data[0, 0] == round(0.299 * 200)
    np.testing.assert_array_equal(image.color, rgb)
    rgba = np.concatenate([rgb, np.full((16, 20, 1), 255, np.uint8)], axis=-1)
    image = open_image(write_tiff("rgba.tif", rgba, photometric="rgb", extrasamples=["unassalpha"]))
    assert image.data.shape == (16, 20) and image.color.shape == (16, 20, 4)


def test_palette(write_tiff):
    indices = np.tile(np.arange(4, dtype=np.uint8), (8, 2))
    colormap = np.zeros((3, 256), dtype=np.uint16)
    colormap[0, 1] = 65535  # index 1 is red
    colormap[1, 2] = 65535  # index 2 is green
    image = open_image(write_tiff("pal.tif", indices, photometric="palette", colormap=colormap))
    assert image.color is not None and image.color.shape == (8, 8, 3)
    assert image.data[0, 2] > image.data[0, 1] > image.data[0, 0]


def test_stack_and_multipage(write_tiff, gradient):
    stack = np.stack([gradient, gradient + 1, gradient + 2])
    image = open_image(write_tiff("stack.tif", stack, photometric="minisblack"))
    assert image.data.shape == (3, 32, 48) and image.n_frames == 3
    np.testing.assert_array_equal(image.image, gradient)


def test_different_pages_are_separate_datasets(tmp_path, gradient):
    path = tmp_path / "two.tif"
    with tifffile.TiffWriter(path) as writer:
        writer.write(gradient)
        writer.write(gradient[:10, :10].astype(np.uint8))
    images = open_images(path)
    assert [image.shape for image in images] == [(32, 48), (10, 10)]
    assert images[1].dataset_count == 2
    primary = open_image(path)
    assert primary.shape == (32, 48) and primary.dataset_count == 2


def test_open_image_decodes_only_the_primary_and_budget_counts_all(tmp_path, gradient):
    path = tmp_path / "two.tif"
    with tifffile.TiffWriter(path) as writer:
        writer.write(gradient)  # 3072 bytes
        writer.write(gradient[:10, :10].astype(np.uint8))  # 100 bytes
    assert open_image(path, memory_budget=3100).shape == (32, 48)
    with pytest.raises(FileTooLargeError, match=r"two.tif.*2 images.*together"):
        open_images(path, memory_budget=3100)


@pytest.mark.parametrize(
    ("unit", "expected_nm"), [("micron", 250.0), ("nm", 0.25), ("\\u00B5m", 250.0)]
)
def test_imagej_calibration(write_tiff, gradient, unit, expected_nm):
    path = write_tiff(
        "ij.tif", gradient, imagej=True, resolution=(4.0, 4.0), metadata={"unit": unit}
    )
    image = open_image(path)
    assert image.pixel_unit == "nm"
    assert image.pixel_size == pytest.approx(expected_nm)


def test_pyramid_thumbnail_uses_reduced_level(tmp_path):
    path = tmp_path / "pyramid.tif"
    full = np.zeros((512, 512), dtype=np.uint8)
    full[:, 256:] = 255
    with tifffile.TiffWriter(path, ome=True) as writer:
        writer.write(full, subifds=1, tile=(64, 64), compression="zlib")
        writer.write(full[::4, ::4], subfiletype=1, tile=(64, 64), compression="zlib")
    with tifffile.TiffFile(path) as tif:
        assert [level.shape for level in tif.series[0].levels] == [(512, 512), (128, 128)]
    thumb = read_thumbnail(path, max_size=128)
    assert thumb.shape == (128, 128)
    assert thumb[:, :64].max() == 0.0 and thumb[:, 64:].min() == 1.0


def test_uncompressed_thumbnail_is_strided(write_tiff):
    data = np.arange(1000 * 800, dtype=np.uint16).reshape(1000, 800)
    thumb = read_thumbnail(write_tiff("plain.tif", data), max_size=100)
    assert max(thumb.shape) <= 100 and thumb.dtype == np.float32


def test_thumbnail_uses_log_scale_when_metadata_says_diffraction(write_tiff):
    data = np.full((128, 128), 10, dtype=np.uint16)
    data[60:68, 60:68] = 60000  # direct beam
    data[20:24, 100:104] = 200  # one weak reflection (asymmetric: content alone says "no")
    plain = read_thumbnail(write_tiff("plain.tif", data), max_size=128)
    calibrated = write_tiff(
        "saed.tif", data, imagej=True, resolution=(4.0, 4.0), metadata={"unit": "1/nm"}
    )
    assert str(open_image(calibrated).modality) == "SAED"
    logged = read_thumbnail(calibrated, max_size=128)
    assert logged[21, 101] > plain[21, 101] + 0.2
