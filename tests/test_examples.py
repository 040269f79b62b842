"""The scripts in examples/ run as a scientist would run them (pyqtgraph's examples-as-tests).

Each runs in a fresh interpreter on small generated data and a tiny model, so a change to the
library that breaks the way the examples use it fails here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
CLASSES = ("horizontal", "vertical")


def run_example(name: str, *args: str, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "CRYSTALVIEW_HOME": str(home), "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """Two classes of striped 40 x 40 images (six each), one calibrated 96 x 80 image."""
    root = tmp_path_factory.mktemp("examples")
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:40, 0:40]
    for label, name in enumerate(CLASSES):
        folder = root / "tree" / name
        folder.mkdir(parents=True)
        for i in range(6):
            phase = rng.uniform(0, 6.3)
            stripes = np.sin(0.7 * (yy if label == 0 else xx) + phase)
            noisy = stripes + 0.3 * rng.standard_normal(stripes.shape)
            tifffile.imwrite(folder / f"{name}{i}.tif", (noisy * 1000 + 5000).astype(np.uint16))
    big = rng.integers(0, 4000, (96, 80)).astype(np.uint16)
    tifffile.imwrite(
        root / "big.tif", big, imagej=True, resolution=(0.5, 0.5), metadata={"unit": "nm"}
    )
    return root


@pytest.fixture(scope="module")
def model(data, tiny_bundle_factory) -> Path:
    """A tiny tiled model with 16 px inputs (seeded, untrained)."""
    return tiny_bundle_factory(data / "tiny.cvmodel", CLASSES, input_size=16)


def test_open_and_inspect(data, tmp_path):
    out = run_example("open_and_inspect.py", data / "big.tif", home=tmp_path).stdout
    assert "80 x 96 px" in out and "uint16" in out and "2 nm/px" in out


def test_classify_folder(data, model, tmp_path):
    out = run_example("classify_folder.py", model, data / "tree", home=tmp_path).stdout
    rows = out.strip().splitlines()
    assert rows[0] == "file,label,confidence,tiles" and len(rows) == 1 + 12
    assert all(row.split(",")[1] in CLASSES for row in rows[1:])


def test_heatmap_of_one_image(data, model, tmp_path):
    run_example("heatmap_of_one_image.py", model, data / "big.tif", tmp_path, home=tmp_path)
    heatmap = tifffile.imread(tmp_path / "big_cam.tif")
    assert heatmap.shape == (96, 80) and heatmap.dtype == np.float32
    assert (tmp_path / "big_cam.png").stat().st_size > 0


def test_train_from_folder_tree(data, tmp_path):
    out_path = tmp_path / "mine.cvmodel"
    args = ("--epochs", "1", "--input-size", "32")
    out = run_example(
        "train_from_folder_tree.py", data / "tree", out_path, *args, home=tmp_path
    ).stdout
    assert "12 images of 2 classes" in out and "epoch 1" in out
    from crystalview.models.bundle import load_bundle

    assert load_bundle(out_path).manifest.classes == list(CLASSES)
