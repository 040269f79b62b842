"""``crystalview simulate saed``: write simulated diffraction patterns for training or demos.

Without ``--cif`` the patterns are the built-in models' classes (crystal systems or zone
lattices of random and library crystals). With ``--cif A.cif --cif B.cif …`` every CIF is one
class (named after the file) and the patterns are of those structures, with the same camera
randomisation, so a lab can train "phase A vs phase B" in the fine-tune wizard.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from crystalview.core.errors import CrystalViewError

MIN_SIZE = 64
MAX_SIZE = 1024


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("what", choices=["saed"], help="what to simulate (electron diffraction)")
    parser.add_argument(
        "--kind",
        choices=["rings", "spots"],
        default="rings",
        help="polycrystalline rings (crystal system) or zone-axis spots (2-D lattice)",
    )
    parser.add_argument("--n", type=int, default=100, help="number of patterns (classes cycle)")
    parser.add_argument("--size", type=int, default=256, help="image side in pixels (64..1024)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (reproducible output)")
    parser.add_argument(
        "--heldout",
        action="store_true",
        help="draw from the wider held-out ranges (low dose, big offsets, beam stop)",
    )
    parser.add_argument(
        "--cif",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="a structure (CIF) to simulate, one class per file; repeat for several phases",
    )
    parser.add_argument("--out", type=Path, required=True, help="output folder")


def class_name_of(path: Path, taken: set[str]) -> str:
    """A folder-safe class name from a CIF's file name, unique among ``taken``."""
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", path.stem).strip("._") or "structure"
    name, k = base, 2
    while name.lower() in taken:
        name, k = f"{base}_{k}", k + 1
    taken.add(name.lower())
    return name


def read_structures(paths: list[Path]) -> dict:
    """Class name -> `Crystal` for each CIF, with a clear error for a bad or missing file."""
    from crystalview.sim.structures import crystal_from_cif

    crystals, taken = {}, set()
    for path in paths:
        if not path.is_file():
            raise CrystalViewError(f"{path}: no such CIF file")
        crystals[class_name_of(path, taken)] = crystal_from_cif(path)
    return crystals


def run(args: argparse.Namespace) -> int:
    from crystalview.cli.progress_bar import TerminalProgress
    from crystalview.core.progress import run_to_completion
    from crystalview.sim.export import write_dataset, write_structure_dataset

    if not MIN_SIZE <= args.size <= MAX_SIZE:
        raise CrystalViewError(f"--size must be between {MIN_SIZE} and {MAX_SIZE} pixels")
    if args.n < 1:
        raise CrystalViewError("--n must be at least 1")
    if args.out.exists() and not args.out.is_dir():
        raise CrystalViewError(f"{args.out} exists and is not a folder")
    if args.cif and args.heldout:
        raise CrystalViewError("--heldout applies to the built-in classes, not to --cif")
    bar = TerminalProgress(f"simulate {args.kind}")
    try:
        if args.cif:
            crystals = read_structures(args.cif)
            job = write_structure_dataset(
                args.out, crystals, args.kind, args.n, args.size, args.seed
            )
        else:
            regime = "heldout" if args.heldout else "train"
            job = write_dataset(args.out, args.kind, args.n, args.size, args.seed, regime)
        labels = run_to_completion(job, bar)
    except OSError as error:
        raise CrystalViewError(f"cannot write to {args.out}: {error.strerror or error}") from error
    except ValueError as error:
        raise CrystalViewError(str(error)) from error
    finally:
        bar.close()
    print(str(labels))
    return 0
