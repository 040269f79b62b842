"""``crystalview simulate saed``: write simulated diffraction patterns for training or demos."""

from __future__ import annotations

import argparse
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
    parser.add_argument("--out", type=Path, required=True, help="output folder")


def run(args: argparse.Namespace) -> int:
    from crystalview.cli.progress_bar import TerminalProgress
    from crystalview.core.progress import run_to_completion
    from crystalview.sim.export import write_dataset

    if not MIN_SIZE <= args.size <= MAX_SIZE:
        raise CrystalViewError(f"--size must be between {MIN_SIZE} and {MAX_SIZE} pixels")
    if args.n < 1:
        raise CrystalViewError("--n must be at least 1")
    if args.out.exists() and not args.out.is_dir():
        raise CrystalViewError(f"{args.out} exists and is not a folder")
    regime = "heldout" if args.heldout else "train"
    bar = TerminalProgress(f"simulate {args.kind}")
    try:
        labels = run_to_completion(
            write_dataset(args.out, args.kind, args.n, args.size, args.seed, regime), bar
        )
    except OSError as error:
        raise CrystalViewError(f"cannot write to {args.out}: {error.strerror or error}") from error
    finally:
        bar.close()
    print(str(labels))
    return 0
