"""``crystalview simulate saed`` writes class folders, calibrated TIFFs and labels.csv."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import tifffile

from crystalview.cli import main
from crystalview.sim.generators import SPOT_CLASSES


def test_simulate_writes_class_folders_and_labels(tmp_path, capsys):
    out = tmp_path / "spots"
    code = main(
        [
            "simulate",
            "saed",
            "--kind",
            "spots",
            "--n",
            "7",
            "--size",
            "64",
            "--seed",
            "3",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    assert capsys.readouterr().out.strip().endswith("labels.csv")
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == sorted(SPOT_CLASSES)
    with (out / "labels.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 7
    assert {"file", "label", "a", "b", "gamma", "centring", "dose", "pixel_size"} <= set(rows[0])
    for row in rows:
        path = out / row["file"]
        assert path.parent.name == row["label"]
        with tifffile.TiffFile(path) as tif:
            image = tif.asarray()
            assert tif.imagej_metadata["unit"] == "1/nm"
            x_res = tif.pages[0].tags["XResolution"].value
        # raw counts are 16-bit; a pattern drawn as an 8-bit export stays 8-bit
        expected = np.uint8 if row["export"].startswith("8-bit") else np.uint16
        assert image.dtype == expected and image.shape == (64, 64)
        assert x_res[1] / x_res[0] == pytest.approx(float(row["pixel_size"]), rel=1e-5)


def test_simulate_is_reproducible(tmp_path):
    for name in ("a", "b"):
        main(
            [
                "simulate",
                "saed",
                "--kind",
                "rings",
                "--n",
                "3",
                "--size",
                "64",
                "--seed",
                "5",
                "--out",
                str(tmp_path / name),
            ]
        )
    first = sorted((tmp_path / "a").rglob("*.tif"))
    second = sorted((tmp_path / "b").rglob("*.tif"))
    assert len(first) == 3
    for x, y in zip(first, second, strict=True):
        np.testing.assert_array_equal(tifffile.imread(x), tifffile.imread(y))


def test_simulate_refuses_bad_size_with_one_line(tmp_path, capsys):
    code = main(["simulate", "saed", "--size", "20", "--out", str(tmp_path / "x")])
    assert code == 1
    assert "--size" in capsys.readouterr().err


DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.mark.parametrize("kind", ["rings", "spots"])
def test_simulate_from_cifs_writes_one_class_per_structure(tmp_path, capsys, kind):
    out = tmp_path / kind
    cifs = [DATA / "NaCl.cif", DATA / "TiO2-rutile.cif"]
    args = ["simulate", "saed", "--kind", kind, "--n", "4", "--size", "64", "--out", str(out)]
    for cif in cifs:
        args += ["--cif", str(cif)]
    assert main(args) == 0
    assert capsys.readouterr().out.strip().endswith("labels.csv")
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["NaCl", "TiO2-rutile"]
    with (out / "labels.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [row["label"] for row in rows] == ["NaCl", "TiO2-rutile"] * 2
    nacl = [float(row["a"]) for row in rows if row["label"] == "NaCl"]
    assert all(abs(a / 5.64 - 1) <= 0.02 for a in nacl)  # the CIF's cell, strained <= 2 %
    image = tifffile.imread(out / rows[0]["file"])
    assert image.shape == (64, 64) and image.dtype in (np.uint8, np.uint16)


def test_simulate_from_a_missing_cif_says_which(tmp_path, capsys):
    code = main(["simulate", "saed", "--cif", str(tmp_path / "nope.cif"), "--out", str(tmp_path)])
    assert code != 0
    assert "nope.cif" in capsys.readouterr().err


def test_simulated_labels_give_each_cif_its_centring_even_without_a_symbol(tmp_path, capsys):
    """A CIF listing every atom of the cell and no space-group symbol (P), then rock salt (F):
    the CSV keeps a column for the symbol and gives each pattern its lattice's centring."""
    listed = tmp_path / "listed.cif"
    lines = (DATA / "NaCl.cif").read_text().splitlines()
    listed.write_text("\n".join(line for line in lines if "H-M" not in line) + "\n")
    out = tmp_path / "out"
    args = ["simulate", "saed", "--n", "2", "--size", "64", "--out", str(out)]
    assert main([*args, "--cif", str(listed), "--cif", str(DATA / "NaCl.cif")]) == 0
    capsys.readouterr()
    with (out / "labels.csv").open() as handle:
        rows = {row["label"]: row for row in csv.DictReader(handle)}
    assert rows["NaCl"]["centring"] == "F" and rows["NaCl"]["spacegroup"] == "F m -3 m"
    assert rows["listed"]["centring"] == "P" and rows["listed"]["spacegroup"] == ""
