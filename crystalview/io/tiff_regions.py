"""TIFF/BigTIFF images read a band of rows at a time, never decoded whole.

Two layouts can be read by region: uncompressed pixels lying contiguous in the file (what
``tifffile.imwrite`` writes by default; `ContiguousImage`, plain file reads at computed offsets,
no memory map, so the RSS is one band) and strips or tiles, compressed or not (zlib/Deflate,
LZW, … as mosaic and whole-slide software write them; `SegmentedImage`, which reads and decodes
only the segments that cross the rows asked for, one band of segments at a time, with
tifffile's per-segment decoder). Region-wise inference (`crystalview.inference.regions`) and
the reduced view of a mosaic larger than memory (`crystalview.io.reduced`) read through them.
Only single grey images are handled: colour and multi-page files return None.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from crystalview.core.progress import CancelToken

MAX_BAND_BYTES = 64 << 20
"""A file whose single band of segments is larger than this (one strip holding most of the
image) has no region worth reading: it is not read by region."""


@dataclass(frozen=True)
class RegionImage:
    """A TIFF's single grey image that can be read a band of rows at a time."""

    path: Path
    shape: tuple[int, int]
    dtype: np.dtype
    pixel_size: float | None
    pixel_unit: str | None
    modality: str

    level: int = 0
    """Which level of the file's pyramid this is (0: the full-resolution image)."""

    @property
    def nbytes(self) -> int:
        return self.shape[0] * self.shape[1] * self.dtype.itemsize

    def read_rows(self, start: int, stop: int, step: int = 1) -> np.ndarray:
        """Rows ``start:stop`` (every ``step``-th) as a new in-memory array."""
        return self.read_window(start, stop, 0, self.shape[1], step, column_step=1)

    def read_window(
        self,
        top: int,
        bottom: int,
        left: int,
        right: int,
        step: int = 1,
        cancel: CancelToken | None = None,
        column_step: int | None = None,
    ) -> np.ndarray:
        """Pixels ``[top:bottom:step, left:right:column_step]`` (``column_step`` defaults to
        ``step``) as a new array, reading only what that window needs (``cancel`` is checked
        between rows or bands of segments)."""
        raise NotImplementedError


