"""``crystalview measure``: the tools headless, on generated files with known answers."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import tifffile

from crystalview.cli import main as cli_main
from crystalview.measure.export import write_imagej_tiff


def test_line_and_profile_on_a_calibrated_image(tmp_path, capsys):
    image = np.zeros((50, 80), np.float32)
    image[:, 40:] = 7.0
    path = write_imagej_tiff(tmp_path / "edge.tif", image, 2.0, "nm")
    assert (
        cli_main(["measure", "line", str(path), "--from", "10", "5", "--to", "40", "45", "--json"])
        == 0
    )
    record = json.loads(capsys.readouterr().out)
    assert record["length_px"] == pytest.approx(50.0)
    assert record["length"] == pytest.approx(100.0) and record["unit"] == "nm"
    assert record["angle_deg"] == pytest.approx(-math.degrees(math.atan2(40, 30)))
    assert record["scale_source"] == "file"

    out = tmp_path / "p.csv"
    assert (
        cli_main(
            [
                "measure",
                "profile",
                str(path),
                "--from",
                "0",
                "25",
                "--to",
                "79",
                "25",
                "--width",
                "3",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    lines = out.read_text().splitlines()
    assert lines[0] == "distance_nm,value" and lines[1] == "0,0" and lines[-1] == "158,7"


def test_fft_reads_fringes_and_rings_read_a_ring_pattern(tmp_path, capsys):
    size, pixel, d = 256, 0.02, 0.3
    cols = np.arange(size)[None, :].repeat(size, 0)
    fringes = 10 + np.cos(2 * np.pi * cols * pixel / d)
    path = write_imagej_tiff(tmp_path / "f.tif", fringes, pixel, "nm")
    assert cli_main(["measure", "fft", str(path), "--spots", "1", "--json"]) == 0
    spot = json.loads(capsys.readouterr().out)["spots"][0]
    assert spot["d"] == pytest.approx(d, rel=0.01)

    rows, cols = np.indices((200, 200))
    radius = np.hypot(rows - 97.0, cols - 103.0)
    pattern = 50 / (1 + radius / 4) + 20 * np.exp(-0.5 * ((radius - 40) / 1.2) ** 2)
    path = write_imagej_tiff(tmp_path / "r.tif", pattern, 0.05, "1/nm")  # ring at 2 1/nm
    assert cli_main(["measure", "rings", str(path), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["centre"]["x"] == pytest.approx(103.0, abs=0.5)
    assert [r["d"] for r in record["rings"]] == [pytest.approx(0.5, rel=0.01)]


def test_rings_of_an_off_centre_pattern_are_read_about_its_own_centre(tmp_path, capsys):
    """A held-out pattern whose plain symmetry centre lies 71 px off: its rings are found."""
    from crystalview.sim.generators import simulate_ring_sample

    sample = simulate_ring_sample("cubic", 256, np.random.default_rng(0), "heldout")
    offset = sample.params["center_offset"]
    path = tmp_path / "off.tif"
    tifffile.imwrite(path, sample.image.astype(np.float32))
    assert cli_main(["measure", "rings", str(path), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["centre"]["y"] == pytest.approx(127.5 + offset[0], abs=0.5)
    assert record["centre"]["x"] == pytest.approx(127.5 + offset[1], abs=0.5)
    assert len(record["rings"]) >= 3


def test_set_scale_is_kept_for_the_file_and_used_by_the_other_tools(tmp_path, capsys):
    path = tmp_path / "plain.tif"
    tifffile.imwrite(path, np.zeros((30, 30), np.uint8))
    args = ["measure", "line", str(path), "--from", "0", "0", "--to", "10", "0", "--json"]
    assert cli_main(args) == 0
    assert json.loads(capsys.readouterr().out)["unit"] == "px"
    assert (
        cli_main(
            ["measure", "set-scale", str(path), "--line", "10", "--length", "5", "--unit", "µm"]
        )
        == 0
    )
    assert "500 nm/px (set by hand" in capsys.readouterr().out
    assert cli_main(args) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["length"] == pytest.approx(5000.0) and record["scale_source"] == "set by hand"
    assert cli_main(["measure", "set-scale", str(path), "--remove"]) == 0
    capsys.readouterr()
    assert cli_main(["measure", "set-scale", str(path), "--line", "10", "--unit", "nm"]) == 1
    assert "--length" in capsys.readouterr().err
