"""Saves that survive a killed process, a full disk and a folder that cannot be written.

Labels are hours of a scientist's work and a model is days of training: a save interrupted at
any moment must leave the previous complete file (or the new one), and a save that cannot
happen must say why and what to do, leaving the previous file untouched.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from crystalview.core.errors import CrystalViewError
from crystalview.core.labels import LabelProject
from crystalview.models.bundle import load_bundle, save_bundle
from crystalview.models.manifest import ModelManifest
from crystalview.models.registry import build_model

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
ADVICE = ("free", "another folder", "choose", "permission")


@pytest.mark.timeout(180)
def test_sigkill_during_repeated_saves_leaves_old_or_new_files(tmp_path):
    result = subprocess.run(
        [sys.executable, str(HERE / "save_until_killed.py"), str(tmp_path), "8"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"},
        timeout=170,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert report["problems"] == []
    versions = [version for version, _ in report["seen"]]
    assert versions == sorted(versions) and versions[-1] >= len(versions)  # progress each round
    visible = [name for name in report["files"] if not name.startswith(".")]
    assert visible == ["labels.cvlabels", "model.cvmodel"]
    assert all(name.endswith(".tmp") for name in report["files"] if name.startswith("."))


def _model_and_manifest(name: str):
    torch.manual_seed(0)
    model = build_model("diffraction_cnn", 2)
    manifest = ModelManifest(
        architecture="diffraction_cnn", classes=["a", "b"], input_size=32, name=name
    )
    return model, manifest


def _fail_with(monkeypatch, target: str, code: int) -> None:
    def failing(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(target, failing)


def _assert_clear(error: BaseException, path: Path) -> None:
    message = str(error)
    assert isinstance(error, CrystalViewError), f"{type(error).__name__}: {message}"
    assert path.name in message and "\n" not in message, message
    assert any(word in message.lower() for word in ADVICE), message


@pytest.mark.parametrize(
    ("target", "code"),
    [
        ("zipfile.ZipFile.writestr", errno.ENOSPC),
        ("os.replace", errno.ENOSPC),
        ("tempfile.mkstemp", errno.EACCES),
        ("tempfile.mkstemp", errno.EROFS),
    ],
    ids=["disk-full-while-writing", "disk-full-at-rename", "permission-denied", "read-only-fs"],
)
def test_failed_model_save_is_explained_and_keeps_the_old_file(tmp_path, monkeypatch, target, code):
    path = tmp_path / "model.cvmodel"
    save_bundle(path, *_model_and_manifest("old"))
    _fail_with(monkeypatch, target, code)
    with pytest.raises(Exception) as raised:
        save_bundle(path, *_model_and_manifest("new"))
    monkeypatch.undo()
    assert load_bundle(path).manifest.name == "old"
    assert sorted(os.listdir(tmp_path)) == ["model.cvmodel"]  # no temporary file left
    _assert_clear(raised.value, path)


def test_model_save_into_a_path_under_a_file_is_explained(tmp_path):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file where a folder should be")
    path = blocker / "model.cvmodel"
    with pytest.raises(Exception) as raised:
        save_bundle(path, *_model_and_manifest("new"))
    _assert_clear(raised.value, path)
    assert blocker.read_text() == "a file where a folder should be"


@pytest.mark.parametrize(
    ("target", "code"),
    [("os.replace", errno.ENOSPC), ("tempfile.mkstemp", errno.EACCES)],
    ids=["disk-full", "permission-denied"],
)
def test_failed_label_save_is_explained_and_keeps_the_old_file(tmp_path, monkeypatch, target, code):
    path = tmp_path / "labels.cvlabels"
    image = tmp_path / "a.tif"
    project = LabelProject.create(path, images=[image], classes=["a", "b"])
    project.set_label(image, "a")
    _fail_with(monkeypatch, target, code)
    with pytest.raises(Exception) as raised:
        project.set_label(image, "b")
    monkeypatch.undo()
    assert LabelProject.open(path).label_of(image) == "a"
    assert sorted(os.listdir(tmp_path)) == ["labels.cvlabels"]
    _assert_clear(raised.value, path)


@pytest.mark.parametrize(
    ("target", "code"),
    [("shutil.copyfile", errno.ENOSPC), ("tempfile.mkstemp", errno.EACCES)],
    ids=["disk-full", "permission-denied"],
)
def test_failed_model_import_is_explained_and_leaves_nothing(tmp_path, monkeypatch, target, code):
    from crystalview import paths
    from crystalview.models.catalog import import_model

    source = tmp_path / "shared.cvmodel"
    save_bundle(source, *_model_and_manifest("shared"))
    folder = paths.user_models_dir()
    before = set(os.listdir(folder)) if folder.is_dir() else set()
    _fail_with(monkeypatch, target, code)
    with pytest.raises(Exception) as raised:
        import_model(source)
    monkeypatch.undo()
    assert set(os.listdir(folder)) == before  # no half-copied model, no temporary file
    message = str(raised.value)
    assert isinstance(raised.value, CrystalViewError), f"{type(raised.value).__name__}: {message}"
    assert "\n" not in message and any(word in message.lower() for word in ADVICE), message
