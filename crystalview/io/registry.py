"""Which reader handles a file: by its magic bytes first, by its extension second.

Files are often misnamed (a PNG saved as ``.tif``, a TIFF renamed ``.dat``). Sniffing the first
bytes picks the right reader whatever the name; the extension is used only for formats without a
reliable signature (TIA ``.emi``, old MRC) and to say clearly what a file claimed to be when its
content matches nothing.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from crystalview.core.errors import CorruptFileError, UnsupportedFormatError
from crystalview.io.dataset import PendingImage
from crystalview.io.rsciio_log import quiet_rosettasciio

Reader = Callable[[Path], list[PendingImage]]


def _tiff(path: Path) -> list[PendingImage]:
    from crystalview.io.tiff import read_tiff

    return read_tiff(path)


def _dm(path: Path) -> list[PendingImage]:
    from crystalview.io.gatan import read_dm

    return read_dm(path)


def _emd(path: Path) -> list[PendingImage]:
    from crystalview.io.velox import read_emd

    return read_emd(path)


def _tia(path: Path) -> list[PendingImage]:
    from crystalview.io.tia import read_tia

    return read_tia(path)


def _mrc(path: Path) -> list[PendingImage]:
    from crystalview.io.mrc import read_mrc

    return read_mrc(path)


def _jeol(path: Path) -> list[PendingImage]:
    from crystalview.io.jeol import read_jeol_image

    return read_jeol_image(path)


def _blockfile(path: Path) -> list[PendingImage]:
    from crystalview.io.blockfile import read_blockfile

    return read_blockfile(path)


def _raster(path: Path) -> list[PendingImage]:
    from crystalview.io.raster import read_raster

    return read_raster(path)


@dataclass(frozen=True)
class Format:
    """A file format: its name, extensions, magic-byte test and reader."""

    name: str
    extensions: frozenset[str]
    reader: Reader
    sniff: Callable[[bytes], bool] | None = None
    # Heavy libraries the reader imports; loaded before the read timeout starts (see reader.py).
    libraries: tuple[str, ...] = ()


def _is_tiff(head: bytes) -> bool:
    return head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


def _is_hdf5(head: bytes) -> bool:
    # HDF5 may sit after a user block of 512, 1024, 2048 … bytes; we read 2 KiB.
    signature = b"\x89HDF\r\n\x1a\n"
    return any(head[offset : offset + 8] == signature for offset in (0, 512, 1024))


def _is_dm(head: bytes) -> bool:
    return head[:4] in (b"\x00\x00\x00\x03", b"\x00\x00\x00\x04")


def _is_ser(head: bytes) -> bool:
    return head[:4] == b"II\x97\x01"


def _is_mrc(head: bytes) -> bool:
    return head[208:212] == b"MAP "


def _is_jeol_image(head: bytes) -> bool:
    # JEOL Analysis Station images start with the little-endian uint32 52 (rsciio checks it too).
    return head[:4] == b"\x34\x00\x00\x00"


def _is_blockfile(head: bytes) -> bool:
    return head[:6] == b"IMGBLO"


def _is_raster(head: bytes) -> bool:
    return head.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"BM", b"GIF87a", b"GIF89a"))


FORMATS: tuple[Format, ...] = (
    Format("tiff", frozenset({".tif", ".tiff", ".btf", ".tf8"}), _tiff, _is_tiff, ("rsciio.tiff",)),
    Format("emd", frozenset({".emd", ".h5", ".hdf5"}), _emd, _is_hdf5, ("rsciio.emd",)),
    Format("dm", frozenset({".dm3", ".dm4"}), _dm, _is_dm, ("rsciio.digitalmicrograph",)),
    Format("ser", frozenset({".ser"}), _tia, _is_ser, ("rsciio.tia",)),
    Format("emi", frozenset({".emi"}), _tia, None, ("rsciio.tia",)),
    Format("mrc", frozenset({".mrc", ".mrcs", ".map", ".st", ".ali", ".rec"}), _mrc, _is_mrc),
    Format("jeol", frozenset({".img", ".map"}), _jeol, _is_jeol_image, ("rsciio.jeol",)),
    Format("blockfile", frozenset({".blo"}), _blockfile, _is_blockfile, ("rsciio.blockfile",)),
    Format("raster", frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif"}), _raster, _is_raster),
)

SUPPORTED_EXTENSIONS: frozenset[str] = frozenset().union(*(f.extensions for f in FORMATS))
_HEAD_BYTES = 2048
# Signatures too short to trust on their own: only a file with the format's extension matches.
_WEAK_SIGNATURES = frozenset({"dm", "jeol"})

# Microscope and spectroscopy files we recognise by name but cannot show (yet): opening one is a
# failure that says so, never a silent skip. Extensions of formats that rosettasciio reads.
UNSUPPORTED_FORMATS: dict[str, str] = {
    ".pts": "JEOL .pts (EDS spectrum image)",
    ".eds": "JEOL .eds (EDS spectrum)",
    ".asw": "JEOL .asw (Analysis Station project)",
    ".bcf": "Bruker .bcf (EDS spectrum image)",
    ".spx": "Bruker .spx (EDS spectrum)",
    ".spd": "EDAX .spd (spectrum image)",
    ".spc": "EDAX .spc (spectrum)",
    ".sur": "Digital Surf .sur",
    ".pro": "Digital Surf .pro",
    ".prz": "Panta Rhei .prz",
    ".elid": "Phenom .elid",
    ".mib": "Quantum Detectors .mib (4D-STEM)",
    ".tvips": "TVIPS .tvips (camera stream)",
    ".unf": "Semper .unf",
    ".rpl": "Ripple .rpl",
    ".dens": "DENSsolutions .dens",
    ".mrcz": "compressed MRC (.mrcz)",
    ".hspy": "HyperSpy .hspy",
    ".zspy": "HyperSpy .zspy",
    ".nxs": "NeXus .nxs",
    ".de5": "Direct Electron .de5",
    ".app5": "Bruker Topspin .app5",
    ".wdf": "Renishaw .wdf (Raman)",
    ".msa": "EMSA/MSA spectrum",
    ".emsa": "EMSA/MSA spectrum",
}

# Files that are never images and that we consume or ignore: skipped without a word, even
# when named on the command line (sidecars such as Hitachi's .txt, notes, tables, settings).
NON_IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {
        ".txt",
        ".csv",
        ".tsv",
        ".json",
        ".md",
        ".log",
        ".ini",
        ".cfg",
        ".xml",
        ".hdr",
        ".yaml",
        ".yml",
        ".pdf",
        ".doc",
        ".docx",
        ".xls",
        ".xlsx",
        ".py",
        ".db",
        ".ds_store",
    }
)


def is_supported_path(path: str | Path) -> bool:
    """True when the file name has an extension CrystalView reads (the content is not checked)."""
    return Path(path).suffix.lower() in SUPPORTED_EXTENSIONS


def looks_like_microscope_data(path: str | Path) -> bool:
    """True for names of image formats we read and of microscope formats we do not read yet:
    inside a folder, these are opened (and fail with a reason when unreadable)."""
    suffix = Path(path).suffix.lower()
    return suffix in SUPPORTED_EXTENSIONS or suffix in UNSUPPORTED_FORMATS


def is_clearly_not_an_image(path: str | Path) -> bool:
    """True for text, tables and sidecars: skipped quietly even when named explicitly."""
    name = Path(path).name.lower()
    return Path(name).suffix in NON_IMAGE_EXTENSIONS or name.startswith(".")


def preload_libraries(path: Path) -> None:
    """Import the libraries the reader for ``path``'s extension needs, once per process.

    Importing rosettasciio (and the dask it pulls in) takes about a second, several on a busy
    machine; done inside the read timeout it could make the first file of a session time out.
    Worse, a timeout stops the reading thread mid-import and leaves the module half-initialised
    in ``sys.modules`` for the rest of the session: several rosettasciio readers import
    ``dask.array`` only while reading, so one slow EMD file made every later DM and EMD file
    fail with "module 'dask.array' has no attribute 'core'". So ``dask.array`` is imported here
    too whenever a rosettasciio reader is about to run and dask is installed.
    """
    for fmt in FORMATS:
        if path.suffix.lower() in fmt.extensions:
            for name in fmt.libraries:
                if name.startswith("rsciio"):
                    quiet_rosettasciio()
                    if importlib.util.find_spec("dask") is not None:
                        importlib.import_module("dask.array")
                importlib.import_module(name)


def detect_format(path: Path) -> Format:
    """The format of ``path`` from its content, falling back to its extension."""
    with path.open("rb") as handle:
        head = handle.read(_HEAD_BYTES)
    suffix = path.suffix.lower()
    candidates = [f for f in FORMATS if suffix in f.extensions]
    sniffed = next(
        (
            f
            for f in FORMATS
            if f.sniff is not None and f.name not in _WEAK_SIGNATURES and f.sniff(head)
        ),
        None,
    )
    if sniffed is not None:
        return sniffed
    # An extension shared by two formats (.map: MRC or JEOL) is settled by the content.
    for fmt in candidates:
        if fmt.sniff is not None and fmt.sniff(head):
            return fmt
    for fmt in candidates:
        if fmt.sniff is None or fmt.name == "mrc":  # old MRC files have no signature
            return fmt
    if candidates:
        # "raster" is our word, not the user's: name the kind their file claims to be (PNG …).
        label = candidates[0].name if candidates[0].name != "raster" else suffix.lstrip(".")
        raise CorruptFileError(
            f"{path}: the name says {label.upper()} but the content is not a {label.upper()} "
            f"file (first bytes {head[:8]!r}); it may be damaged or misnamed."
        )
    if suffix in UNSUPPORTED_FORMATS:
        raise UnsupportedFormatError(
            f"{path}: {UNSUPPORTED_FORMATS[suffix]} files are not supported yet; export the "
            "image as TIFF from the acquisition software to open it here."
        )
    raise UnsupportedFormatError(
        f"{path}: not an image format CrystalView can read (supported: "
        f"{', '.join(sorted(SUPPORTED_EXTENSIONS))})."
    )
