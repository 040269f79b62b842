"""The default command: ``crystalview [--demo] [PATHS...]``."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from crystalview.gui.app import demo_paths


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "crystalview", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11/Wayland check")
def test_without_a_display_it_says_so_instead_of_aborting(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
    }
    result = run_cli("--demo", env=env)
    assert result.returncode == 1
    assert "no display" in result.stderr
    assert "Traceback" not in result.stderr


def test_gui_help_lists_demo():
    result = run_cli("gui", "--help", env=dict(os.environ))
    assert result.returncode == 0
    assert "--demo" in result.stdout


def test_demo_paths_hold_real_samples():
    (folder,) = demo_paths()
    from crystalview.io import find_images

    found = find_images([folder])
    suffixes = {p.suffix.lower() for p in found.files}
    assert {".dm3", ".tif", ".emi", ".emd"} <= suffixes
    assert (folder / "README.md").is_file()
