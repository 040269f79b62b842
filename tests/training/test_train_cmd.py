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
    assert "epoch 2" in result.stderr
    assert load_bundle(out).manifest.classes == sorted(CLASSES)

    again = _run([*common, "--out", str(out)], tmp_path / "home")
    assert again.returncode == 1 and again.stdout == ""
    assert "already exists" in again.stderr and "Traceback" not in again.stderr