@dataclass(frozen=True)
class ContiguousImage(RegionImage):
    """An uncompressed image whose rows lie one after the other from ``offset``."""

    offset: int = 0

    def read_window(
        self, top, bottom, left, right, step=1, cancel=None, column_step=None
    ) -> np.ndarray:
        column_step = step if column_step is None else column_step
        height, width = self.shape
        itemsize = self.dtype.itemsize
        row_bytes = width * itemsize
        rows = range(top, min(bottom, height), step)
        left, right = max(0, left), min(right, width)
        span = max(0, right - left)
        if left == 0 and right == width and step == 1 and column_step == 1:
            out = np.empty((len(rows), width), dtype=self.dtype)
            with open(self.path, "rb") as handle:
                handle.seek(self.offset + top * row_bytes)
                handle.readinto(memoryview(out).cast("B"))
            return out
        out = np.empty((len(rows), -(-span // column_step)), dtype=self.dtype)
        line = np.empty(span, dtype=self.dtype)
        with open(self.path, "rb") as handle:
            for i, row in enumerate(rows):
                if cancel is not None and i % 64 == 0:
                    cancel.raise_if_cancelled()
                handle.seek(self.offset + row * row_bytes + left * itemsize)
                handle.readinto(memoryview(line).cast("B"))
                out[i] = line[::column_step]
        return out


@dataclass(frozen=True)
class SegmentedImage(RegionImage):
    """An image stored as strips or tiles (compressed or not): only the segments that cross
    the rows asked for are read and decoded, one band of segments at a time."""

    segment_rows: int = 1
    """Rows of one band of segments (the tile length, or the rows per strip)."""

    def read_window(
        self, top, bottom, left, right, step=1, cancel=None, column_step=None
    ) -> np.ndarray:
        import tifffile

        column_step = step if column_step is None else column_step
        bottom, right, left = min(bottom, self.shape[0]), min(right, self.shape[1]), max(0, left)
        wanted = np.arange(top, bottom, step)
        columns = np.arange(left, right, column_step)
        out = np.zeros((len(wanted), len(columns)), dtype=self.dtype)
        if not len(wanted) or not len(columns):
            return out
        with open(self.path, "rb") as handle, tifffile.TiffFile(handle) as tif:
            page = _level_page(tif, self.level)
            tile_width = int(page.tilewidth) if page.is_tiled else self.shape[1]
            tiles = (left // tile_width, (right - 1) // tile_width)
            needed = set((columns // tile_width).tolist())  # a stride may skip whole tiles
            first_band, last_band = top // self.segment_rows, (bottom - 1) // self.segment_rows
            for band in range(first_band, last_band + 1):
                band_top = band * self.segment_rows
                rows = wanted[(wanted >= band_top) & (wanted < band_top + self.segment_rows)]
                if not len(rows):
                    continue  # a strided read skips whole bands
                if cancel is not None:
                    cancel.raise_if_cancelled()
                pixels = self._decode_band(handle, page, band, tiles, needed)
                x0 = tiles[0] * tile_width
                out[np.searchsorted(wanted, rows)] = pixels[rows - band_top][:, columns - x0]
        return out

    def _decode_band(
        self, handle, page, band: int, tiles: tuple[int, int], needed: set[int] | None = None
    ) -> np.ndarray:
        """The segments of one band (one strip, or tiles ``tiles[0] … tiles[1]`` of one row of
        tiles, those in ``needed`` only when given) decoded, as rows of the columns those
        segments cover (zeros where a tile was skipped)."""
        per_band = page.chunked[-1] if page.is_tiled else 1
        tile_width = int(page.tilewidth) if page.is_tiled else self.shape[1]
        x0 = tiles[0] * tile_width
        width = min(self.shape[1], (tiles[1] + 1) * tile_width) - x0
        pixels_of_band = np.zeros((self.segment_rows, width), dtype=self.dtype)
        first = band * per_band
        for index in range(first + tiles[0], first + tiles[1] + 1):
            if needed is not None and index - first not in needed:
                continue
            nbytes = int(page.databytecounts[index])
            data = None
            if nbytes:
                handle.seek(int(page.dataoffsets[index]))
                data = handle.read(nbytes)
            segment, position, _shape = page.decode(data, index, jpegtables=page.jpegtables)
            if segment is None:
                continue  # an empty segment reads as zeros, as tifffile does
            pixels = np.asarray(segment).reshape(segment.shape[1], segment.shape[2])
            left = int(position[3]) - x0
            span = min(pixels.shape[1], width - left)
            height = min(pixels.shape[0], self.segment_rows)
            pixels_of_band[:height, left : left + span] = pixels[:height, :span]
        return pixels_of_band


def locate_region_image(path: Path) -> RegionImage | None:
    """How to read ``path`` by region: contiguous, else by segment; None when neither fits."""
    return locate_contiguous(path) or locate_segmented(path)


def locate_levels(path: Path) -> list[RegionImage]:
    """The full-resolution image of ``path`` and each reduced level of its pyramid (SubIFDs or
    reduced pages that tifffile reports as levels of the one series), finest first, each
    readable by region; levels that cannot be read by region are left out. Empty when the
    image itself cannot be read by region."""
    import tifffile

    path = Path(path)
    first = locate_region_image(path)
    if first is None:
        return []
    levels: list[RegionImage] = [first]
    try:
        with tifffile.TiffFile(path) as tif:
            count = len(tif.series[0].levels) if len(tif.series) == 1 else 1
            for level in range(1, count):
                page = _level_page(tif, level)
                image = _contiguous_of(path, tif, page, level) or _segmented_of(
                    path, tif, page, level
                )
                if image is not None and image.dtype.kind == first.dtype.kind:
                    levels.append(replace(image, **_scale_of(first)))
    except (tifffile.TiffFileError, ValueError, IndexError, OSError, AttributeError):
        return levels
    return levels


def _level_page(tif, level: int):
    """The page holding pyramid ``level`` (0: the first page)."""
    if level == 0:
        return tif.pages.first
    return tif.series[0].levels[level].keyframe


def _grey_page(tif):
    """The first page when the file holds one 2-D grey image, else None."""
    page = tif.pages.first
    if len(tif.series) != 1 or page.samplesperpixel != 1 or len(page.shape) != 2:
        return None
    return page


def _scale_of(image: RegionImage) -> dict:
    """The tag facts of the full-resolution image, shared by every level of the file."""
    return {
        "pixel_size": image.pixel_size,
        "pixel_unit": image.pixel_unit,
        "modality": image.modality,
    }


def _scale_and_modality(path: Path, tif, level: int = 0) -> dict:
    """The `RegionImage` fields read from a TIFF's tags (`crystalview.io.tiff.tag_facts`)."""
    from crystalview.io.tiff import tag_facts

    if level:  # the caller takes the full image's facts (`_scale_of`)
        return {"pixel_size": None, "pixel_unit": None, "modality": "unknown"}
    facts = tag_facts(path, tif)
    return {
        "pixel_size": facts.calibration.size,
        "pixel_unit": facts.calibration.unit,
        "modality": str(facts.family) if facts.family is not None else "unknown",
    }


def _segmented_of(path: Path, tif, page, level: int = 0) -> SegmentedImage | None:
    """``page`` as strips or tiles decoded one at a time (its first segment is decoded here,
    to be sure the codec is there), or None."""
    if page.samplesperpixel != 1 or len(page.shape) != 2:
        return None
    if not page.dataoffsets or page.imagedepth > 1:
        return None
    segment_rows = int(page.tilelength if page.is_tiled else page.rowsperstrip)
    segment_rows = min(segment_rows, int(page.shape[0]))
    band_bytes = segment_rows * int(page.shape[1]) * np.dtype(page.dtype).itemsize
    if band_bytes > MAX_BAND_BYTES:
        return None  # one strip holds (nearly) the whole image: no region to read
    try:
        if page.databytecounts[0]:
            tif.filehandle.seek(int(page.dataoffsets[0]))
            data = tif.filehandle.read(int(page.databytecounts[0]))
            page.decode(data, 0, jpegtables=page.jpegtables)
    except (RuntimeError, NotImplementedError, ValueError):  # the codec's own errors
        return None
    return SegmentedImage(
        path=path,
        shape=(int(page.shape[0]), int(page.shape[1])),
        dtype=np.dtype(page.dtype).newbyteorder("="),
        segment_rows=max(1, segment_rows),
        level=level,
        **_scale_and_modality(path, tif, level),
    )


def _contiguous_of(path: Path, tif, page, level: int = 0) -> ContiguousImage | None:
    """``page`` as uncompressed rows lying one after the other, or None."""
    if page.samplesperpixel != 1 or len(page.shape) != 2:
        return None
    if int(page.compression) != 1 or not page.is_contiguous or not page.dataoffsets:
        return None
    return ContiguousImage(
        path=path,
        offset=int(page.dataoffsets[0]),
        shape=(int(page.shape[0]), int(page.shape[1])),
        dtype=np.dtype(page.dtype).newbyteorder(tif.byteorder),
        level=level,
        **_scale_and_modality(path, tif, level),
    )


def locate_segmented(path: Path) -> SegmentedImage | None:
    """The layout of ``path`` when it is a grey TIFF of strips or tiles that tifffile can
    decode one at a time."""
    return _locate(path, _segmented_of)


def locate_contiguous(path: Path) -> ContiguousImage | None:
    """The layout of ``path`` when it is a TIFF with one contiguous uncompressed grey image."""
    return _locate(path, _contiguous_of)


def _locate(path: Path, layout):
    import tifffile

    path = Path(path)
    try:
        with tifffile.TiffFile(path) as tif:
            page = _grey_page(tif)
            return None if page is None else layout(path, tif, page)
    except (tifffile.TiffFileError, ValueError, IndexError, OSError, AttributeError):
        return None
    except (RuntimeError, NotImplementedError):  # the codec's own errors (imagecodecs)
        return None


def strided_read(image: RegionImage, step: int, band_rows: int = 256) -> np.ndarray:
    """Every ``step``-th pixel of every ``step``-th row, read ``band_rows`` rows at a time, so
    no more than one band of full-width rows is held besides the result."""
    height, width = image.shape
    out = np.empty((-(-height // step), -(-width // step)), dtype=image.dtype)
    rows_per_read = max(step, band_rows // step * step)  # a multiple of step: no row skipped
    for start in range(0, height, rows_per_read):
        part = image.read_rows(start, start + rows_per_read, step)[:, ::step]
        out[start // step : start // step + len(part)] = part
    return out
