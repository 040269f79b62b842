"""Folder walks: recursion, symlink loops, unreadable folders, TIA pairs, cancel."""

from __future__ import annotations

import os

import numpy as np
import pytest
import tifffile

from crystalview.core.errors import Cancelled
from crystalview.core.progress import CancelToken
from crystalview.io import SUPPORTED_EXTENSIONS, find_images, is_supported_path


def _tree(root):
    (root / "a" / "b").mkdir(parents=True)
    tifffile.imwrite(root / "a" / "one.tif", np.zeros((2, 2), np.uint8))
    tifffile.imwrite(root / "a" / "b" / "two.TIF", np.zeros((2, 2), np.uint8))
    (root / "a" / "notes.txt").write_text("hello")
    (root / "a" / "scan.emi").write_bytes(b"x")
    (root / "a" / "scan_1.ser").write_bytes(b"x")
    (root / "a" / "alone_1.ser").write_bytes(b"x")


def test_walk_finds_images_and_skips_others(tmp_path):
    _tree(tmp_path)
    found = find_images([tmp_path])
    names = [path.name for path in found.files]
    assert names == ["alone_1.ser", "two.TIF", "one.tif", "scan.emi"]
    assert [path.name for path in found.skipped] == ["notes.txt", "scan_1.ser"]
    assert found.errors == []


def test_symlink_loop_terminates(tmp_path):
    _tree(tmp_path)
    os.symlink(tmp_path / "a", tmp_path / "a" / "b" / "loop")
    found = find_images([tmp_path])
    assert sorted(path.name for path in found.files).count("one.tif") == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any folder")
def test_unreadable_folder_is_reported(tmp_path):
    _tree(tmp_path)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0)
    try:
        found = find_images([tmp_path])
    finally:
        locked.chmod(0o755)
    assert [path for path, _ in found.errors] == [locked]
    assert len(found.files) == 4


def test_explicit_files_and_missing_paths(tmp_path):
    _tree(tmp_path)
    found = find_images([tmp_path / "a" / "scan_1.ser", tmp_path / "missing.tif"])
    assert [path.name for path in found.files] == ["scan_1.ser"]
    assert found.errors == [(tmp_path / "missing.tif", "not found")]


def test_cancel(tmp_path):
    _tree(tmp_path)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        find_images([tmp_path], cancel=token)


def test_supported_extensions():
    assert {".tif", ".dm3", ".dm4", ".emd", ".ser", ".emi", ".mrc", ".png"} <= SUPPORTED_EXTENSIONS
    assert is_supported_path("X.TIFF") and not is_supported_path("x.txt")
