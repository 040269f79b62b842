"""Write heat maps to disk: the raw map as float32 TIFF, and an overlay picture as PNG.

The PNG is drawn with Pillow only (no Qt, no matplotlib) so the headless ``classify --cam-dir``
path and the window's export produce the same picture: the image with automatic contrast, the
heat map blended over it, a scale bar when the image is calibrated, and a colour-bar legend.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from crystalview.cam.colormaps import apply_colormap, blend_heatmap
from crystalview.cam.names import method_name
from crystalview.core.micrograph import Micrograph
from crystalview.core.units import format_length
from crystalview.io.display import auto_levels, to_display

# Overlays of huge images are downscaled so the PNG stays a picture, not a second data file (the
# full-resolution map is in the TIFF); tiny images are enlarged so legend and labels fit.
MAX_PNG_SIDE = 2048
MIN_PNG_SIDE = 256


def save_cam_tiff(
    path: str | Path,
    heatmap: np.ndarray,
    downsampled: int = 1,
    file_shape: tuple[int, int] | None = None,
) -> Path:
    """Write ``heatmap`` as a single-page float32 TIFF and return the path.

    The values are stored unchanged (CrystalView's maps are 0..1), so other tools can threshold or
    re-colour them. The map of an image larger than memory covers every ``downsampled``-th
    pixel of the image (``file_shape``): the TIFF says so in its description (JSON, see
    `cam_tiff_description`) and in its resolution tags (``1/downsampled`` map pixels per image
    pixel, no absolute unit), so map pixel ``(r, c)`` can be found again at image pixel
    ``(r·n, c·n)``.
    """
    import tifffile

    path = Path(path)
    array = np.asarray(heatmap, dtype=np.float32)
    if array.ndim != 2:
        raise ValueError(f"a heat map must be 2-D, got shape {array.shape}")
    if downsampled == 1:
        tifffile.imwrite(path, array, photometric="minisblack")
        return path
    tifffile.imwrite(
        path,
        array,
        photometric="minisblack",
        description=cam_tiff_description(downsampled, file_shape or array.shape),
        metadata=None,
        resolution=(1.0 / downsampled, 1.0 / downsampled),
        resolutionunit=1,
    )
    return path


CAM_DESCRIPTION_KEY = "CrystalView heat map"


def cam_tiff_description(downsampled: int, file_shape: tuple[int, int]) -> str:
    """The JSON description of a downsampled map: the step and the image's own size."""
    import json

    return json.dumps(
        {
            CAM_DESCRIPTION_KEY: {
                "downsampled": int(downsampled),
                "image_height": int(file_shape[0]),
                "image_width": int(file_shape[1]),
                "map pixel (row, col)": "image pixel (row * downsampled, col * downsampled)",
            }
        }
    )


# Fonts with the µ and Å glyphs that scale-bar labels need, tried in order (Linux, Windows and
# macOS names); Pillow's built-in font lacks µ, so labels are spelled in ASCII with it.
_FONT_CANDIDATES = ("DejaVuSans.ttf", "arial.ttf", "Arial.ttf", "Helvetica.ttc")


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    for name in _FONT_CANDIDATES:
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType: fixed-size bitmap font
        return ImageFont.load_default()


def _printable(text: str, font: ImageFont.ImageFont | ImageFont.FreeTypeFont) -> str:
    """``text`` with µ spelled ``u`` when the font is Pillow's built-in one (no µ glyph)."""
    path = getattr(font, "path", "")
    if isinstance(path, str) and any(path.endswith(name) for name in _FONT_CANDIDATES):
        return text
    return text.replace("µ", "u").replace("Å", "A")


def _nice_length(target: float) -> float:
    """The 1-2-5 series value not above ``target`` (a scale bar reads "200 nm", not "173 nm")."""
    exponent = math.floor(math.log10(target))
    base = 10.0**exponent
    for step in (5.0, 2.0, 1.0):
        if step * base <= target:
            return step * base
    return base


def _resize(array: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    if array.shape == shape:
        return array
    image = Image.fromarray(np.ascontiguousarray(array, dtype=np.float32), mode="F")
    return np.asarray(image.resize((shape[1], shape[0]), Image.Resampling.BILINEAR))


def _draw_scale_bar(
    draw: ImageDraw.ImageDraw, width: int, height: int, pixel_size: float, unit: str
) -> None:
    length = _nice_length(0.2 * width * pixel_size)
    bar_px = max(1, round(length / pixel_size))
    label = format_length(length, reciprocal=unit == "1/nm")
    margin = max(4, width // 50)
    thickness = max(3, height // 120)
    font = _font(max(10, height // 35))
    label = _printable(label, font)
    text_box = draw.textbbox((0, 0), label, font=font)
    text_h = text_box[3] - text_box[1]
    x0, y1 = margin, height - margin
    y0 = y1 - thickness
    backdrop = (x0 - margin // 2, y0 - text_h - 2 * margin, x0 + bar_px + margin // 2, y1 + 2)
    draw.rectangle(backdrop, fill=(0, 0, 0))
    draw.rectangle((x0, y0, x0 + bar_px, y1), fill=(255, 255, 255))
    draw.text((x0, y0 - text_h - margin), label, fill=(255, 255, 255), font=font)


def _colour_bar(height: int, colormap: str, label: str) -> Image.Image:
    """A vertical legend: the colour ramp (1 at the top) with ticks at 0, 0.5 and 1."""
    font = _font(max(10, height // 40))
    bar_w = max(12, height // 30)
    pad = max(6, height // 60)
    text_w = int(font.getlength("0.5")) + pad
    label_h = font.getbbox(label or "0")[3] if label else 0
    label_w = int(font.getlength(label)) + 2 * pad if label else 0
    panel_w = max(pad + bar_w + pad + text_w + pad, label_w)
    panel = Image.new("RGB", (panel_w, height), (255, 255, 255))
    top, bottom = pad * 2 + label_h, height - pad * 2
    ramp = np.linspace(1.0, 0.0, max(2, bottom - top))[:, None].repeat(bar_w, axis=1)
    panel.paste(Image.fromarray(apply_colormap(ramp, colormap), mode="RGB"), (pad, top))
    draw = ImageDraw.Draw(panel)
    draw.rectangle((pad, top, pad + bar_w, bottom), outline=(0, 0, 0))
    for value in (0.0, 0.5, 1.0):
        y = round(bottom - value * (bottom - top))
        draw.line((pad + bar_w, y, pad + bar_w + pad // 2, y), fill=(0, 0, 0))
        box = draw.textbbox((0, 0), f"{value:g}", font=font)
        # Centred on the tick by hand: bitmap fonts (Pillow without FreeType) have no anchors.
        text_y = y - (box[1] + box[3]) // 2
        draw.text((pad + bar_w + pad, text_y), f"{value:g}", fill=(0, 0, 0), font=font)
    if label:
        draw.text((pad, pad // 2), _printable(label, font), fill=(0, 0, 0), font=font)
    return panel


def render_overlay(
    image2d: np.ndarray,
    heatmap: np.ndarray,
    micrograph: Micrograph | None = None,
    colormap: str = "inferno",
    opacity: float = 0.5,
    title: str | None = None,
    max_side: int = MAX_PNG_SIDE,
    method: str | None = None,
) -> Image.Image:
    """Compose image + heat map + scale bar + colour bar into a Pillow RGB image.

    Parameters
    ----------
    image2d
        The image the map explains, any numeric dtype; shown with automatic (percentile)
        contrast, on a log scale for diffraction.
    heatmap
        Map of the same height and width, values 0..1.
    micrograph
        Supplies the calibration for the scale bar and whether to use log contrast; omit it for
        an uncalibrated picture without a scale bar.
    colormap, opacity
        Colour map name (see `crystalview.cam.colormaps.COLORMAPS`) and heat-map opacity 0..1.
    title
        Drawn above the picture (e.g. the file name and class).
    method
        The method that made the map (``"gradcam"`` …), named in the legend.
    max_side
        Larger images are downscaled to this many pixels on their long side; images under
        ``MIN_PNG_SIDE`` are enlarged to it.
    """
    image2d = np.asarray(image2d)
    heatmap = np.asarray(heatmap, dtype=np.float32)
    if image2d.shape != heatmap.shape:
        raise ValueError(f"heat map {heatmap.shape} does not match image {image2d.shape}")
    height, width = image2d.shape
    scale = min(max_side, max(MIN_PNG_SIDE, height, width)) / max(height, width)
    shape = (max(1, round(height * scale)), max(1, round(width * scale)))
    log = bool(micrograph is not None and micrograph.is_diffraction)
    grey = to_display(image2d, auto_levels(image2d, log), log=log)
    grey = _resize(grey, shape)
    heat = np.clip(_resize(heatmap, shape), 0.0, 1.0)

    picture = Image.fromarray(blend_heatmap(grey, heat, colormap, opacity), mode="RGB")

    if micrograph is not None and micrograph.pixel_size is not None and micrograph.pixel_unit:
        # After downscaling one drawn pixel covers 1/scale image pixels.
        _draw_scale_bar(
            ImageDraw.Draw(picture),
            shape[1],
            shape[0],
            micrograph.pixel_size / scale,
            micrograph.pixel_unit,
        )

    legend = _colour_bar(shape[0], colormap, method_name(method))
    title_h = 0
    title_font = _font(max(12, shape[0] // 30))
    if title:
        box = ImageDraw.Draw(picture).textbbox((0, 0), title, font=title_font)
        title_h = box[3] - box[1] + 12
    canvas = Image.new("RGB", (shape[1] + legend.width, shape[0] + title_h), (255, 255, 255))
    canvas.paste(picture, (0, title_h))
    canvas.paste(legend, (shape[1], title_h))
    if title:
        ImageDraw.Draw(canvas).text((4, 4), title, fill=(0, 0, 0), font=title_font)
    return canvas


def render_overlay_png(
    path: str | Path,
    image2d: np.ndarray,
    heatmap: np.ndarray,
    micrograph: Micrograph | None = None,
    colormap: str = "inferno",
    opacity: float = 0.5,
    title: str | None = None,
    method: str | None = None,
) -> Path:
    """Render `render_overlay` and save it as PNG at ``path``; returns the path."""
    path = Path(path)
    picture = render_overlay(image2d, heatmap, micrograph, colormap, opacity, title, method=method)
    picture.save(path, format="PNG")
    return path


def write_cam_outputs(
    out_dir: str | Path,
    stem: str,
    image2d: np.ndarray,
    heatmap: np.ndarray,
    micrograph: Micrograph | None = None,
    title: str | None = None,
    method: str | None = None,
    downsampled: int = 1,
    file_shape: tuple[int, int] | None = None,
) -> tuple[Path, Path]:
    """Write ``<stem>_cam.tif`` (float32 map, the image's height and width) and ``<stem>_cam.png``.

    Returns the two paths. The folder is created when missing. For an image larger than memory
    ``image2d`` and ``heatmap`` are every ``downsampled``-th pixel of the image of
    ``file_shape`` (see `save_cam_tiff`).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    heatmap = np.asarray(heatmap, dtype=np.float32)
    if heatmap.shape != np.shape(image2d):
        raise ValueError(f"heat map {heatmap.shape} does not match image {np.shape(image2d)}")
    tiff_path = save_cam_tiff(out_dir / f"{stem}_cam.tif", heatmap, downsampled, file_shape)
    png_path = render_overlay_png(
        out_dir / f"{stem}_cam.png", image2d, heatmap, micrograph, title=title, method=method
    )
    return tiff_path, png_path
