"""Where CrystalView keeps user data: models, settings, logs (via platformdirs).

``CRYSTALVIEW_HOME`` overrides the root, which tests use to stay out of the real home folder.
"""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "CrystalView"
APP_AUTHOR = "CrystalView"

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent


def _override() -> Path | None:
    root = os.environ.get("CRYSTALVIEW_HOME")
    return Path(root) if root else None


def user_data_dir() -> Path:
    root = _override()
    if root is not None:
        return root / "data"
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, APP_AUTHOR))


def user_models_dir() -> Path:
    """User-trained and imported `.cvmodel` bundles."""
    return user_data_dir() / "models"


def log_dir() -> Path:
    root = _override()
    if root is not None:
        return root / "logs"
    import platformdirs

    return Path(platformdirs.user_log_dir(APP_NAME, APP_AUTHOR))


def builtin_models_dir() -> Path:
    """Shipped model bundles: ``models/`` beside the package, or inside it when installed."""
    for candidate in (REPO_DIR / "models", PACKAGE_DIR / "_models"):
        if candidate.is_dir():
            return candidate
    return REPO_DIR / "models"


def resources_dir() -> Path:
    """Icons, desktop template and sample images."""
    for candidate in (REPO_DIR / "resources", PACKAGE_DIR / "_resources"):
        if candidate.is_dir():
            return candidate
    return REPO_DIR / "resources"


def demo_paths() -> list[Path]:
    """The sample images shipped in ``resources/samples`` (opened by ``--demo``)."""
    samples = resources_dir() / "samples"
    return [samples] if samples.is_dir() else []
