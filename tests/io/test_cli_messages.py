"""The CLI as a new user meets it: folders, streams, messages, units and closed pipes."""

from __future__ import annotations

import io
import json
import sys

import numpy as np
import pytest
import tifffile

from crystalview.cli import main as cli_main


@pytest.fixture
def calibrated(tmp_path):
    """A 6 x 4 px SEM-like TIFF at 2615.3 nm per pixel (ImageJ calibration in µm)."""
    path = tmp_path / "images" / "sub" / "zeiss.tif"
    path.parent.mkdir(parents=True)
    per_um = 1 / 2.6153
    tifffile.imwrite(
        path, np.ones((4, 6), np.uint8), imagej=True, resolution=(per_um, per_um),
        metadata={"unit": "micron"},
    )  # fmt: skip
    return path


def test_info_takes_folders_like_classify(calibrated, capsys):
    folder = calibrated.parents[1]
    assert cli_main(["info", "--json", str(folder)]) == 0
    (record,) = json.loads(capsys.readouterr().out)
    assert record["path"] == str(calibrated) and record["ok"]


def test_info_prints_pixel_sizes_in_the_unit_a_person_would(calibrated, capsys):
    assert cli_main(["info", str(calibrated)]) == 0
    out = capsys.readouterr().out
    assert "2.615 µm/px" in out and "nm per pixel" not in out
    assert "6 x 4 px" in out  # width x height, as in the window


def test_info_failures_go_to_stderr_and_name_the_file_once(tmp_path, calibrated, capsys):
    broken = tmp_path / "broken.dm3"
    broken.write_bytes(b"\x00\x00\x00\x03" + b"\x00" * 60)
    assert cli_main(["info", str(calibrated), str(broken)]) == 1
    captured = capsys.readouterr()
    assert "broken.dm3" not in captured.out and "zeiss.tif" in captured.out
    (line,) = [ln for ln in captured.err.splitlines() if "broken.dm3" in ln]
    assert line.count(str(broken)) == 1, line


def test_a_folder_named_like_a_model_is_called_a_folder(tmp_path, calibrated, capsys):
    folder = tmp_path / "x.cvmodel"
    folder.mkdir()
    assert cli_main(["classify", str(calibrated), "--model", str(folder)]) == 1
    assert "is a folder, not a model file" in capsys.readouterr().err


class _ClosedPipe(io.TextIOWrapper):
    def __init__(self):
        super().__init__(io.BytesIO(), encoding="utf-8")

    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")


def test_a_closed_pipe_ends_the_command_quietly(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    status = cli_main(["models", "show", "saed-crystal-system"])
    assert status == 141  # 128 + SIGPIPE, what `head` leaves a killed writer with
    assert "Traceback" not in capsys.readouterr().err


def test_classify_counts_files_it_cannot_read_as_failures(tmp_path, capsys):
    folder = tmp_path / "astar"
    folder.mkdir()
    (folder / "scan.pts").write_bytes(b"\x00" * 64)
    (folder / "notes.txt").write_text("not an image")
    assert cli_main(["classify", str(folder), "--model", "saed-crystal-system"]) == 1
    err = capsys.readouterr().err
    assert "JEOL .pts" in err and "not supported yet" in err
    assert "0 image(s), 1 failed" in err
