"""The built-in recipes: the data cache gives the same tensors back and a change of code misses
it; a refreshed card keeps the training data it describes."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "recipes" / "train_builtin.py"


@pytest.fixture
def train_builtin(monkeypatch, tmp_path):
    spec = importlib.util.spec_from_file_location("train_builtin_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "DATA_CACHE", tmp_path / "cache")
    return module


def _simulate(module, n=3):
    recipe = module.RECIPES["saed-zone-lattice"]
    manifest = module.make_manifest("saed-zone-lattice", recipe, {})
    return module.simulate_tensors(recipe, manifest, n, 17, "heldout")


def test_a_cached_data_set_comes_back_identical(train_builtin, tmp_path):
    x, y, in_ranges = _simulate(train_builtin)
    conditions = train_builtin.SIMULATED_CONDITIONS[(17, "heldout", 3)]
    (entry,) = (tmp_path / "cache").glob("*.npz")
    train_builtin.SIMULATED_CONDITIONS.clear()
    x2, y2, in_ranges2 = _simulate(train_builtin)
    np.testing.assert_array_equal(x.numpy(), x2.numpy())
    np.testing.assert_array_equal(y.numpy(), y2.numpy())
    np.testing.assert_array_equal(in_ranges, in_ranges2)
    assert train_builtin.SIMULATED_CONDITIONS[(17, "heldout", 3)] == conditions
    assert list((tmp_path / "cache").glob("*.npz")) == [entry]


def test_a_change_of_the_simulator_source_misses_the_cache(train_builtin, tmp_path):
    recipe = train_builtin.RECIPES["saed-zone-lattice"]
    before = train_builtin._cache_file(recipe, 3, 17, "heldout", False)
    edited = tmp_path / "edited_generators.py"
    edited.write_text("# a different simulator\n")
    train_builtin._DATA_SOURCES = (*train_builtin._DATA_SOURCES, edited)
    after = train_builtin._cache_file(recipe, 3, 17, "heldout", False)
    assert before != after
    assert before.parent == after.parent


def test_every_front_end_module_is_part_of_the_key(train_builtin):
    names = {path.name for path in train_builtin._DATA_SOURCES}
    assert {"diffraction.py", "ellipse.py", "preprocess.py", "generators.py"} <= names


class _InlinePool:
    """A process pool stand-in that maps in this process: a module loaded from a file path, as
    here, cannot be re-imported by a spawned child."""

    def __init__(self, processes: int) -> None:
        del processes

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None

    def map(self, function, items, chunksize=1):
        return [function(item) for item in items]


def test_weights_of_an_earlier_bundle_are_evaluated_not_retrained(
    train_builtin, tmp_path, monkeypatch
):
    import torch

    from crystalview.models.bundle import load_bundle, save_bundle
    from crystalview.models.registry import build_model

    recipe = train_builtin.RECIPES["saed-zone-lattice"]
    torch.manual_seed(3)
    network = build_model(recipe.architecture, 5)
    trained = {
        "history": [{"epoch": 1, "loss": 1.0, "train_acc": 0.5, "seconds": 1.0}],
        "n_train": 123,
        "epochs": 1,
        "seconds_data": 60.0,
        "seconds_total": 120.0,
        "data_note": "- Real structures in 45 % of the patterns: those of an older library.",
    }
    earlier = tmp_path / "earlier.cvmodel"
    save_bundle(earlier, network, train_builtin.make_manifest("saed-zone-lattice", recipe, trained))
    monkeypatch.setattr(
        train_builtin.multiprocessing, "get_context", lambda _: SimpleNamespace(Pool=_InlinePool)
    )
    out = tmp_path / "out"
    arguments = ["saed-zone-lattice", "--weights", str(earlier), "--out", str(out)]
    arguments += ["--n-heldout", "5", "--n-calibration", "5", "--n-robustness", "1"]
    assert train_builtin.main([*arguments, "--workers", "1", "--threads", "1"]) == 0
    written = load_bundle(out / "saed-zone-lattice.cvmodel")
    for key, value in network.state_dict().items():
        torch.testing.assert_close(written.model.state_dict()[key], value)
    provenance = written.manifest.provenance
    assert provenance["weights_from"] == str(earlier)
    assert provenance["n_train"] == 123 and provenance["history"] == trained["history"]
    card = (out / "saed-zone-lattice.md").read_text()
    assert train_builtin.REUSED_WEIGHTS_NOTE in card
    assert trained["data_note"] in card.splitlines()  # what these weights learnt from


def test_a_refreshed_card_keeps_the_library_the_weights_were_trained_on(train_builtin, tmp_path):
    """Re-rendering a card with new independent figures must not describe today's structure
    library: the shipped weights learnt from the one their card named."""
    import json
    import shutil

    from crystalview.models.bundle import load_bundle, save_bundle

    name = "saed-crystal-system"
    path = tmp_path / f"{name}.cvmodel"
    shutil.copy(SCRIPT.parents[1] / "models" / f"{name}.cvmodel", path)
    shipped = load_bundle(path)
    # weights trained on a library that has grown since
    note = "- Real structures in 45 % of the patterns (an earlier library of 75 compounds)."
    shipped.manifest.provenance = dict(shipped.manifest.provenance, data_note=note)
    save_bundle(path, shipped.model, shipped.manifest, model_card=shipped.model_card)
    before = load_bundle(path)
    independent = dict(before.manifest.provenance["independent"], accuracy=0.5)
    result = tmp_path / "independent.json"
    result.write_text(json.dumps({name: independent}), encoding="utf-8")

    assert train_builtin.refresh_card(name, tmp_path, result) == 0
    after = load_bundle(path)
    assert note in after.model_card.splitlines()
    assert train_builtin.DATA_NOTES["rings"] not in after.model_card
    assert after.manifest.provenance["data_note"] == note
    assert "**50.0 %** on 600 patterns" in after.model_card
    with pytest.raises(SystemExit, match="which structures"):
        train_builtin._card_data_note("# a card without its data\n")
