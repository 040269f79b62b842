"""The bad-input image corpus: hostile, damaged and unusual files, each with what must happen.

Every case builds its file(s) in a given folder and says what the reader must do: open the file
(and the check says what the result must look like) or refuse it with a specific
`CrystalViewError` subclass whose message names the file. The same list is run in-process by
``test_image_corpus.py`` and, under a hard address-space limit, by ``run_corpus.py``.
"""

from __future__ import annotations

import io
import os
import struct
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from crystalview.core.errors import (
    CorruptFileError,
    CrystalViewError,
    FileTooLargeError,
    MissingCodecError,
    ReadTimeoutError,
    UnsupportedFormatError,
)
from crystalview.core.micrograph import Micrograph
from crystalview.io import SUPPORTED_EXTENSIONS
from crystalview.io.display import auto_levels, to_display

# The budget every case is opened with: well under the 3 GiB address-space limit of the
# subprocess run, so anything the budget lets through also fits in memory.
CORPUS_BUDGET = 1024**3
# Hostile bytes may be refused as any of these; each says what is wrong in its message.
REFUSED = (CorruptFileError, UnsupportedFormatError, FileTooLargeError, MissingCodecError)

Check = Callable[[list[Micrograph]], None]


@dataclass(frozen=True)
class ImageCase:
    """One corpus entry.

    ``build(folder) -> path`` writes the file; ``refuse`` is the error class(es) expected, or
    ``None`` when the file must open, in which case ``check`` inspects every image of the file.
    Files that hang a reader get a short ``timeout_s`` to keep the suite fast.
    """

    name: str
    build: Callable[[Path], Path]
    refuse: type[CrystalViewError] | tuple[type[CrystalViewError], ...] | None = None
    check: Check | None = None
    timeout_s: float = 10.0


# --------------------------------------------------------------------------- file builders
def _tiff(data: np.ndarray, **kwargs) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        import tifffile

        path = folder / "image.tif"
        tifffile.imwrite(path, data, **kwargs)
        return path

    return build


def _ramp(shape: tuple[int, ...] = (32, 48), dtype: str = "uint16") -> np.ndarray:
    count = int(np.prod(shape))
    return (np.arange(count) % 251).astype(dtype).reshape(shape)


def _ifd(entries: list[tuple[int, int, int, int]], next_offset: int) -> bytes:
    """A little-endian classic-TIFF IFD whose values all fit in the 4-byte value field."""
    out = struct.pack("<H", len(entries))
    for tag, kind, count, value in sorted(entries):
        out += struct.pack("<HHI", tag, kind, count)
        out += struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value)
    return out + struct.pack("<I", next_offset)


def _tiny_page(width: int, height: int, data_offset: int, nbytes: int, compression: int = 1):
    """Tags of an 8-bit grey image with one strip at ``data_offset``."""
    return [
        (256, 4, 1, width),
        (257, 4, 1, height),
        (258, 3, 1, 8),
        (259, 3, 1, compression),
        (262, 3, 1, 1),
        (273, 4, 1, data_offset),
        (277, 3, 1, 1),
        (278, 4, 1, height),
        (279, 4, 1, nbytes),
    ]


IFD_BYTES = 2 + 9 * 12 + 4  # one `_tiny_page` IFD


def _write(name: str, content: bytes) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(content)
        return path

    return build


def _chain_tiff(n_pages: int, loop_to: int | None) -> bytes:
    """``n_pages`` 4x4 pages sharing one strip; the last IFD links back to page ``loop_to``."""
    pixels_at = 8
    first_ifd = pixels_at + 16
    body = [b"II*\x00", struct.pack("<I", first_ifd), bytes(range(16))]
    for index in range(n_pages):
        last = index == n_pages - 1
        if last:
            link = 0 if loop_to is None else first_ifd + loop_to * IFD_BYTES
        else:
            link = first_ifd + (index + 1) * IFD_BYTES
        body.append(_ifd(_tiny_page(4, 4, pixels_at, 16), link))
    return b"".join(body)


def _header_claiming(width: int, height: int, compression: int = 1, payload: bytes = b"") -> bytes:
    data_at = 8 + IFD_BYTES
    count = len(payload) if payload else width * height
    return (
        b"II*\x00"
        + struct.pack("<I", 8)
        + _ifd(_tiny_page(width, height, data_at, min(count, 0xFFFFFFFF), compression), 0)
        + payload
    )


