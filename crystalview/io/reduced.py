"""A TIFF mosaic larger than the memory budget, read at reduced resolution for viewing.

The full-resolution reader refuses an image whose pixels do not fit the budget. For looking at
such a mosaic, `open_reduced` reads a smaller picture instead: every n-th pixel of every n-th
row (n the smallest step that fits) through the region readers (`crystalview.io.tiff_regions`),
one band of rows at a time, so the whole image is never held; when the file's producer wrote
a pyramid, the level that fits is read instead (or strided, when none fits). The `Micrograph`
says how much it was reduced (``downsampled``, and the file's own size in ``metadata``), and
its pixel size is that of the reduced picture, so scale bars and measurements stay right.
Zoomed in, the window reads the part in view finer (`crystalview.io.detail`).

The reduced picture is for viewing: classification of such a file runs region by region at
full resolution (`crystalview.inference.regions`), never on this picture.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from crystalview.core.errors import FileTooLargeError
from crystalview.core.memory import format_bytes, memory_budget_bytes
from crystalview.core.micrograph import Micrograph
from crystalview.io.dataset import build_micrograph
from crystalview.io.detail import level_step
from crystalview.io.tiff_regions import RegionImage, locate_levels, strided_read

VIEW_COPIES = 4
"""Bytes per stored byte the window needs to show an image (display copy, levels, thumbnail)."""
REDUCED_KEY = "CrystalView reduced view"
"""Metadata entry of a reduced picture: the file's own size and the reduction."""


def reduction_step(shape: tuple[int, int], itemsize: int, budget: int) -> int:
    """The smallest whole step whose every-step-th-pixel picture fits ``budget`` to show."""
    height, width = shape
    step = max(1, math.ceil(math.sqrt(height * width * itemsize * VIEW_COPIES / budget)))
    while math.ceil(height / step) * math.ceil(width / step) * itemsize * VIEW_COPIES > budget:
        step += 1
    return step


def open_reduced(path: str | Path, budget: int | None = None) -> Micrograph:
    """The image of the TIFF at ``path``, reduced until it fits ``budget`` to show.

    A pyramid level of the file is read when one fits (`reduced_source`), else every n-th
    pixel of the level that gives the finest picture. Raises `FileTooLargeError` when the
    file cannot be read by region (colour, several pages, or one strip holding the whole
    image).
    """
    path = Path(path)
    budget = memory_budget_bytes() if budget is None else budget
    levels = locate_levels(path)
    if not levels:
        raise FileTooLargeError(
            f"{path}: larger than the memory budget of {format_bytes(budget)}, and it cannot be "
            "read at reduced resolution (only single grey TIFF images stored contiguous, or in "
            "strips or tiles, can); raise the budget (CRYSTALVIEW_MEMORY_BUDGET_MB)."
        )
    level, step = reduced_source(levels, budget)
    return read_reduced(levels[level], step, levels[0].shape, level_step(levels, level))


def reduced_source(levels: list[RegionImage], budget: int) -> tuple[int, int]:
    """``(level, step)``: the pyramid level and the stride over it that give the finest
    picture fitting ``budget`` to show (the coarser level when two are as fine, as it reads
    less)."""
    best = None
    for index, image in enumerate(levels):
        step = reduction_step(image.shape, image.dtype.itemsize, budget)
        factor = level_step(levels, index) * step
        if best is None or factor <= best[0] * (1 + 1e-9):
            best = (factor, index, step)
    return best[1], best[2]


def read_reduced(
    image: RegionImage,
    step: int,
    file_shape: tuple[int, int] | None = None,
    level_scale: float = 1.0,
) -> Micrograph:
    """Every ``step``-th pixel of every ``step``-th row of ``image`` (a level ``level_scale``
    times smaller than the file's image of ``file_shape``, or that image itself), as a
    reduced `Micrograph`: the picture the window shows, and the one a huge image's
    heat-map overlay is drawn on."""
    import tifffile

    from crystalview.io.tiff import tag_facts

    data = strided_read(image, step)
    with tifffile.TiffFile(image.path) as tif:
        facts = tag_facts(image.path, tif)
    micrograph = build_micrograph(image.path, np.ascontiguousarray(data), facts, "tiff")
    source = f"every {step}th pixel" if step > 1 else "every pixel"
    if image.level:
        source = f"pyramid level {image.level}, {source}"
    return as_reduced(micrograph, level_scale * step, file_shape or image.shape, source)


def as_reduced(
    micrograph: Micrograph, factor: float, full_shape: tuple[int, int], source: str
) -> Micrograph:
    """Mark ``micrograph`` as the file's image reduced ``factor`` times: scale the pixel
    sizes to the reduced pixels and note the file's own size."""
    micrograph.downsampled = factor
    if micrograph.pixel_size is not None:
        micrograph.pixel_size *= factor
    if micrograph.pixel_size_y is not None:
        micrograph.pixel_size_y *= factor
    micrograph.metadata = {
        **micrograph.metadata,
        REDUCED_KEY: {
            "full_height": int(full_shape[0]),
            "full_width": int(full_shape[1]),
            "reduction": factor,
            "read as": source,
        },
    }
    return micrograph


def full_shape(micrograph: Micrograph) -> tuple[int, int]:
    """The file's own height and width (the shown size for an image that is not reduced)."""
    entry = micrograph.metadata.get(REDUCED_KEY)
    if not entry:
        return micrograph.shape
    return int(entry["full_height"]), int(entry["full_width"])
