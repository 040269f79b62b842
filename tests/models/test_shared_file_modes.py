"""Model files and projects are meant to be shared: written with the user's umask, not 0600."""

from __future__ import annotations

import os
import stat

import pytest
import torch

from crystalview.models.bundle import save_bundle
from crystalview.models.manifest import ModelManifest
from crystalview.models.registry import build_model

pytestmark = pytest.mark.skipif(os.name != "posix", reason="Unix file modes")


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _bundle(path):
    torch.manual_seed(0)
    manifest = ModelManifest(architecture="diffraction_cnn", classes=["a", "b"], input_size=32)
    return save_bundle(path, build_model("diffraction_cnn", num_classes=2), manifest)


def test_saved_bundles_follow_the_umask(tmp_path, umask_022):
    path = _bundle(tmp_path / "shared.cvmodel")
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_imported_bundles_follow_the_umask(tmp_path, umask_022):
    from crystalview.models.catalog import import_model

    entry = import_model(_bundle(tmp_path / "colleague.cvmodel"))
    try:
        assert stat.S_IMODE(entry.path.stat().st_mode) == 0o644
    finally:
        entry.path.unlink()


def test_label_projects_follow_the_umask(tmp_path, umask_022):
    from crystalview.core.labels import LabelProject

    project = LabelProject.create(tmp_path / "labels.json", [], ["a", "b"])
    assert stat.S_IMODE(project.path.stat().st_mode) == 0o644
