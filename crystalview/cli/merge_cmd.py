"""``crystalview merge-results``: join the CSVs of ``classify --shard`` parts into one file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", type=Path, help="CSV files written by classify")
    parser.add_argument("--out", type=Path, required=True, help="the merged CSV to write")


def run(args: argparse.Namespace) -> int:
    from crystalview.batch.merge import merge_result_files

    count = merge_result_files(args.inputs, args.out)
    print(f"merged {len(args.inputs)} file(s) into {args.out}: {count} row(s)", file=sys.stderr)
    return 0
