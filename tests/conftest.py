"""Test configuration shared by the whole suite.

Qt runs headless (offscreen), user folders point into a temporary directory so tests never touch
the real home, and ``shared_data`` gives the real microscope files when ../shared/data exists.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("CRYSTALVIEW_HOME", tempfile.mkdtemp(prefix="crystalview-test-home-"))
# Keep torch from using every core on the 2-core CI machine while pytest-qt runs the GUI.
os.environ.setdefault("OMP_NUM_THREADS", "2")

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
TEST_DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Folder of real microscope files; skips the test when it is absent."""
    if not (SHARED_DATA / "MANIFEST.md").is_file():
        pytest.skip(f"real microscope files not available ({SHARED_DATA} is absent)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def test_data() -> Path:
    """Small files committed to tests/data."""
    return TEST_DATA


def save_tiny_bundle(
    path: Path,
    classes: tuple[str, ...] = ("spots", "rings"),
    input_size: int = 32,
    seed: int = 0,
    decisive: float = 1.0,
    **manifest_fields,
) -> Path:
    """The suite's tiny model: a seeded diffraction CNN (random weights) saved as a bundle.

    ``decisive`` scales its last layer (large: confident answers). ``manifest_fields``
    (``input_mode``, ``name``, ``pixel_size``…) go to the `ModelManifest`.
    """
    import torch

    from crystalview.models.bundle import save_bundle
    from crystalview.models.manifest import ModelManifest
    from crystalview.models.registry import build_model

    torch.manual_seed(seed)
    model = build_model("diffraction_cnn", num_classes=len(classes))
    if decisive != 1.0:
        with torch.no_grad():
            model.fc.weight.mul_(decisive)
            model.fc.bias.mul_(decisive)
    manifest_fields.setdefault("name", "tiny")
    manifest = ModelManifest(
        architecture="diffraction_cnn",
        classes=list(classes),
        input_size=input_size,
        **manifest_fields,
    )
    return save_bundle(path, model, manifest)


@pytest.fixture(scope="session")
def tiny_bundle_factory():
    """`save_tiny_bundle` (test modules cannot import a conftest under importlib mode)."""
    return save_tiny_bundle


@pytest.fixture
def tiny_bundle(tmp_path) -> Path:
    """A two-class (spots, rings) tiny model with 32 px inputs, tiled."""
    return save_tiny_bundle(tmp_path / "tiny.cvmodel")
