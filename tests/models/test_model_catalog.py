"""The catalogue lists, resolves and imports bundles without ever overwriting one."""

from __future__ import annotations

import shutil

import pytest

from crystalview import paths
from crystalview.core.errors import ModelBundleError
from crystalview.models import catalog


@pytest.fixture
def homes(tmp_path, monkeypatch):
    builtin = tmp_path / "builtin"
    user = tmp_path / "user"
    builtin.mkdir()
    monkeypatch.setattr(paths, "builtin_models_dir", lambda: builtin)
    monkeypatch.setattr(paths, "user_models_dir", lambda: user)
    return builtin, user


def test_list_resolve_and_load(homes, tiny_bundle):
    builtin, _ = homes
    shutil.copy(tiny_bundle, builtin / "saed.cvmodel")
    (builtin / "broken.cvmodel").write_bytes(b"not a zip")
    entries = catalog.list_models()
    assert [(e.name, e.builtin) for e in entries] == [("saed", True)]
    assert entries[0].manifest.classes[0] == "amorphous"
    assert catalog.resolve_model("saed") == builtin / "saed.cvmodel"
    assert catalog.resolve_model(tiny_bundle) == tiny_bundle
    assert catalog.load_model("saed").manifest.architecture == "diffraction_cnn"


def test_unknown_name_lists_the_known_ones(homes, tiny_bundle):
    shutil.copy(tiny_bundle, homes[0] / "saed.cvmodel")
    with pytest.raises(ModelBundleError, match="known models: saed"):
        catalog.resolve_model("nonexistent")


def test_import_versions_names_and_never_overwrites(homes, tiny_bundle):
    builtin, user = homes
    shutil.copy(tiny_bundle, builtin / "tiny.cvmodel")
    first = catalog.import_model(tiny_bundle)
    second = catalog.import_model(tiny_bundle)
    assert (first.name, second.name) == ("tiny-2", "tiny-3")
    assert sorted(p.name for p in user.iterdir()) == ["tiny-2.cvmodel", "tiny-3.cvmodel"]
    assert [e.name for e in catalog.list_models()] == ["tiny", "tiny-2", "tiny-3"]


def test_import_refuses_invalid_file_and_copies_nothing(homes, tmp_path):
    bad = tmp_path / "bad.cvmodel"
    bad.write_bytes(b"garbage")
    with pytest.raises(ModelBundleError):
        catalog.import_model(bad)
    assert not homes[1].exists() or not any(homes[1].iterdir())


def test_unique_model_path_sanitises_names(homes):
    path = catalog.unique_model_path("../My model: v1")
    assert path.parent == homes[1]
    assert path.name == "My_model_v1.cvmodel"
