"""``crystalview [--demo] [PATHS...]``: open the window (the default command)."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths", nargs="*", metavar="PATH", help="image files or folders to open (recursively)"
    )
    parser.add_argument(
        "--demo", action="store_true", help="open the sample images shipped with CrystalView"
    )


def run(args: argparse.Namespace) -> int:
    from crystalview.gui.app import run as run_window

    return run_window(args.paths, demo=args.demo)
