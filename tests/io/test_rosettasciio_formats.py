"""Formats read through rosettasciio that we wrote fixtures for: ASTAR blockfiles, JEOL images.

No real files of these kinds are in ../shared; the fixtures are written here, the blockfile by
rosettasciio's own writer and the JEOL image in the tagged layout rosettasciio's reader parses.
"""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from crystalview.core.errors import CorruptFileError
from crystalview.core.micrograph import Modality
from crystalview.io import open_image, open_images


def _jeol_entry(key: str, value=None, children=None) -> bytes:
    out = b"\x01" + struct.pack("<i", len(key)) + key.encode()
    if children is not None:
        out += struct.pack("<ii", 0, 0) + b"".join(children)
    elif isinstance(value, str):
        raw = value.encode() + b"\x00"
        out += struct.pack("<ii", 12, len(raw)) + raw
    else:
        array = np.asarray(value)
        codes = {"uint8": 1, "uint16": 2, "int32": 3, "float64": 5}
        raw = array.tobytes()
        out += struct.pack("<ii", codes[array.dtype.name], len(raw)) + raw
    return out + b"\xff"  # every entry, leaf or group, is closed by a -1 mark


def write_jeol_image(path: Path, data: np.ndarray, kv: float, mag=1000.0, scan_size=120.0):
    """A JEOL Analysis Station image: magic 52, name, offsets, then the tag tree."""
    height, width = data.shape
    tree = (
        _jeol_entry(
            "Image",
            children=[
                _jeol_entry("Size", np.array([width, height], np.int32)),
                _jeol_entry("Bits", np.ascontiguousarray(data)),
                _jeol_entry("Created", np.float64(45000.5)),
                _jeol_entry("Title", "pollen"),
            ],
        )
        + _jeol_entry(
            "Instrument",
            children=[
                _jeol_entry("ScanSize", np.float64(scan_size)),
                _jeol_entry("Mag", np.float64(mag)),
                _jeol_entry("AccV", np.float64(kv)),
            ],
        )
        + b"\x00"
    )
    data_pos = 48
    head = struct.pack("<I", 52) + b"JEOL image".ljust(32, b"\x00")
    head += struct.pack("<III", 0, 0, data_pos)
    path.write_bytes(head.ljust(data_pos + 12, b"\x00") + tree)
    return path


def write_blockfile(path: Path, patterns: np.ndarray, navigator: np.ndarray, step_nm: float):
    from rsciio.blockfile import file_writer

    rows, cols, side, _ = patterns.shape
    axes = [
        {"name": "y", "size": rows, "scale": step_nm, "offset": 0, "units": "nm", "navigate": True},
        {"name": "x", "size": cols, "scale": step_nm, "offset": 0, "units": "nm", "navigate": True},
        {"name": "dy", "size": side, "scale": 0.1, "offset": 0, "units": "cm", "navigate": False},
        {"name": "dx", "size": side, "scale": 0.1, "offset": 0, "units": "cm", "navigate": False},
    ]
    signal = {
        "data": patterns,
        "axes": axes,
        "metadata": {"General": {"title": "scan"}, "Signal": {}},
        "original_metadata": {},
        "attributes": {"_lazy": False},
    }
    file_writer(str(path), signal, navigator=navigator, show_progressbar=False)
    return path


@pytest.fixture
def ramp() -> np.ndarray:
    return (np.arange(20 * 30).reshape(20, 30) % 251).astype(np.uint8)


@pytest.mark.parametrize(
    ("suffix", "kv", "modality"), [(".img", 15.0, Modality.SEM), (".map", 200.0, Modality.TEM)]
)
def test_jeol_images_are_read_with_pixel_size_and_beam(tmp_path, ramp, suffix, kv, modality):
    path = write_jeol_image(tmp_path / f"pollen{suffix}", ramp, kv=kv, mag=1000.0, scan_size=120.0)
    image = open_image(path)
    np.testing.assert_array_equal(image.data, ramp)
    # rosettasciio: ScanSize / Mag * 1000 µm over the width -> 120/1000*1000/30 µm = 4 µm
    assert image.pixel_size == pytest.approx(4000.0) and image.pixel_unit == "nm"
    assert image.instrument.beam_energy_kv == kv
    assert image.instrument.magnification == 1000.0
    assert image.modality is modality
    assert image.format == "jeol"


def test_a_mrc_named_map_is_still_read_as_mrc(tmp_path):
    import mrcfile

    path = tmp_path / "volume.map"
    with mrcfile.new(path) as mrc:
        mrc.set_data(np.zeros((8, 8), np.float32))
    assert open_image(path).format == "mrc"


def test_a_damaged_jeol_image_fails_with_a_reason(tmp_path, ramp):
    path = write_jeol_image(tmp_path / "cut.img", ramp, kv=15.0)
    path.write_bytes(path.read_bytes()[:80])
    with pytest.raises(CorruptFileError, match=r"cut\.img"):
        open_image(path)


def test_astar_blockfile_gives_virtual_bright_field_and_patterns(tmp_path):
    rng = np.random.default_rng(0)
    patterns = rng.integers(0, 255, (3, 4, 16, 16)).astype(np.uint8)
    navigator = np.arange(12, dtype=np.uint8).reshape(3, 4)
    path = write_blockfile(tmp_path / "scan.blo", patterns, navigator, step_nm=5.0)

    virtual_bf, stack = open_images(path)
    np.testing.assert_array_equal(virtual_bf.data, navigator)
    assert virtual_bf.pixel_size == 5.0 and virtual_bf.pixel_unit == "nm"
    assert virtual_bf.modality is Modality.STEM
    assert stack.data.shape == (12, 16, 16) and stack.n_frames == 12
    np.testing.assert_array_equal(stack.data[1 * 4 + 2], patterns[1, 2])
    assert stack.modality is Modality.SAED and stack.pixel_size is None
    assert open_image(path).title == "virtual bright field"  # the primary one


@pytest.mark.parametrize("suffix", [".emd", ".ser", ".dm3", ".blo"])
def test_libraries_a_reader_imports_while_reading_are_loaded_before_the_timeout(suffix):
    """A read timeout stops the reading thread mid-import, leaving that module half-initialised
    for the whole session; rosettasciio readers import ``dask.array`` while reading, so it must
    already be loaded (in a fresh interpreter, so nothing else imported it first)."""
    pytest.importorskip("dask")
    script = (
        "import sys; from pathlib import Path; "
        "from crystalview.io.registry import preload_libraries; "
        f"preload_libraries(Path('a{suffix}')); print('dask.array.core' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=300
    )
    assert done.stdout.strip() == "True"
