"""Files we cannot read never vanish: microscope data we cannot show is a failure with a reason.

Only clearly non-image files (text, tables, sidecars) are skipped quietly; a vendor extension in
a folder, or any file named explicitly, is opened and fails with a message that names the kind.
"""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from crystalview.core.errors import UnsupportedFormatError
from crystalview.io import find_images, open_image


@pytest.fixture
def acquisition(tmp_path):
    folder = tmp_path / "session"
    folder.mkdir()
    tifffile.imwrite(folder / "overview.tif", np.zeros((4, 4), np.uint8))
    (folder / "map.pts").write_bytes(b"\x00" * 64)  # a JEOL EDS spectrum image
    (folder / "spectra.bcf").write_bytes(b"\x00" * 64)
    (folder / "notes.txt").write_text("session notes")
    (folder / "results.csv").write_text("a,b\n")
    (folder / "archive.zip").write_bytes(b"PK")
    return folder


def test_vendor_files_in_folders_are_opened_and_fail_with_a_reason(acquisition):
    found = find_images([acquisition])
    assert sorted(p.name for p in found.files) == ["map.pts", "overview.tif", "spectra.bcf"]
    assert sorted(p.name for p in found.skipped) == ["archive.zip", "notes.txt", "results.csv"]
    with pytest.raises(UnsupportedFormatError, match=r"JEOL \.pts .* not supported yet"):
        open_image(acquisition / "map.pts")
    with pytest.raises(UnsupportedFormatError, match=r"Bruker \.bcf"):
        open_image(acquisition / "spectra.bcf")


def test_files_named_explicitly_are_opened_unless_clearly_not_images(acquisition):
    named = [acquisition / "archive.zip", acquisition / "notes.txt", acquisition / "map.pts"]
    found = find_images(named)
    assert [p.name for p in found.files] == ["archive.zip", "map.pts"]
    assert [p.name for p in found.skipped] == ["notes.txt"]
    with pytest.raises(UnsupportedFormatError, match="not an image format"):
        open_image(acquisition / "archive.zip")
