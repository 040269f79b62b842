"""Entry points: ``crystalview`` (console) and ``crystalview-gui`` (no console on Windows)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Run a subcommand headless, or open the window when none is named."""
    from crystalview.cli import main as cli_main

    return cli_main(sys.argv[1:] if argv is None else argv)


def gui_main() -> int:
    """Launch the window; used by the ``crystalview-gui`` script and desktop launchers."""
    from crystalview.cli import main as cli_main

    return cli_main(["gui", *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(main())
