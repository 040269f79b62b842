"""``crystalview train`` end to end on a tiny labelled folder tree of TIFF files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import tifffile

from crystalview.models.bundle import load_bundle

from .conftest import CLASSES, synthetic_images


def _folder_tree(root: Path) -> Path:
    for i, (image, label) in enumerate(synthetic_images(6)):
        folder = root / "data" / CLASSES[label]
        folder.mkdir(parents=True, exist_ok=True)
        tifffile.imwrite(folder / f"img{i:03d}.tif", image)
    return root / "data"


def _run(args: list[str], home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "CRYSTALVIEW_HOME": str(home), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "crystalview", "train", *args],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
    )


def test_train_prints_exactly_one_json_line(tmp_path):
    data = _folder_tree(tmp_path)
    out = tmp_path / "model.cvmodel"
    common = [str(data), "--base", "diffraction_cnn", "--epochs", "2", "--input-size", "32"]
    result = _run([*common, "--seed", "1", "--out", str(out)], tmp_path / "home")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    summary = json.loads(lines[0])
    assert {"val_accuracy", "per_class", "confusion_matrix", "train_seconds", "out"} <= set(summary)
    assert summary["out"] == str(out) and set(summary["per_class"]) == set(CLASSES)
    assert sum(map(sum, summary["confusion_matrix"])) == 3  # round(20 % of 6) per class
    assert "epoch 2" in result.stderr and "val loss" in result.stderr
    assert load_bundle(out).manifest.classes == sorted(CLASSES)

    again = _run([*common, "--out", str(out)], tmp_path / "home")
    assert again.returncode == 1 and again.stdout == ""
    assert "already exists" in again.stderr and "Traceback" not in again.stderr


def test_training_on_every_image_says_there_is_no_validation(tmp_path):
    data = _folder_tree(tmp_path)
    args = [str(data), "--base", "diffraction_cnn", "--epochs", "1", "--input-size", "32"]
    result = _run([*args, "--val-split", "0", "--out", str(tmp_path / "m.cvmodel")], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "epoch 1" in result.stderr and "no validation (all images train)" in result.stderr
    assert "val loss" not in result.stderr  # no "acc 0.000" for a set that does not exist


def test_train_without_base_chooses_and_reports_honest_validation(tmp_path):
    """No --base/--strategy: the recipe is chosen, printed with why, and validation has a CI."""
    data = _folder_tree(tmp_path)
    copy = data / CLASSES[0] / "img000_reexport.tif"  # a duplicate the counts must see through
    copy.write_bytes((data / CLASSES[0] / "img000.tif").read_bytes())
    out = tmp_path / "auto.cvmodel"
    result = _run(
        [str(data), "--out", str(out), "--budget", "20", "--modality", "SEM"], tmp_path / "home"
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["data_summary"] == "19 images, 18 distinct micrographs"
    assert summary["recommended"]["chosen"] and summary["recommended"]["trials"]
    assert "frozen" not in {t.get("strategy") for t in summary["recommended"]["trials"]} or (
        summary["recommended"]["chosen"].startswith("efficientnet_lite0 (ImageNet)")
    )
    assert "Chosen:" in result.stderr and "because:" in result.stderr
    assert "95 % CI" in result.stderr and "distinct micrographs" in result.stderr
    manifest = load_bundle(out).manifest
    assert manifest.modality == "SEM" and manifest.normalization["log"] is False
    assert (
        manifest.provenance["validation"]["ci95"][0]
        <= manifest.provenance["validation"]["accuracy"]
    )


def test_explicit_random_base_is_never_frozen_silently(tmp_path):
    data = _folder_tree(tmp_path)
    out = tmp_path / "m.cvmodel"
    args = [str(data), "--base", "diffraction_cnn", "--epochs", "1", "--input-size", "32"]
    result = _run([*args, "--out", str(out)], tmp_path / "home")
    assert result.returncode == 0, result.stderr
    assert "random weights" in result.stderr
    assert load_bundle(out).manifest.provenance["strategy"] == "full"