def _truncated_tiff(keep: int | float) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        import tifffile

        path = folder / "cut.tif"
        tifffile.imwrite(path, _ramp((128, 128)))
        content = path.read_bytes()
        size = int(len(content) * keep) if isinstance(keep, float) else keep
        path.write_bytes(content[:size])
        return path

    return build


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
    )


def _png_bomb(folder: Path) -> Path:
    """A 30 kB PNG whose header says 30000 x 30000 grey pixels (860 MiB, inside the budget)."""
    side = 30_000
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (side + 1) * 64, 9)
    path = folder / "bomb.png"
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", rows)
        + _png_chunk(b"IEND", b"")
    )
    return path


def _deflate_bomb(folder: Path) -> Path:
    """A deflate TIFF of a few kB whose one strip says 30000 x 30000 bytes (inside the budget)."""
    side = 30_000
    payload = zlib.compress(b"\x00" * side * 16, 9)
    path = folder / "bomb.tif"
    path.write_bytes(_header_claiming(side, side, compression=8, payload=payload))
    return path


def _corrupt_compressed(compression: str) -> Callable[[Path], Path]:
    """A compressed TIFF whose compressed bytes are overwritten with noise."""

    def build(folder: Path) -> Path:
        import tifffile

        path = folder / f"{compression}.tif"
        tifffile.imwrite(path, _ramp((64, 64), "uint8"), compression=compression)
        with tifffile.TiffFile(path) as tif:
            offset = tif.pages[0].dataoffsets[0]
            count = tif.pages[0].databytecounts[0]
        content = bytearray(path.read_bytes())
        noise = np.random.default_rng(7).integers(0, 256, count, dtype=np.uint8).tobytes()
        content[offset + 2 : offset + count] = noise[2:]
        path.write_bytes(bytes(content))
        return path

    return build


def _unknown_compression(folder: Path) -> Path:
    path = folder / "unknown_codec.tif"
    path.write_bytes(_header_claiming(8, 8, compression=64999, payload=bytes(64)))
    return path


def _png_named_tif(folder: Path) -> Path:
    from PIL import Image

    path = folder / "really_png.tif"
    Image.fromarray(_ramp((8, 8), "uint8")).save(path, format="PNG")
    return path


def _tiff_named_dm3(folder: Path) -> Path:
    import tifffile

    path = folder / "really_tiff.dm3"
    tifffile.imwrite(path, _ramp((8, 8), "uint8"))
    return path


def _folder_named_tif(folder: Path) -> Path:
    path = folder / "x.tif"
    path.mkdir()
    return path


def _fifo(folder: Path) -> Path:
    path = folder / "pipe.tif"
    os.mkfifo(path)
    return path


def _symlink_to_itself(folder: Path) -> Path:
    path = folder / "loop.tif"
    path.symlink_to(path)
    return path


def _non_utf8_name(folder: Path) -> Path:
    import tifffile

    buffer = io.BytesIO()
    tifffile.imwrite(buffer, _ramp((8, 8), "uint8"))
    raw = os.path.join(os.fsencode(folder), b"caf\xe9-\xff\xfe.tif")
    with open(raw, "wb") as handle:
        handle.write(buffer.getvalue())
    return Path(os.fsdecode(raw))


def _long_path(folder: Path) -> Path:
    """A valid TIFF whose absolute path is just under PATH_MAX (4096 on Linux)."""
    import tifffile

    limit = os.pathconf(folder, "PC_PATH_MAX") if hasattr(os, "pathconf") else 4096
    deep = folder
    while len(str(deep)) + 2 * 250 < limit - 20:
        deep = deep / ("d" * 200)
    deep.mkdir(parents=True)
    name_room = min(250, limit - len(str(deep)) - 20)
    path = deep / ("n" * max(1, name_room - 4) + ".tif")
    tifffile.imwrite(path, _ramp((8, 8), "uint8"))
    return path


def _too_long_path(folder: Path) -> Path:
    """A path longer than the system allows: nothing can be there, and nothing may crash."""
    return folder / "/".join(["x" * 250] * 20) / "image.tif"


def _mixed_pages(folder: Path) -> Path:
    import tifffile

    path = folder / "mixed.tif"
    with tifffile.TiffWriter(path) as writer:
        writer.write(_ramp((32, 48)))
        writer.write(_ramp((10, 10), "uint8"))
        writer.write(_ramp((5, 7, 3), "uint8"), photometric="rgb")
    return path


