"""``--shard I/N``: the I-th of N deterministic parts of a file list, for job arrays.

Every job of an array sees the same folders, sorts the same paths the same way and takes every
N-th file starting at the I-th, so the parts are disjoint, together cover the list, and stay
balanced even when the big files sit together in one folder.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from crystalview.core.errors import CrystalViewError


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/8"`` → ``(2, 8)``; I counts from 1 (as SLURM's ``--array=1-N`` does)."""
    try:
        index_text, count_text = text.split("/")
        index, count = int(index_text), int(count_text)
    except ValueError:
        raise CrystalViewError(f"--shard wants I/N, like 1/4; got {text!r}") from None
    if count < 1 or not 1 <= index <= count:
        raise CrystalViewError(f"--shard {text}: I must be between 1 and N (N at least 1)")
    return index, count


def take_shard(files: Iterable[Path], index: int, count: int) -> list[Path]:
    """Every ``count``-th file of the sorted list, starting at number ``index`` (from 1)."""
    ordered = sorted(files, key=lambda path: str(path))
    return ordered[index - 1 :: count]
