"""The built-in recipes' data cache: the same tensors back, and a change of code misses it."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

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
