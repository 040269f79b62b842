"""Write simulated patterns as calibrated 16-bit TIFFs and data sets as class folders + CSV.

The calibration goes into ImageJ's tags, which every TEM tool reads: the ImageJ description holds
``unit=1/nm`` and the TIFF X/YResolution hold pixels per unit (1 / pixel size).
"""

from __future__ import annotations

import csv
from collections.abc import Generator
from pathlib import Path

import numpy as np

from crystalview.core.progress import CancelToken, Progress
from crystalview.sim.crystal import Crystal
from crystalview.sim.generators import (
    Sample,
    class_names,
    simulate_one,
    simulate_structure_sample,
    usable_zones,
)

RECIPROCAL_UNIT = "1/nm"


def write_pattern_tiff(path: str | Path, image: np.ndarray, pixel_size: float) -> Path:
    """Save a pattern (uint16, or uint8 for an 8-bit export) with its reciprocal pixel size
    (1/nm per pixel) as ImageJ tags."""
    import tifffile

    path = Path(path)
    per_unit = 1.0 / float(pixel_size)
    tifffile.imwrite(
        path,
        np.asarray(image, dtype=np.uint8 if image.dtype == np.uint8 else np.uint16),
        imagej=True,
        resolution=(per_unit, per_unit),
        metadata={"unit": RECIPROCAL_UNIT, "axes": "YX"},
        compression="zlib",
    )
    return path


def write_dataset(
    out_dir: str | Path,
    kind: str,
    n: int,
    size: int,
    seed: int,
    regime: str = "train",
    cancel: CancelToken | None = None,
) -> Generator[Progress, None, Path]:
    """Simulate ``n`` patterns into ``out_dir/<class>/<kind>_<index>.tif`` plus ``labels.csv``.

    ``labels.csv`` has one row per image: its relative path, class and every generating
    parameter, so a data set can be audited or filtered (e.g. by dose) after the fact.
    """
    out_dir = Path(out_dir)
    for name in class_names(kind):
        (out_dir / name).mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    width = len(str(max(n - 1, 0)))
    for index in range(n):
        if cancel is not None:
            cancel.raise_if_cancelled()
        sample: Sample = simulate_one(kind, index, size, seed, regime)
        relative = Path(sample.label) / f"{kind}_{index:0{width}d}.tif"
        write_pattern_tiff(out_dir / relative, sample.image, sample.params["pixel_size"])
        rows.append({"file": relative.as_posix(), "label": sample.label} | sample.params)
        if index % 16 == 15 or index == n - 1:
            yield Progress(index + 1, n, f"{index + 1}/{n} {kind} patterns written")
    return _write_labels(out_dir, rows)


def _write_labels(out_dir: Path, rows: list[dict]) -> Path:
    labels = out_dir / "labels.csv"
    if rows:
        with labels.open("w", newline="", encoding="utf-8") as handle:
            # every row's columns: a CIF without a space-group symbol has one field fewer
            fields = list(dict.fromkeys(key for row in rows for key in row))
            writer = csv.DictWriter(handle, fieldnames=fields, restval="")
            writer.writeheader()
            writer.writerows(rows)
    return labels


def write_structure_dataset(
    out_dir: str | Path,
    crystals: dict[str, Crystal],
    kind: str,
    n: int,
    size: int,
    seed: int,
    cancel: CancelToken | None = None,
) -> Generator[Progress, None, Path]:
    """Patterns of the given structures, one class per structure, into class folders + CSV.

    ``crystals`` maps a class name (e.g. the CIF's file name) to its crystal; classes cycle so
    each gets ``n / len(crystals)`` patterns. Pattern ``i`` depends only on ``(seed, i)``. The
    layout is that of `write_dataset`, which the fine-tune wizard imports as a labelled tree.
    """
    if not crystals:
        raise ValueError("no structures to simulate")
    out_dir = Path(out_dir)
    names = list(crystals)
    zones = {}
    for name in names:
        (out_dir / name).mkdir(parents=True, exist_ok=True)
        if kind == "spots":
            zones[name] = usable_zones(crystals[name])
            if not zones[name]:
                raise ValueError(f"{name}: no zone axis up to index 3 shows six spots")
    rows: list[dict] = []
    width = len(str(max(n - 1, 0)))
    for index in range(n):
        if cancel is not None:
            cancel.raise_if_cancelled()
        name = names[index % len(names)]
        rng = np.random.default_rng([seed, index, 7])
        sample = simulate_structure_sample(
            crystals[name], name, kind, size, rng, zones.get(name, ())
        )
        relative = Path(name) / f"{kind}_{index:0{width}d}.tif"
        write_pattern_tiff(out_dir / relative, sample.image, sample.params["pixel_size"])
        rows.append({"file": relative.as_posix(), "label": name} | sample.params)
        if index % 8 == 7 or index == n - 1:
            yield Progress(index + 1, n, f"{index + 1}/{n} patterns of {len(names)} structures")
    return _write_labels(out_dir, rows)