def _plain_hdf5(folder: Path) -> Path:
    import h5py

    path = folder / "not_emd.emd"
    with h5py.File(path, "w") as handle:
        handle["numbers"] = np.arange(10)
    return path


def _dm3_endless_struct(folder: Path) -> Path:
    """A DM3 tag whose struct claims 2**31 - 1 fields, followed by 1 MB of zeros.

    rosettasciio reads the field list in pure Python with quadratic tuple growth: minutes of
    CPU (found by benchmarks/fuzz_readers.py). Only the read timeout can end it.
    """
    body = b"\x01\x00" + struct.pack(">I", 1)  # root tag group: sorted, open, one tag
    body += b"\x15" + struct.pack(">H", 1) + b"A"  # a data tag named "A"
    body += b"%%%%" + struct.pack(">I", 4)  # its info array has 4 entries …
    body += struct.pack(">III", 15, 0, 0x7FFFFFFF)  # … a struct of 2**31 - 1 fields
    body += bytes(1024**2)
    path = folder / "endless.dm3"
    path.write_bytes(struct.pack(">III", 3, len(body), 1) + body)
    return path


def _copy_of(name: str) -> Callable[[Path], Path]:
    """A file kept in ``tests/hardening/data`` (fuzzer findings, made from our own seeds)."""

    def build(folder: Path) -> Path:
        path = folder / name
        path.write_bytes((Path(__file__).resolve().parent / "data" / name).read_bytes())
        return path

    return build


def _mrc_claiming_huge(folder: Path) -> Path:
    """An MRC header promising 50000 x 50000 x 1000 float32 voxels in 1 kB."""
    header = bytearray(1024)
    struct.pack_into("<iiii", header, 0, 50_000, 50_000, 1000, 2)
    header[208:212] = b"MAP "
    header[212:216] = b"\x44\x44\x00\x00"
    path = folder / "huge.mrc"
    path.write_bytes(bytes(header))
    return path


def _bool_tiff(folder: Path) -> Path:
    import tifffile

    path = folder / "bilevel.tif"
    tifffile.imwrite(path, _ramp((16, 24), "uint8") % 2 == 1)
    return path


def _palette_tiff(folder: Path) -> Path:
    import tifffile

    colormap = np.zeros((3, 256), np.uint16)
    colormap[0, 1] = colormap[1, 2] = 65535
    path = folder / "palette.tif"
    tifffile.imwrite(path, _ramp((8, 8), "uint8") % 3, photometric="palette", colormap=colormap)
    return path


# --------------------------------------------------------------------------- checks
def _opens_as(shape: tuple[int, ...], dtype: str | None = None, count: int = 1) -> Check:
    def check(images: list[Micrograph]) -> None:
        assert len(images) == count, f"expected {count} images, got {len(images)}"
        assert images[0].data.shape == shape, images[0].data.shape
        if dtype is not None:
            assert images[0].data.dtype == np.dtype(dtype), images[0].data.dtype
        _displays(images)

    return check


def _first_frame(shape: tuple[int, int]) -> Check:
    """For files whose page count is not well defined (an IFD cycle): the first frame is right."""

    def check(images: list[Micrograph]) -> None:
        assert images[0].image.shape == shape, images[0].image.shape
        _displays(images)

    return check


def _displays(images: list[Micrograph]) -> None:
    """Each image gets finite levels and a finite 0..1 display image."""
    for image in images:
        assert image.data.dtype.isnative
        lo, hi = auto_levels(image.image, image.modality)
        assert np.isfinite(lo) and np.isfinite(hi) and lo < hi, (lo, hi)
        shown = to_display(image.image, (lo, hi))
        assert shown.dtype == np.float32 and np.all((shown >= 0) & (shown <= 1))


def _colour_kept(channels: int) -> Check:
    def check(images: list[Micrograph]) -> None:
        image = images[0]
        assert image.data.ndim == 2 and image.color is not None
        assert image.color.shape[-1] == channels, image.color.shape
        _displays(images)

    return check


def _float_image(values: np.ndarray) -> Callable[[Path], Path]:
    return _tiff(values.astype(np.float32))


def _with_nan_inf() -> np.ndarray:
    data = _ramp((32, 32), "float32")
    data[0, :4], data[1, :4], data[2, :4] = np.nan, np.inf, -np.inf
    return data


