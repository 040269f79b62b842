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
