"""TIFF and BigTIFF: pixels with tifffile, calibration and vendor facts with rosettasciio.tiff.

tifffile decodes every variant we meet (8/16/32-bit, float, RGB/RGBA/palette, stacks, BigTIFF,
LZW/deflate/JPEG/zstd… through imagecodecs, big-endian). It also tells us, before decoding, the
shape and dtype of each series (for the memory budget) and where uncompressed data lie in the
file, so large uncompressed images are memory-mapped instead of copied. rosettasciio's TIFF
reader, run lazily, provides the physical axes for FEI/Thermo, Zeiss, JEOL SightX, Olympus SIS,
TVIPS, ImageJ and DigitalMicrograph TIFFs; Hitachi keeps its scale in a ``.txt`` sidecar.
"""

from __future__ import annotations

import contextlib
import logging
import struct
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from crystalview.core.errors import CorruptFileError, FileTooLargeError, MissingCodecError
from crystalview.core.micrograph import Modality
from crystalview.io.color import is_grey_palette, luminance
from crystalview.io.dataset import Calibration, ImageFacts, PendingImage
from crystalview.io.metadata import json_safe
from crystalview.io.sidecars import hitachi_instrument, hitachi_pixel_size_nm, read_hitachi_sidecar
from crystalview.io.signals import facts_from_signal, fill_from_raw_keys
from crystalview.io.vendor_tiff_metadata import (
    fallback_calibration,
    imagej_info_pairs,
    tiff_detector,
    tiff_family,
    tiff_tags,
)

log = logging.getLogger(__name__)

# Uncompressed series bigger than this are memory-mapped rather than read into RAM.
MEMMAP_THRESHOLD = 256 * 1024**2
# tifffile and rosettasciio spend tens of microseconds per page in Python, so a file of 100000
# tiny pages (hostile, or a runaway acquisition) would take longer than the read timeout before
# the memory budget could say anything. Real stacks we meet have at most a few thousand frames.
MAX_PAGES = 10_000
# rosettasciio's calibration pass is the slowest per page; for long stacks the tags suffice.
MAX_PAGES_FOR_RSCIIO = 1_000


def _frame_shape(series: Any) -> tuple[int, int]:
    axes = series.axes
    shape = dict(zip(axes, series.shape, strict=True))
    return int(shape.get("Y", series.shape[-2])), int(shape.get("X", series.shape[-1]))


def _data_end(series: Any) -> int:
    """Byte just after the last strip/tile the series points at (0 when unknown)."""
    end = 0
    for page in series.pages:
        if page is None:
            continue
        offsets = getattr(page, "dataoffsets", ()) or ()
        counts = getattr(page, "databytecounts", ()) or ()
        ends = [offset + count for offset, count in zip(offsets, counts, strict=False) if count]
        end = max([end, *ends])
    return end


def _check_not_truncated(path: Path, series: Any) -> None:
    """Every strip/tile the series points at must lie inside the file."""
    file_size = path.stat().st_size
    end = _data_end(series)
    if end > file_size:
        raise CorruptFileError(
            f"{path}: the file is truncated: the image data end at byte {end} but the file has "
            f"only {file_size} bytes (an interrupted copy or save?)."
        )


def _decode(path: Path, tif: Any, series: Any) -> np.ndarray:
    """Pixels of one series: memory-mapped when uncompressed, big and native-endian."""
    dtype = np.dtype(tif.byteorder + series.dtype.char)
    nbytes = int(np.prod(series.shape)) * dtype.itemsize
    if series.dataoffset is not None and dtype.isnative and nbytes > MEMMAP_THRESHOLD:
        return np.memmap(path, dtype=dtype, mode="r", offset=series.dataoffset, shape=series.shape)
    try:
        data = series.asarray()
    except ValueError as error:
        text = str(error)
        if "imagecodecs" in text or "codec" in text.lower() or "COMPRESSION" in text:
            raise MissingCodecError(
                f"{path}: the image is compressed with a method this installation cannot "
                f"decode ({error}). Install or update the 'imagecodecs' package."
            ) from error
        raise
    if not data.dtype.isnative:
        data = data.astype(data.dtype.newbyteorder("="))
    return data


