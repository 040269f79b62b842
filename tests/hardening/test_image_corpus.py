"""The bad-input image corpus: every hostile or unusual file opens correctly or is refused clearly.

"Clearly" means a specific `CrystalViewError` subclass with a one-line message naming the file,
raised through the reader's own timeout (10 s), never another exception type. The whole corpus is
also run in a subprocess under a 3 GiB address-space limit, which proves that no case allocates
what its header claims, and through ``crystalview info`` to prove the CLI prints no traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from corpus_images import IMAGE_CASES, evaluate

from crystalview.io import find_images

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
MEMORY_LIMIT = 3 * 1024**3


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}


def test_corpus_is_big_enough():
    assert len(IMAGE_CASES) >= 35
    assert len({case.name for case in IMAGE_CASES}) == len(IMAGE_CASES)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", IMAGE_CASES, ids=lambda case: case.name)
def test_image_case(case, tmp_path):
    assert evaluate(case, tmp_path) is None


@pytest.mark.timeout(120)
def test_whole_corpus_under_a_memory_limit(tmp_path):
    """Every case finishes, with the same verdicts, when the process may map only 3 GiB."""
    result = subprocess.run(
        [sys.executable, str(HERE / "run_corpus.py"), str(MEMORY_LIMIT), str(tmp_path)],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=110,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    verdicts = [json.loads(line) for line in result.stdout.splitlines()]
    assert [v["case"] for v in verdicts] == [case.name for case in IMAGE_CASES]
    assert [v for v in verdicts if v["problem"] is not None] == []
    assert "Traceback" not in result.stderr


@pytest.mark.timeout(120)
def test_info_cli_reports_every_bad_file_without_traceback(tmp_path):
    # Files that hang a reader would cost the CLI's full 10 s timeout each; skip them here.
    cases = [case for case in IMAGE_CASES if case.timeout_s >= 10]
    paths = []
    for index, case in enumerate(cases):
        folder = tmp_path / f"case{index:03d}"
        folder.mkdir()
        paths.append(case.build(folder))
    result = subprocess.run(
        [sys.executable, "-m", "crystalview", "info", "--json", *map(str, paths)],
        capture_output=True,
        env=_env(),
        timeout=110,
    )
    assert result.returncode == 1  # some files are bad, none crashed the command
    assert b"Traceback" not in result.stderr
    # Paths are printed as their bytes (a non-UTF-8 file name stays what it is on disk).
    records = json.loads(result.stdout.decode("utf-8", "surrogateescape"))
    refused = {case.name for case in cases if case.refuse is not None}
    for case, record in zip(cases, records, strict=True):
        assert record["ok"] is (case.name not in refused), (case.name, record)


# --------------------------------------------------------------------------- folders
@pytest.mark.timeout(60)
def test_symlink_loops_end_and_count_each_file_once(tmp_path):
    root = tmp_path / "data"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "one.tif").write_bytes(b"x")
    (root / "a" / "two.png").write_bytes(b"x")
    (root / "a" / "b" / "back_to_root").symlink_to(root)
    (root / "a" / "self").symlink_to(root / "a")
    (root / "dangling.tif").symlink_to(tmp_path / "gone.tif")
    (root / "link_loop.tif").symlink_to(root / "link_loop.tif")
    found = find_images([root])
    assert sorted(p.name for p in found.files) == ["one.tif", "two.png"]


@pytest.mark.timeout(60)
def test_folder_of_10k_files(tmp_path):
    root = tmp_path / "many"
    root.mkdir()
    for index in range(10_000):
        suffix = ".tif" if index % 2 else ".txt"
        (root / f"f{index:05d}{suffix}").touch()
    found = find_images([root])
    assert len(found.files) == 5_000 and len(found.skipped) == 5_000
    assert found.files == sorted(found.files)


def test_special_entries_in_a_folder_are_not_opened(tmp_path):
    root = tmp_path / "odd"
    root.mkdir()
    os.mkfifo(root / "pipe.tif")
    (root / "folder.tif").mkdir()
    (root / "ok.tif").write_bytes(b"x")
    found = find_images([root])
    assert [p.name for p in found.files] == ["ok.tif"]


def test_bad_paths_given_to_find_images_are_errors(tmp_path):
    too_long = tmp_path / "/".join(["x" * 250] * 20)
    non_utf8 = Path(os.fsdecode(os.path.join(os.fsencode(tmp_path), b"\xff\xfe")))
    non_utf8.mkdir()
    (non_utf8 / "img.tif").write_bytes(b"x")
    found = find_images([too_long, tmp_path / "missing", non_utf8])
    assert [p.name for p in found.files] == ["img.tif"]
    assert [path for path, _ in found.errors] == [too_long, tmp_path / "missing"]
