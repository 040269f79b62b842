"""Command-line dispatcher.

``crystalview`` with no subcommand (or with image paths, or ``--demo``) opens the window; a known
subcommand runs headless. Each subcommand lives in its own module exposing
``add_arguments(parser)`` and ``run(args) -> int``. Only the chosen module is imported, so
start-up stays fast: torch and Qt load only for the commands that need them.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from crystalview import __version__
from crystalview.core.errors import CrystalViewError

# subcommand name -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "gui": ("crystalview.cli.gui_cmd", "open the window (the default)"),
    "info": ("crystalview.cli.info_cmd", "print what each image file holds"),
    "classify": ("crystalview.cli.classify_cmd", "classify images with a model"),
    "merge-results": ("crystalview.cli.merge_cmd", "join the CSVs of sharded classify runs"),
    "models": ("crystalview.cli.models_cmd", "list, import and inspect models"),
    "train": ("crystalview.cli.train_cmd", "fine-tune a model on a labelled folder"),
    "simulate": ("crystalview.cli.simulate_cmd", "simulate diffraction patterns"),
    "measure": (
        "crystalview.cli.measure_cmd",
        "lengths, profiles, FFT spots, ring d-spacings, scale",
    ),
    "install-desktop": ("crystalview.cli.desktop_cmd", "add or remove a desktop launcher"),
}

_GLOBAL_FLAGS = ("-v", "--verbose")


def _top_level_help() -> str:
    lines = [
        "usage: crystalview [-v] [COMMAND] [ARGS...]",
        "",
        "Display, classify and explain electron-microscopy images.",
        "With no command, or with image paths, the window opens (see 'crystalview gui -h').",
        "",
        "commands:",
    ]
    lines += [f"  {name:<16} {help_text}" for name, (_, help_text) in SUBCOMMANDS.items()]
    lines += ["", "options:", "  -v, --verbose    log debug detail to stderr", "  --version"]
    return "\n".join(lines)


def split_command(argv: list[str]) -> tuple[str, list[str], bool]:
    """Return ``(command, its_args, verbose)``; the command defaults to ``gui``."""
    verbose = False
    rest = list(argv)
    while rest and rest[0] in _GLOBAL_FLAGS:
        verbose = True
        rest.pop(0)
    if rest and rest[0] in SUBCOMMANDS:
        return rest[0], rest[1:], verbose
    return "gui", rest, verbose


def main(argv: list[str]) -> int:
    if argv[:1] in (["-h"], ["--help"]):
        print(_top_level_help())
        return 0
    if argv[:1] == ["--version"]:
        print(f"crystalview {__version__}")
        return 0
    command, args_list, verbose = split_command(argv)
    module_name, help_text = SUBCOMMANDS[command]
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog=f"crystalview {command}", description=help_text)
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail to stderr")
    module.add_arguments(parser)
    args = parser.parse_args(args_list)

    from crystalview.logs import setup_logging

    setup_logging(verbose=verbose or args.verbose)
    try:
        return int(module.run(args) or 0)
    except BrokenPipeError:
        return _end_on_closed_pipe()
    except CrystalViewError as error:
        print(f"crystalview: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("crystalview: interrupted", file=sys.stderr)
        return 130


def _end_on_closed_pipe() -> int:
    """The reader of our output went away (``crystalview … | head``): stop quietly, as Unix tools
    do, with the status a process killed by SIGPIPE has (128 + 13).

    stdout is pointed at /dev/null first, or Python's final flush of the unwritten buffer would
    raise again and print a traceback on the way out.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (tests, embedding)
        pass
    finally:
        os.close(devnull)
    return 128 + 13
