"""Writing heat maps: the float32 TIFF and the overlay PNG (Pillow only)."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from PIL import Image

from crystalview.cam.colormaps import COLORMAPS, apply_colormap, colormap_lut
from crystalview.cam.export import render_overlay, save_cam_tiff, write_cam_outputs
from crystalview.core.micrograph import Micrograph, Modality


def _scene(shape=(160, 300)):
    rng = np.random.default_rng(0)
    image = rng.integers(100, 4000, size=shape).astype(np.uint16)
    heatmap = np.zeros(shape, dtype=np.float32)
    heatmap[20:60, 120:180] = np.linspace(0, 1, 60, dtype=np.float32)[None, :]
    return image, heatmap


def test_write_cam_outputs_writes_float32_map_and_png(tmp_path):
    image, heatmap = _scene()
    micrograph = Micrograph(image, pixel_size=0.8, pixel_unit="nm", modality=Modality.SEM)
    tif, png = write_cam_outputs(tmp_path / "out", "sample", image, heatmap, micrograph)
    assert (tif.name, png.name) == ("sample_cam.tif", "sample_cam.png")
    written = tifffile.imread(tif)
    assert written.dtype == np.float32 and written.shape == image.shape
    assert written.min() >= 0.0 and written.max() <= 1.0
    np.testing.assert_array_equal(written, heatmap)
    with Image.open(png) as picture:
        assert picture.format == "PNG" and picture.mode == "RGB"
        assert picture.height == image.shape[0] and picture.width > image.shape[1]  # + legend


def test_write_cam_outputs_refuses_a_misaligned_map(tmp_path):
    image, heatmap = _scene()
    with pytest.raises(ValueError, match="does not match"):
        write_cam_outputs(tmp_path, "x", image, heatmap.T)


def test_save_cam_tiff_refuses_non_2d(tmp_path):
    with pytest.raises(ValueError, match="2-D"):
        save_cam_tiff(tmp_path / "x.tif", np.zeros((2, 3, 4)))


def test_overlay_shows_the_heat_where_the_map_is_hot():
    image = np.full((200, 320), 1000, dtype=np.uint16)
    image[::2] = 1200  # some texture so the contrast stretch has a range
    heatmap = np.zeros((200, 320), dtype=np.float32)
    heatmap[20:80, 200:300] = 1.0
    picture = np.asarray(render_overlay(image, heatmap, opacity=0.6))
    hot, cold = picture[40:60, 220:280].astype(int), picture[120:180, 40:120].astype(int)
    top = colormap_lut("inferno")[-1].astype(int)
    # Hot region: tinted towards the colour map's top (pale yellow: red > blue).
    assert (hot[..., 0] - hot[..., 2]).mean() > 30
    assert np.abs(hot.mean(axis=(0, 1)) - (0.4 * 127 + 0.6 * top)).max() < 60
    assert (cold[..., 0] - cold[..., 2]).mean() < 30


def test_scale_bar_and_title_are_drawn_only_when_given():
    image, heatmap = _scene()
    plain = np.asarray(render_overlay(image, heatmap))
    calibrated = Micrograph(image, pixel_size=2.0, pixel_unit="nm")
    with_bar = np.asarray(render_overlay(image, heatmap, calibrated))
    assert plain.shape == with_bar.shape
    corner = (slice(image.shape[0] - 30, image.shape[0]), slice(0, 80))
    assert not np.array_equal(plain[corner], with_bar[corner])
    untouched = (slice(0, 60), slice(90, 200))
    np.testing.assert_array_equal(plain[untouched], with_bar[untouched])
    titled = render_overlay(image, heatmap, title="sample.tif: grain")
    assert titled.height > plain.shape[0]


def test_large_images_are_downscaled_and_tiny_ones_enlarged_in_the_png():
    image = np.zeros((300, 5000), dtype=np.uint16)
    picture = render_overlay(image, np.zeros(image.shape, np.float32))
    assert picture.width < 2600 and picture.height < 300
    tiny = render_overlay(np.zeros((8, 16)), np.ones((8, 16), np.float32))
    assert tiny.height == 128


def test_diffraction_overlay_uses_log_contrast():
    # A log ramp lifts the faint majority of a pattern: the mean grey level must rise.
    pattern = np.random.default_rng(0).uniform(0, 1000, (256, 256)).astype(np.float32)
    heat = np.zeros_like(pattern)
    saed = Micrograph(pattern, pixel_size=0.05, pixel_unit="1/nm", modality=Modality.SAED)
    log_view = np.asarray(render_overlay(pattern, heat, saed, opacity=0.0))[:, :256]
    lin_view = np.asarray(render_overlay(pattern, heat, None, opacity=0.0))[:, :256]
    assert log_view.mean() > lin_view.mean() + 40


def test_colormaps():
    for name in COLORMAPS:
        lut = colormap_lut(name)
        assert lut.shape == (256, 3) and lut.dtype == np.uint8
    luminance = colormap_lut("inferno").astype(float) @ [0.299, 0.587, 0.114]
    assert np.all(np.diff(luminance) > -1.0)  # dark to bright, as a heat map should read
    rgb = apply_colormap(np.array([[0.0, np.nan, 2.0]]))
    assert rgb.shape == (1, 3, 3)
    np.testing.assert_array_equal(rgb[0, 0], rgb[0, 1])
    np.testing.assert_array_equal(rgb[0, 2], colormap_lut()[-1])
    with pytest.raises(ValueError, match="inferno"):
        colormap_lut("rainbow")


def test_one_blend_for_the_window_the_png_and_the_wizard():
    from crystalview.cam.colormaps import apply_colormap, blend_heatmap

    grey = np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)
    heat = grey[::-1].copy()
    np.testing.assert_array_equal(blend_heatmap(grey, heat, opacity=1.0), apply_colormap(heat))
    plain = np.repeat(np.rint(grey * 255).astype(np.uint8)[..., None], 3, axis=2)
    np.testing.assert_array_equal(blend_heatmap(grey, heat, opacity=0.0), plain)
    half = blend_heatmap(grey, heat, opacity=0.5).astype(float)
    expected = 0.5 * plain + 0.5 * apply_colormap(heat)
    assert np.abs(half - expected).max() <= 0.5 + 1e-6