def split_color(axes: str, page: Any, data: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Grey data and the original colour (RGB/RGBA/palette), or ``(data, None)`` for grey.

    The one place a TIFF's colour axis is turned into grey: the reader and the thumbnail path
    both use it, so a palette or RGB image never reaches the frame logic with a colour axis.
    """
    if page.photometric == 3 and page.colormap is not None:  # PALETTE
        colormap = np.asarray(page.colormap)
        if page.bitspersample <= 8 and colormap.max() > 255:
            colormap = (colormap >> 8).astype(np.uint8)
        if is_grey_palette(colormap):
            return colormap[0][data], None
        color = np.moveaxis(colormap[:, data], 0, -1)
        return luminance(color), color
    if "S" in axes and data.shape[axes.index("S")] in (3, 4):
        color = np.moveaxis(data, axes.index("S"), -1)
        return luminance(color), color
    return data, None


def _as_frames(grey: np.ndarray) -> np.ndarray:
    """``(H, W)`` or ``(frames, H, W)``: extra leading dimensions become frames."""
    if grey.ndim <= 2:
        return grey
    stacked = grey.reshape(-1, *grey.shape[-2:])
    return stacked[0] if stacked.shape[0] == 1 else stacked


def _rsciio_signals(path: Path) -> list[dict[str, Any]]:
    """rosettasciio's lazy reading of the TIFF (axes and mapping only), or [] if it fails."""
    try:
        from rsciio.tiff import file_reader

        return list(file_reader(str(path), lazy=True))
    except Exception as error:  # calibration is optional; pixels come from tifffile
        log.debug("rosettasciio could not parse %s: %s", path, error)
        return []


def _match_signal(signals: list[dict[str, Any]], frame_shape: tuple[int, int]) -> Any:
    for index, signal in enumerate(signals):
        if tuple(np.shape(signal["data"])[-2:]) == frame_shape:
            return signals.pop(index)
    return None


def _facts_for_series(
    path: Path, tif: Any, series: Any, signal: Any, index: int, n_series: int
) -> ImageFacts:
    family = tiff_family(tif)
    if signal is not None:
        facts = facts_from_signal(signal, family)
        facts.family = family or facts.family
    else:
        facts = ImageFacts(family=family)
    if facts.calibration.size is None and index == 0:
        facts.calibration = fallback_calibration(tif)
    info_pairs = imagej_info_pairs(tif)
    facts.mode_pairs.extend(info_pairs)
    fill_from_raw_keys(facts.instrument, info_pairs)
    if facts.instrument.detector is None:
        facts.instrument.detector = tiff_detector(tif)
    sidecar = read_hitachi_sidecar(path)
    if sidecar is not None:
        size = hitachi_pixel_size_nm(sidecar)
        if facts.calibration.size is None and size is not None:
            facts.calibration = Calibration(size, "nm")
        facts.instrument = hitachi_instrument(sidecar)
        facts.family = Modality.SEM
    if not facts.title:
        facts.title = path.stem if n_series == 1 else f"{path.stem} #{index}"
    vendor = {
        name: json_safe(getattr(tif, f"{name}_metadata"))
        for name in ("fei", "sem", "sis", "tvips", "imagej", "shaped")
        if getattr(tif, f"{name}_metadata", None)
    }
    facts.metadata = json_safe(
        {
            "tiff": {"series": index, "axes": series.axes, "tags": tiff_tags(series.pages[0])},
            "vendor": vendor,
            **({"hitachi_sidecar": sidecar} if sidecar else {}),
            **facts.metadata,
        }
    )
    return facts


def tag_facts(path: Path, tif: Any) -> ImageFacts:
    """Facts of the first series from the TIFF's own tags only (no rosettasciio parse, which
    may decode the pixels): for readers that must not touch the image data."""
    return _facts_for_series(path, tif, tif.series[0], None, 0, 1)


def _load_series(path: Path, index: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Decode series ``index``: grey ``(H, W)``/``(frames, H, W)`` data and original colour."""
    import tifffile

    with tifffile.TiffFile(path) as tif:
        series = image_series(tif)[index]
        _check_not_truncated(path, series)
        grey, color = split_color(series.axes, series.pages[0], _decode(path, tif, series))
    return _as_frames(grey), color


def image_series(tif: Any) -> list[Any]:
    """The series that hold pixels (empty series of odd writers are skipped).

    The page chain is indexed first: tifffile detects a chain that loops back on itself while
    indexing, but walking an unindexed chain (what ``tif.series`` does) can go round it for ever.
    """
    len(tif.pages)
    return [series for series in tif.series if series.shape and series.size]


class _ThreadWarnings(logging.Handler):
    """Collects what tifffile logs from the current thread (other threads read other files)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.thread = threading.get_ident()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            self.messages.append(record.getMessage())


@contextlib.contextmanager
def _tifffile_warnings() -> Iterator[list[str]]:
    """The warnings tifffile logs in this block: it repairs damaged files silently otherwise."""
    handler = _ThreadWarnings()
    tifffile_log = logging.getLogger("tifffile")
    tifffile_log.addHandler(handler)
    try:
        yield handler.messages
    finally:
        tifffile_log.removeHandler(handler)


def _is_color(series: Any) -> bool:
    page = series.pages[0]
    if page.photometric == 3 and page.colormap is not None:
        return not is_grey_palette(np.asarray(page.colormap))
    return "S" in series.axes and series.shape[series.axes.index("S")] in (3, 4)


def _count_pages(path: Path, tif: Any) -> int:
    """Number of pages (IFDs); refuses files with more than `MAX_PAGES` before parsing them."""
    try:
        n_pages = len(tif.pages)
    except (ValueError, IndexError, EOFError, OSError, struct.error) as error:
        raise CorruptFileError(f"{path}: the TIFF page chain is damaged ({error}).") from error
    if n_pages > MAX_PAGES:
        raise FileTooLargeError(
            f"{path}: the TIFF holds {n_pages} pages, more than the {MAX_PAGES} CrystalView "
            "opens from one file. Split the stack (e.g. in Fiji: Image > Stacks > Tools > "
            "Make Substack) and open the parts."
        )
    return n_pages


def read_tiff(path: Path) -> list[PendingImage]:
    """Every series of a TIFF, described from its tags; pixels are decoded on demand."""
    import tifffile

    try:
        tif = tifffile.TiffFile(path)
    except (tifffile.TiffFileError, ValueError, IndexError, EOFError) as error:
        raise CorruptFileError(f"{path}: not a readable TIFF file ({error}).") from error
    with tif, _tifffile_warnings() as damage:
        n_pages = _count_pages(path, tif)
        series_list = image_series(tif)
        if not series_list:
            raise CorruptFileError(f"{path}: the TIFF file contains no image.")
        # A header whose data lie beyond the end of the file (truncated, or a lying header) is
        # not worth a metadata parse: the size check or the decode will report it. Nor is a file
        # whose tags or page chain tifffile had to repair: rosettasciio parses it again, with its
        # own TiffFile, and a damaged chain can keep it busy for ever.
        plausible = all(_data_end(series) <= path.stat().st_size for series in series_list)
        if damage:
            log.debug("%s: damaged TIFF structure (%s); calibration from tags only", path, damage)
        wanted = plausible and not damage and n_pages <= MAX_PAGES_FOR_RSCIIO
        signals = _rsciio_signals(path) if wanted else []
        pending = []
        for index, series in enumerate(series_list):
            signal = _match_signal(signals, _frame_shape(series))
            pending.append(
                PendingImage(
                    facts=_facts_for_series(path, tif, series, signal, index, len(series_list)),
                    shape=tuple(int(n) for n in series.shape),
                    dtype=np.dtype(series.dtype),
                    load=lambda index=index: _load_series(path, index),
                    fmt="tiff",
                    is_color=_is_color(series),
                )
            )
    return pending
