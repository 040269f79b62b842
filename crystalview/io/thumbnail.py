"""Small previews for the gallery, cheap even for 16k x 16k images.

For TIFFs we avoid decoding the full image when we can: a pyramid's reduced-resolution level
(SubIFDs or reduced pages) just above the thumbnail size is decoded instead, and an uncompressed
image is memory-mapped and sampled with a stride so only the touched rows are read from disk.
Compressed single-level images are decoded once. Other formats go through `open_image`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from crystalview.core.errors import CrystalViewError
from crystalview.core.micrograph import Modality
from crystalview.io.color import luminance
from crystalview.io.dataset import PendingImage
from crystalview.io.display import auto_levels, to_display
from crystalview.io.modality import looks_like_diffraction, modality_from_metadata
from crystalview.io.reader import open_image
from crystalview.io.registry import detect_format
from crystalview.io.safety import DEFAULT_TIMEOUT_S, check_budget, check_file, run_with_timeout


def _stride_sample(image: np.ndarray, max_size: int) -> np.ndarray:
    step = max(1, int(np.ceil(max(image.shape[:2]) / max_size)))
    return np.asarray(image[::step, ::step])


def _tiff_preview(path: Path, max_size: int, budget: int | None) -> tuple[np.ndarray, bool]:
    """A small 2-D array of the primary series, and whether it is a diffraction pattern.

    The cheapest level of the series that is still at least ``max_size`` is used; an
    uncompressed level is memory-mapped and sampled with a stride instead of decoded.
    """
    import tifffile

    from crystalview.io.tiff import image_series, read_tiff

    primary = min(read_tiff(path), key=PendingImage.primary_rank)
    facts = primary.facts
    verdict = modality_from_metadata(
        facts.mode_pairs, facts.calibration.unit, facts.family, facts.instrument.detector
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
        if chosen.dataoffset is not None and dtype.isnative and page.photometric != 3:
            data = np.memmap(
                path, dtype=dtype, mode="r", offset=chosen.dataoffset, shape=chosen.shape
            )
        else:
            check_budget(path, tuple(chosen.shape), chosen.dtype, budget)
            data = chosen.asarray()
            if page.photometric == 3 and page.colormap is not None:
                data = np.moveaxis(np.asarray(page.colormap)[:, data], 0, -1)
        axes = chosen.axes
        if "S" in axes and data.shape[axes.index("S")] in (3, 4):
            data = np.moveaxis(data, axes.index("S"), -1)
            while data.ndim > 3:
                data = data[0]
            small = luminance(_stride_sample(data, max_size))
        else:
            while data.ndim > 2:
                data = data[0]
            small = _stride_sample(data, max_size).astype(data.dtype.newbyteorder("="))
    if verdict is None:
        return small, looks_like_diffraction(small)
    return small, verdict is Modality.SAED


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
