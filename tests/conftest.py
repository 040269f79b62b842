"""Test configuration shared by the whole suite.

Qt runs headless (offscreen), user folders point into a temporary directory so tests never touch
the real home, and ``shared_data`` gives the real microscope files when ../shared/data exists.
A C-level watchdog ends a test that hangs with the interpreter lock held, which pytest-timeout's
own thread cannot see.
"""

from __future__ import annotations

import faulthandler
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

# pytest-timeout (300 s, pyproject.toml) fails a slow test, but its thread needs the interpreter
# lock: a deadlock inside C code that holds the lock stops it too, and CI then sits until its
# 90-minute limit with no word of where. faulthandler's watchdog is a C thread: a little after
# pytest-timeout would have fired, it prints every thread's stack to the terminal and exits.
HANG_WATCHDOG_S = float(os.environ.get("CRYSTALVIEW_TEST_WATCHDOG_S", "360"))
_watchdog_output = None


def pytest_configure(config: pytest.Config) -> None:
    """Keep a handle on the real stderr: output captured during a test is lost on a hard exit."""
    global _watchdog_output
    capture = config.pluginmanager.getplugin("capturemanager")
    if capture is not None:
        capture.suspend_global_capture(in_=False)
    try:
        _watchdog_output = os.fdopen(os.dup(2), "w")
    finally:
        if capture is not None:
            capture.resume_global_capture()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    faulthandler.dump_traceback_later(HANG_WATCHDOG_S, exit=True, file=_watchdog_output)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()


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