# --------------------------------------------------------------------------- the corpus
def _per_extension_cases() -> list[ImageCase]:
    cases = []
    noise = np.random.default_rng(2026).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    for extension in sorted(SUPPORTED_EXTENSIONS):
        stem = extension.lstrip(".")
        empty = _write(f"empty{extension}", b"")
        cases.append(ImageCase(f"zero-byte{extension}", empty, CorruptFileError))
        cases.append(ImageCase(f"random{extension}", _write(f"noise.{stem}", noise), REFUSED))
    return cases


IMAGE_CASES: list[ImageCase] = [
    *_per_extension_cases(),
    ImageCase("tiff-cut-after-magic", _truncated_tiff(4), CorruptFileError),
    ImageCase("tiff-cut-after-header", _truncated_tiff(8), CorruptFileError),
    ImageCase("tiff-cut-in-data", _truncated_tiff(0.5), CorruptFileError),
    ImageCase("tiff-cut-last-byte", _truncated_tiff(-1), CorruptFileError),
    ImageCase("tiff-header-only", _write("header.tif", b"II*\x00\x08\x00\x00\x00"),
              CorruptFileError),
    ImageCase(
        "tiff-claims-100000x100000", _write("huge.tif", _header_claiming(100_000, 100_000)),
        FileTooLargeError,
    ),
    ImageCase("tiff-ifd-loops-to-itself", _write("loop1.tif", _chain_tiff(1, 0)), None,
              _opens_as((4, 4), "uint8")),
    ImageCase("tiff-ifd-cycle-of-3", _write("loop3.tif", _chain_tiff(3, 0)), None,
              _first_frame((4, 4))),
    ImageCase("tiff-100k-pages", _write("pages.tif", _chain_tiff(100_000, None)),
              FileTooLargeError),
    ImageCase("float-nan-inf", _float_image(_with_nan_inf()), None, _opens_as((32, 32), "float32")),
    ImageCase("float-all-nan", _float_image(np.full((16, 16), np.nan)), None,
              _opens_as((16, 16), "float32")),
    ImageCase("float-all-inf", _float_image(np.full((16, 16), np.inf)), None,
              _opens_as((16, 16), "float32")),
    ImageCase("float-constant", _float_image(np.full((16, 16), 3.5)), None,
              _opens_as((16, 16), "float32")),
    ImageCase("float16", _tiff(_ramp((16, 16), "float16")), None, _opens_as((16, 16), "float16")),
    ImageCase("complex64", _tiff(_ramp((16, 16), "float32") * (1 + 2j)), None,
              _opens_as((16, 16), "complex64")),
    ImageCase("bool-1bit", _bool_tiff, None, _opens_as((16, 24))),
    ImageCase("int64", _tiff(_ramp((16, 16), "int64") - 100), None, _opens_as((16, 16), "int64")),
    ImageCase("uint16-big-endian", _tiff(_ramp(), byteorder=">"), None,
              _opens_as((32, 48), "uint16")),
    ImageCase("float64-big-endian", _tiff(_ramp((8, 8), "float64"), byteorder=">"), None,
              _opens_as((8, 8), "float64")),
    ImageCase("rgb8", _tiff(_ramp((8, 8, 3), "uint8"), photometric="rgb"), None, _colour_kept(3)),
    ImageCase("rgba8", _tiff(_ramp((8, 8, 4), "uint8"), photometric="rgb",
                             extrasamples=["unassalpha"]), None, _colour_kept(4)),
    ImageCase("rgb48", _tiff(_ramp((8, 8, 3), "uint16") * 200, photometric="rgb"), None,
              _colour_kept(3)),
    ImageCase("palette", _palette_tiff, None, _colour_kept(3)),
    ImageCase("imagej-5d-tzcyx", _tiff(_ramp((2, 3, 2, 16, 16)), imagej=True,
                                       metadata={"axes": "TZCYX"}), None,
              _opens_as((12, 16, 16), "uint16")),
    ImageCase("mixed-shape-pages", _mixed_pages, None, _opens_as((32, 48), "uint16", count=3)),
    ImageCase("deflate-corrupt-bytes", _corrupt_compressed("zlib"), CorruptFileError),
    ImageCase("lzw-corrupt-bytes", _corrupt_compressed("lzw"), CorruptFileError),
    ImageCase("jpeg2000-corrupt-bytes", _corrupt_compressed("jpeg2000"), CorruptFileError),
    ImageCase("zstd-corrupt-bytes", _corrupt_compressed("zstd"), CorruptFileError),
    ImageCase("unknown-compression-code", _unknown_compression, MissingCodecError),
    ImageCase("deflate-tiff-bomb", _deflate_bomb, FileTooLargeError),
    ImageCase("png-bomb", _png_bomb, FileTooLargeError),
    ImageCase("png-named-tif", _png_named_tif, None, _opens_as((8, 8), "uint8")),
    ImageCase("tiff-named-dm3", _tiff_named_dm3, None, _opens_as((8, 8), "uint8")),
    ImageCase("folder-named-x.tif", _folder_named_tif, UnsupportedFormatError),
    ImageCase("fifo", _fifo, UnsupportedFormatError),
    # Path problems (like "file not found") say nothing about a format: the base class, with
    # the reason in the message.
    ImageCase("symlink-to-itself", _symlink_to_itself, CrystalViewError),
    ImageCase("non-utf8-name", _non_utf8_name, None, _opens_as((8, 8), "uint8")),
    ImageCase("path-near-path-max", _long_path, None, _opens_as((8, 8), "uint8")),
    ImageCase("path-over-path-max", _too_long_path, CrystalViewError),
    ImageCase("hdf5-without-emd-structure", _plain_hdf5, REFUSED),
    ImageCase("mrc-claims-huge", _mrc_claiming_huge, FileTooLargeError),
    # Found by fuzz_readers: an IFD chain tifffile only detects as a loop when indexing it;
    # iterating it unindexed (rosettasciio, our decode and thumbnail did) never ended.
    ImageCase("tiff-damaged-chain-loop", _copy_of("fuzz-chain-loop.tif"), CorruptFileError),
    ImageCase("dm3-struct-of-2-billion-fields", _dm3_endless_struct, ReadTimeoutError,
              timeout_s=1.0),
]  # fmt: skip


