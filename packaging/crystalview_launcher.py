"""Entry point of the frozen app: the same dispatcher as ``python -m crystalview``.

With no arguments (a double-click) it opens the window; subcommands still work from a terminal
(``CrystalView classify …``), so one build serves both uses.
"""

import multiprocessing
import sys

from crystalview.__main__ import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # torch and dask may start helper processes
    sys.exit(main())
