"""``crystalview [--demo] [PATHS...]``: open the window (the default command)."""

from __future__ import annotations

import argparse
import os
import sys

from crystalview.core.errors import CrystalViewError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths", nargs="*", metavar="PATH", help="image files or folders to open (recursively)"
    )
    parser.add_argument(
        "--demo", action="store_true", help="open the sample images shipped with CrystalView"
    )


def _check_display() -> None:
    """Fail with a clear message, not a Qt abort, when there is no screen to open a window on."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise CrystalViewError(
            "no display to open the window on (DISPLAY and WAYLAND_DISPLAY are not set). "
            "Run it from a desktop session, or use the headless commands: crystalview --help"
        )


def run(args: argparse.Namespace) -> int:
    _check_display()
    from crystalview.gui.app import run as run_window

    return run_window(args.paths, demo=args.demo)