# --------------------------------------------------------------------------- judging a case
def _expected_names(case: ImageCase) -> str:
    kinds = case.refuse if isinstance(case.refuse, tuple) else (case.refuse,)
    return " or ".join(kind.__name__ for kind in kinds if kind is not None)


def _judge_refusal(case: ImageCase, path: Path, error: CrystalViewError) -> str | None:
    message = str(error)
    if case.refuse is None:
        return f"refused ({type(error).__name__}: {message}) but must open"
    if not isinstance(error, case.refuse):
        return f"raised {type(error).__name__}, expected {_expected_names(case)}: {message}"
    if "\n" in message.strip() or not message.strip():
        return f"message is not one line: {message!r}"
    if path.name not in message:
        return f"message does not name the file {path.name!r}: {message}"
    return None


def _reader_threads_left(path: Path, wait_s: float = 5.0) -> str | None:
    """A reader that timed out must not keep running: its thread is stopped within seconds."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if not any(thread.name == f"read {path.name}" for thread in threading.enumerate()):
            return None
        time.sleep(0.05)
    return "an abandoned reader thread is still running"


def evaluate(case: ImageCase, folder: Path) -> str | None:
    """Build and open the case's file; ``None`` when it behaved as required, else the problem.

    Exceptions other than `CrystalViewError` are not caught: they are the bugs we hunt.
    """
    from crystalview.io import open_images, read_thumbnail

    path = case.build(folder)
    try:
        images = open_images(path, memory_budget=CORPUS_BUDGET, timeout_s=case.timeout_s)
    except CrystalViewError as error:
        problem = _judge_refusal(case, path, error)
        if problem is None:
            try:
                read_thumbnail(path, 64, memory_budget=CORPUS_BUDGET, timeout_s=case.timeout_s)
            except CrystalViewError:
                return _reader_threads_left(path)
            return "open_images refused the file but read_thumbnail accepted it"
        return problem
    if case.refuse is not None:
        return f"opened, expected {_expected_names(case)}"
    try:
        if case.check is not None:
            case.check(images)
    except AssertionError as failure:
        return f"opened wrongly: {failure}"
    thumbnail = read_thumbnail(path, 64, memory_budget=CORPUS_BUDGET, timeout_s=case.timeout_s)
    if thumbnail.ndim != 2 or thumbnail.dtype != np.float32 or max(thumbnail.shape) > 64:
        return f"bad thumbnail {thumbnail.shape} {thumbnail.dtype}"
    if not np.all((thumbnail >= 0) & (thumbnail <= 1)):
        return "thumbnail values outside 0..1"
    return None
