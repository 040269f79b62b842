"""``crystalview classify`` writes the CSV, reports bad files on stderr and exits 1 for them."""

from __future__ import annotations

import csv
import json

import pytest
import tifffile

from crystalview.cli import main


@pytest.fixture
def image_folder(tmp_path, textured):
    folder = tmp_path / "images"
    (folder / "sub").mkdir(parents=True)
    tifffile.imwrite(folder / "a.tif", textured((90, 120), seed=1))
    tifffile.imwrite(folder / "sub" / "b.tif", textured((24, 30), seed=2))  # smaller than a tile
    (folder / "broken.tif").write_bytes(b"II*\x00 this is not really a TIFF")
    return folder


def test_csv_for_a_folder_with_one_broken_file(tmp_path, image_folder, bundle_factory, capsys):
    bundle = bundle_factory(tmp_path / "tiny.cvmodel")
    out = tmp_path / "results.csv"
    status = main(
        ["classify", str(image_folder), "--model", str(bundle), "--out", str(out),
         "--batch", "4", "--device", "cpu"]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert status == 1
    assert "broken.tif" in captured.err
    assert captured.out == ""  # stdout stays clean when --out is given
    with open(out, newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == [
        "path", "label", "confidence", "n_tiles", "model", "modality",
        "p_amorphous", "p_crystalline", "p_mixed",
    ]  # fmt: skip
    by_name = {row[0].split("/")[-1]: row for row in rows[1:]}
    assert set(by_name) == {"a.tif", "b.tif"}
    assert int(by_name["b.tif"][3]) == 1 and int(by_name["a.tif"][3]) > 1
    for row in rows[1:]:
        probabilities = [float(p) for p in row[6:]]
        assert sum(probabilities) == pytest.approx(1.0, abs=1e-4)
        assert float(row[2]) == pytest.approx(max(probabilities), abs=1e-6)
        assert row[1] in ("amorphous", "crystalline", "mixed")
        assert row[4] == "tiny"
        assert row[5] == "unknown"  # plain TIFFs say nothing about the microscope


def test_json_output_and_success_status(tmp_path, textured, bundle_factory, capsys):
    bundle = bundle_factory(tmp_path / "tiny.cvmodel")
    image = tmp_path / "one.tif"
    tifffile.imwrite(image, textured((64, 64)))
    status = main(["classify", str(image), "--model", str(bundle), "--json", "--device", "cpu"])
    records = json.loads(capsys.readouterr().out)
    assert status == 0
    assert [r["path"] for r in records] == [str(image)]
    assert records[0]["label"] in records[0]["probabilities"]
    assert records[0]["modality"] in ("TEM", "STEM", "SEM", "SAED", "unknown")


def test_unknown_model_is_one_clean_line(tmp_path, capsys):
    status = main(["classify", str(tmp_path), "--model", "no-such-model"])
    err = capsys.readouterr().err
    assert status == 1
    assert "no model called 'no-such-model'" in err and "Traceback" not in err
