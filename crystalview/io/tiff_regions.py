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

from dataclasses import dataclass
from pathlib import Path

import numpy as np

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

    @property
    def nbytes(self) -> int:
        return self.shape[0] * self.shape[1] * self.dtype.itemsize

    def read_rows(self, start: int, stop: int, step: int = 1) -> np.ndarray:
        """Rows ``start:stop`` (every ``step``-th) as a new in-memory array."""
        raise NotImplementedError


@dataclass(frozen=True)
class ContiguousImage(RegionImage):
    """An uncompressed image whose rows lie one after the other from ``offset``."""

    offset: int = 0

    def read_rows(self, start: int, stop: int, step: int = 1) -> np.ndarray:
        """Rows ``start:stop`` (every ``step``-th) as a new in-memory array."""
        width = self.shape[1]
        row_bytes = width * self.dtype.itemsize
        rows = range(start, min(stop, self.shape[0]), step)
        out = np.empty((len(rows), width), dtype=self.dtype)
        with open(self.path, "rb") as handle:
            if step == 1:
                handle.seek(self.offset + start * row_bytes)
                handle.readinto(memoryview(out).cast("B"))
            else:
                for i, row in enumerate(rows):
                    handle.seek(self.offset + row * row_bytes)
                    handle.readinto(memoryview(out[i]).cast("B"))
        return out


@dataclass(frozen=True)
class SegmentedImage(RegionImage):
    """An image stored as strips or tiles (compressed or not): only the segments that cross
    the rows asked for are read and decoded, one band of segments at a time."""

    segment_rows: int = 1
    """Rows of one band of segments (the tile length, or the rows per strip)."""

    def read_rows(self, start: int, stop: int, step: int = 1) -> np.ndarray:
        import tifffile

        stop = min(stop, self.shape[0])
        wanted = np.arange(start, stop, step)
        out = np.zeros((len(wanted), self.shape[1]), dtype=self.dtype)
        if not len(wanted):
            return out
        with open(self.path, "rb") as handle, tifffile.TiffFile(handle) as tif:
            page = tif.pages.first
            decode = page.decode
            per_band = page.chunked[-1] if page.is_tiled else 1
            first_band, last_band = start // self.segment_rows, (stop - 1) // self.segment_rows
            for band in range(first_band, last_band + 1):
                top = band * self.segment_rows
                rows = wanted[(wanted >= top) & (wanted < top + self.segment_rows)]
                if not len(rows):
                    continue  # a strided read skips whole bands
                pixels = self._decode_band(handle, page, decode, band * per_band, per_band)
                out[np.searchsorted(wanted, rows)] = pixels[rows - top]
        return out

    def _decode_band(self, handle, page, decode, first: int, count: int) -> np.ndarray:
        """Segments ``first … first + count - 1`` (one row of tiles, or one strip) decoded."""
        band = np.zeros((self.segment_rows, self.shape[1]), dtype=self.dtype)
        for index in range(first, first + count):
            nbytes = int(page.databytecounts[index])
            data = None
            if nbytes:
                handle.seek(int(page.dataoffsets[index]))
                data = handle.read(nbytes)
            segment, position, _shape = decode(data, index, jpegtables=page.jpegtables)
            if segment is None:
                continue  # an empty segment reads as zeros, as tifffile does
            pixels = np.asarray(segment).reshape(segment.shape[1], segment.shape[2])
            left = int(position[3])
            width = min(pixels.shape[1], self.shape[1] - left)
            height = min(pixels.shape[0], band.shape[0])
            band[:height, left : left + width] = pixels[:height, :width]
        return band


def locate_region_image(path: Path) -> RegionImage | None:
    """How to read ``path`` by region: contiguous, else by segment; None when neither fits."""
    return locate_contiguous(path) or locate_segmented(path)


def _grey_page(tif):
    """The first page when the file holds one 2-D grey image, else None."""
    page = tif.pages.first
    if len(tif.series) != 1 or page.samplesperpixel != 1 or len(page.shape) != 2:
        return None
    return page


def _scale_and_modality(facts) -> dict:
    """The `RegionImage` fields read from a TIFF's tags (`crystalview.io.tiff.tag_facts`)."""
    return {
        "pixel_size": facts.calibration.size,
        "pixel_unit": facts.calibration.unit,
        "modality": str(facts.family) if facts.family is not None else "unknown",
    }


def locate_segmented(path: Path) -> SegmentedImage | None:
    """The layout of ``path`` when it is a grey TIFF of strips or tiles that tifffile can
    decode one at a time (its first segment is decoded here, to be sure)."""
    import tifffile

    from crystalview.io.tiff import tag_facts

    try:
        with tifffile.TiffFile(path) as tif:
            page = _grey_page(tif)
            if page is None or not page.dataoffsets or page.imagedepth > 1:
                return None
            segment_rows = int(page.tilelength if page.is_tiled else page.rowsperstrip)
            segment_rows = min(segment_rows, int(page.shape[0]))
            band_bytes = segment_rows * int(page.shape[1]) * np.dtype(page.dtype).itemsize
            if band_bytes > MAX_BAND_BYTES:
                return None  # one strip holds (nearly) the whole image: no region to read
            if page.databytecounts[0]:
                tif.filehandle.seek(int(page.dataoffsets[0]))
                data = tif.filehandle.read(int(page.databytecounts[0]))
                page.decode(data, 0, jpegtables=page.jpegtables)
            shape = (int(page.shape[0]), int(page.shape[1]))
            dtype = np.dtype(page.dtype).newbyteorder("=")
            facts = tag_facts(path, tif)
    except (tifffile.TiffFileError, ValueError, IndexError, OSError, AttributeError):
        return None
    except (RuntimeError, NotImplementedError):  # the codec's own errors (imagecodecs)
        return None
    return SegmentedImage(
        path=path,
        shape=shape,
        dtype=dtype,
        segment_rows=max(1, segment_rows),
        **_scale_and_modality(facts),
    )


def locate_contiguous(path: Path) -> ContiguousImage | None:
    """The layout of ``path`` when it is a TIFF with one contiguous uncompressed grey image."""
    import tifffile

    from crystalview.io.tiff import tag_facts

    try:
        with tifffile.TiffFile(path) as tif:
            page = _grey_page(tif)
            if page is None:
                return None
            if int(page.compression) != 1 or not page.is_contiguous or not page.dataoffsets:
                return None
            offset = int(page.dataoffsets[0])
            shape = (int(page.shape[0]), int(page.shape[1]))
            dtype = np.dtype(page.dtype).newbyteorder(tif.byteorder)
            facts = tag_facts(path, tif)
    except (tifffile.TiffFileError, ValueError, IndexError, OSError, AttributeError):
        return None
    return ContiguousImage(
        path=path,
        offset=offset,
        shape=shape,
        dtype=dtype,
        **_scale_and_modality(facts),
    )


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
