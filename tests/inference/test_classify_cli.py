"""``crystalview classify`` writes the CSV, reports bad files on stderr and exits 1 for them."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import tifffile

from crystalview.cli import main
from crystalview.models.manifest import default_normalization


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
        "path", "label", "confidence", "status", "n_tiles", "model", "ood_score",
        "status_reason", "modality", "error", "file_size", "file_mtime_ns",
        "p_amorphous", "p_crystalline", "p_mixed",
    ]  # fmt: skip
    by_name = {row[0].split("/")[-1]: row for row in rows[1:]}
    assert set(by_name) == {"a.tif", "b.tif", "broken.tif"}
    broken = by_name.pop("broken.tif")  # a failed file is a row with its error, and no answer
    assert broken[9] and broken[1] == "" and broken[2] == ""
    rows = [rows[0], *by_name.values()]
    assert int(by_name["b.tif"][4]) == 1 and int(by_name["a.tif"][4]) > 1
    for row in rows[1:]:
        probabilities = [float(p) for p in row[12:]]
        assert sum(probabilities) == pytest.approx(1.0, abs=1e-4)
        assert float(row[2]) == pytest.approx(max(probabilities), abs=1e-6)
        assert row[1] in ("amorphous", "crystalline", "mixed")
        assert row[3] in ("ok", "unsure", "not-this-kind") and row[8]
        assert row[5] == "tiny"
        assert row[6] == ""  # an uncalibrated model has no out-of-distribution score
        assert row[8] == "unknown"  # plain TIFFs say nothing about the microscope
        assert row[9] == "" and int(row[10]) > 0 and int(row[11]) > 0
    assert "not calibrated" in captured.err


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
    assert records[0]["status"] in ("ok", "unsure", "not-this-kind")
    assert records[0]["status_reason"] and records[0]["calibrated"] is False


def test_per_folder_gives_one_combined_verdict_per_folder(tmp_path, bundle_factory, capsys):
    from crystalview.sim.generators import simulate_one

    bundle = bundle_factory(
        tmp_path / "saed.cvmodel",
        modality="SAED",
        input_mode="whole",
        normalization=default_normalization(log=True),
    )
    for folder, seed in (("sample_a", 1), ("sample_b", 2)):
        (tmp_path / "data" / folder).mkdir(parents=True)
        for i in range(3):
            image = simulate_one("spots", i, 96, seed).image
            tifffile.imwrite(tmp_path / "data" / folder / f"p{i}.tif", image)
    tifffile.imwrite(tmp_path / "data" / "sample_b" / "blank.tif", np.full((64, 64), 9, np.uint16))
    out = tmp_path / "folders.csv"
    args = ["classify", str(tmp_path / "data"), "--model", str(bundle), "--per-folder"]
    status = main([*args, "--out", str(out), "--device", "cpu"])
    assert status == 0
    with open(out, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [Path(r["folder"]).name for r in rows] == ["sample_a", "sample_b"]
    assert [int(r["n_patterns"]) for r in rows] == [3, 4]
    b = rows[1]
    assert int(b["n_used"]) <= 3  # the blank frame is not-this-kind and left out
    assert 1 <= int(b["n_agree"]) <= int(b["n_used"])
    assert b["status"] in ("ok", "unsure") and "agree" in b["status_reason"]
    capsys.readouterr()
    assert main([*args, "--json", "--device", "cpu"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert len(result["files"]) == 7 and len(result["folders"]) == 2
    statuses = {Path(r["path"]).name: r["status"] for r in result["files"]}
    assert statuses["blank.tif"] == "not-this-kind"
    folder = result["folders"][0]
    per_file = [
        r
        for r in result["files"]
        if Path(r["path"]).parent.name == "sample_a" and r["status"] != "not-this-kind"
    ]
    assert folder["n_used"] == len(per_file) > 0
    expected = np.sum([np.log(list(r["probabilities"].values())) for r in per_file], axis=0)
    assert folder["label"] == list(per_file[0]["probabilities"])[int(np.argmax(expected))]


def test_unknown_model_is_one_clean_line(tmp_path, capsys):
    status = main(["classify", str(tmp_path), "--model", "no-such-model"])
    err = capsys.readouterr().err
    assert status == 1
    assert "no model called 'no-such-model'" in err and "Traceback" not in err
