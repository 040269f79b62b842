"""The shipped SAED bundles load through the safe loader and recognise fresh simulations."""

from __future__ import annotations

import numpy as np
import pytest

from crystalview.paths import builtin_models_dir
from crystalview.sim.generators import simulate_one

torch = pytest.importorskip("torch")

# (bundle, pattern kind, simulated size, minimum accuracy on a small fresh sample, its
# preprocessing). Chance is 1/3 and 1/5. Since issue 14 the generator draws real structures
# (Pnma perovskites, olivine, corundum ...), random structures in random space groups,
# dynamical-like intensities, amorphous halos, four beam-stop shapes, 8-bit/JPEG exports and
# partial patterns, so these fresh patterns are much harder than before: on these 60 the
# bundles retrained at the full recipes score 83.3 % (rings) and 86.7 % (spots; held-out 84.8 %
# and 90.5 %, see the model cards). The thresholds leave a few patterns of margin for BLAS
# differences and still fail a model that lost its skill or a preprocessing that differs from
# training.
THRESHOLD_RINGS = 0.75
BUILTINS = [
    ("saed-crystal-system", "rings", 256, THRESHOLD_RINGS, "log_polar_mean"),
    ("saed-zone-lattice", "spots", 128, 0.8, "polar_autocorrelation"),
]
N_PATTERNS = 60
FRESH_SEED = 424242  # used by neither training nor the held-out evaluation


@pytest.mark.parametrize(("name", "kind", "size", "threshold", "transform"), BUILTINS)
def test_builtin_bundle_classifies_fresh_patterns(name, kind, size, threshold, transform):
    from crystalview.inference.preprocess import prepare_whole
    from crystalview.models.bundle import load_bundle

    path = builtin_models_dir() / f"{name}.cvmodel"
    assert path.is_file(), f"{path} is missing"
    loaded = load_bundle(path)
    manifest = loaded.manifest
    assert manifest.input_mode == "whole" and manifest.normalization["log"] is True
    assert manifest.normalization["transform"] == transform
    assert path.stat().st_size < 5 * 1024 * 1024

    samples = [simulate_one(kind, i, size, FRESH_SEED) for i in range(N_PATTERNS)]
    batch = np.stack([prepare_whole(s.image, manifest) for s in samples])[:, None]
    with torch.inference_mode():
        predicted = loaded.model(torch.from_numpy(batch)).argmax(1).numpy()
    truth = np.array([manifest.classes.index(s.label) for s in samples])
    assert (predicted == truth).mean() >= threshold
