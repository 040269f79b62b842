"""Small previews for the gallery, cheap even for 16k x 16k images.

For TIFFs we avoid decoding the full image when we can: a pyramid's reduced-resolution level
(SubIFDs or reduced pages) just above the thumbnail size is decoded instead, and an uncompressed
image is memory-mapped and sampled with a stride so only the touched rows are read from disk.
A single grey image in compressed tiles or strips is sampled with a stride through the segment
reader (`crystalview.io.tiff_regions`), one band of segments at a time, skipping the segments
that hold no sampled pixel, so a mosaic larger than memory gets a thumbnail too; other
compressed images are decoded once. Other formats go through `open_image`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from crystalview.core.errors import CrystalViewError
from crystalview.core.micrograph import Modality
from crystalview.io.dataset import PendingImage
from crystalview.io.display import auto_levels, to_display
from crystalview.io.modality import looks_like_diffraction, modality_from_metadata
from crystalview.io.reader import open_image
from crystalview.io.registry import detect_format
from crystalview.io.safety import DEFAULT_TIMEOUT_S, check_budget, check_file, run_with_timeout
from crystalview.io.tiff_regions import SegmentedImage, locate_levels, strided_read


def _stride_sample(image: np.ndarray, max_size: int) -> np.ndarray:
    step = max(1, int(np.ceil(max(image.shape[:2]) / max_size)))
    return np.asarray(image[::step, ::step])


def _first_image_sampled(data: np.ndarray, axes: str, max_size: int) -> tuple[np.ndarray, str]:
    """The first image of ``data`` (axes named by tifffile in ``axes``) with every n-th row and
    column, so at most about ``max_size`` of each are read from a memory map; a sample axis
    (``S``: colour channels) is kept. Returns the array and its remaining axes."""
    if len(axes) != data.ndim or "Y" not in axes or "X" not in axes:
        return np.asarray(data), axes
    step = max(
        1, int(np.ceil(max(data.shape[axes.index("Y")], data.shape[axes.index("X")]) / max_size))
    )
    index = tuple(
        slice(None, None, step) if a in "YX" else slice(None) if a == "S" else 0 for a in axes
    )
    kept = "".join(a for a in axes if a in "YXS")
    return np.asarray(data[index]), kept


def _tiff_preview(path: Path, max_size: int, budget: int | None) -> tuple[np.ndarray, bool]:
    """A small 2-D array of the primary series, and whether it is a diffraction pattern.

    The cheapest level of the series that is still at least ``max_size`` is used; an
    uncompressed level is memory-mapped and sampled with a stride instead of decoded.
    """
    import tifffile

    from crystalview.io.tiff import image_series, read_tiff, split_color

    primary = min(read_tiff(path), key=PendingImage.primary_rank)
    facts = primary.facts
    instrument = facts.instrument
    verdict = modality_from_metadata(
        facts.mode_pairs,
        facts.calibration.unit,
        facts.family,
        instrument.detector,
        instrument.microscope,
        instrument.beam_energy_kv,
    )
    with tifffile.TiffFile(path) as tif:
        series = image_series(tif)[facts.metadata["tiff"]["series"]]
        levels = list(series.levels) or [series]
        chosen = levels[0]
        for level in levels[1:]:
            if max(level.shape[-3:-1] if "S" in level.axes[-1:] else level.shape[-2:]) < max_size:
                break
            chosen = level
        dtype = np.dtype(tif.byteorder + chosen.dtype.char)
        page = chosen.pages[0]
        axes = chosen.axes
        memmappable = chosen.dataoffset is not None and dtype.isnative and page.photometric != 3
        segmented = None
        if not memmappable and facts.metadata["tiff"]["series"] == 0:
            segmented = _segmented_level(path, levels.index(chosen))
        if memmappable:
            data = np.memmap(
                path, dtype=dtype, mode="r", offset=chosen.dataoffset, shape=chosen.shape
            )
        elif segmented is not None:  # compressed tiles or strips: a strided segment read
            step = max(1, int(np.ceil(max(segmented.shape) / max_size)))
            data, axes = strided_read(segmented, step), "YX"
        else:
            check_budget(path, tuple(chosen.shape), chosen.dtype, budget)
            data = chosen.asarray()
        # Palette and RGB(A) become grey exactly as the reader does it; only then are extra
        # leading axes (frames, channels of a stack) dropped down to the first 2-D image.
        sampled, axes = _first_image_sampled(data, axes, max_size)
        grey, _color = split_color(axes, page, sampled)
        while grey.ndim > 2:
            grey = grey[0]
        small = np.asarray(grey).astype(grey.dtype.newbyteorder("="))
    if verdict is None:
        return small, looks_like_diffraction(small)
    return small, verdict is Modality.SAED


def _segmented_level(path: Path, level: int) -> SegmentedImage | None:
    """Level ``level`` of a single grey image stored in compressed segments, read segment by
    segment (`crystalview.io.tiff_regions`), or None for any other layout."""
    for image in locate_levels(path):
        if image.level == level:
            return image if isinstance(image, SegmentedImage) else None
    return None


def read_thumbnail(
    path: str | Path,
    max_size: int = 256,
    *,
    memory_budget: int | None = None,
    timeout_s: float | None = DEFAULT_TIMEOUT_S,
) -> np.ndarray:
    """2-D float32 preview in 0..1, longest side at most ``max_size``, contrast applied.

    Levels are robust percentiles; diffraction patterns (by metadata, or by content when the
    metadata are silent) are shown on a log scale.
    """
    path = Path(path)
    check_file(path)
    if detect_format(path).name == "tiff":
        try:
            small, diffraction = run_with_timeout(
                lambda: _tiff_preview(path, max_size, memory_budget), path, timeout_s
            )
        except CrystalViewError:
            raise
        except Exception:  # unusual TIFF layout: take the general path below
            small = None
    else:
        small = None
    if small is None:
        image = open_image(path, memory_budget=memory_budget, timeout_s=timeout_s)
        small = _stride_sample(image.image, max_size)
        diffraction = image.is_diffraction
    levels = auto_levels(small, diffraction)
    return to_display(small, levels, log=diffraction)
