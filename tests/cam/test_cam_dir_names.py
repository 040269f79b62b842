"""``classify --cam-dir`` never lets same-named images overwrite each other's heat maps."""

from __future__ import annotations

import numpy as np
import tifffile
import torch

from crystalview.batch.output_names import MirroredNames
from crystalview.cli import main
from crystalview.models.bundle import save_bundle
from crystalview.models.manifest import ModelManifest
from crystalview.models.registry import build_model


def _tiny_bundle(path):
    torch.manual_seed(0)
    model = build_model("diffraction_cnn", num_classes=2)
    manifest = ModelManifest(
        architecture="diffraction_cnn", classes=["spots", "rings"], input_size=32, name="tiny"
    )
    return save_bundle(path, model, manifest)


def test_same_named_images_in_acquisition_folders_get_their_own_maps(tmp_path, capsys):
    bundle = _tiny_bundle(tmp_path / "tiny.cvmodel")
    session = tmp_path / "session"
    for i, folder in enumerate(("area1", "area2")):
        (session / folder).mkdir(parents=True)
        data = np.full((24, 30), 100 * (i + 1), np.uint16)
        data[i * 10 : i * 10 + 5] = 4000  # different images, same file name
        tifffile.imwrite(session / folder / "Image001.tif", data)
    cams = tmp_path / "cams"
    args = ["classify", str(session), "--model", str(bundle), "--cam-dir", str(cams), "--json"]
    assert main(args) == 0
    first = tifffile.imread(cams / "area1" / "Image001_cam.tif")
    second = tifffile.imread(cams / "area2" / "Image001_cam.tif")
    assert (cams / "area1" / "Image001_cam.png").is_file()
    assert not np.array_equal(first, second)
    capsys.readouterr()

    assert main(args) == 0  # a second run replaces the maps, and says so
    assert "replacing" in capsys.readouterr().err


def test_images_named_directly_with_the_same_name_are_numbered(tmp_path):
    a, b = tmp_path / "a" / "Image001.tif", tmp_path / "b" / "Image001.tif"
    names = MirroredNames(tmp_path / "out", [a, b])
    assert names.place(a) == (tmp_path / "out", "Image001")
    assert names.place(b) == (tmp_path / "out", "Image001-2")
