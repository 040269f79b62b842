"""``crystalview info [--json] PATH...``: what each image file holds, without opening a window.

Reading libraries sometimes print or warn; while files are read, stdout is redirected to stderr
so that ``--json`` output is exactly one JSON array and nothing else.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import sys
import warnings
from typing import Any

from crystalview.core.errors import CrystalViewError

FIELDS = (
    "path",
    "format",
    "shape",
    "dtype",
    "frames",
    "pixel_size",
    "pixel_unit",
    "modality",
    "microscope",
    "beam_energy_kv",
    "magnification",
    "detector",
    "camera_length_mm",
    "datasets",
    "ok",
    "error",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image files to describe")
    parser.add_argument("--json", action="store_true", help="print one JSON array on stdout")


def describe(path: str) -> dict[str, Any]:
    """Facts about the primary image of ``path``; ``ok`` False with ``error`` on failure."""
    from crystalview.io import open_images

    record: dict[str, Any] = dict.fromkeys(FIELDS)
    record["path"] = path
    try:
        images = open_images(path)
    except CrystalViewError as error:
        record.update(ok=False, error=str(error))
        return record
    except Exception as error:  # a reader bug must not hide the other files' results
        record.update(ok=False, error=f"{path}: unexpected error ({type(error).__name__}: {error})")
        return record
    summary = images[0].summary()
    record.update({key: summary[key] for key in FIELDS if key in summary})
    record.update(datasets=len(images), ok=True, error=None)
    return record


def _plain(value: Any) -> str:
    """``37.00000000000001`` -> ``37``, ``1300000.0`` -> ``1300000``, strings unchanged."""
    return f"{value:.7g}" if isinstance(value, float) else str(value)


def _format_record(record: dict[str, Any]) -> str:
    if not record["ok"]:
        return f"{record['path']}\n  error: {record['error']}"
    size = (
        f"{record['pixel_size']:.6g} {record['pixel_unit']} per pixel"
        if record["pixel_size"] is not None
        else "uncalibrated"
    )
    lines = [
        record["path"],
        f"  format {record['format']}, {' x '.join(map(str, record['shape']))} {record['dtype']}, "
        f"{record['frames']} frame(s), {record['datasets']} dataset(s)",
        f"  pixel size {size}, modality {record['modality']}",
    ]
    facts = [
        f"{label} {_plain(record[key])}{unit}"
        for key, label, unit in (
            ("microscope", "microscope", ""),
            ("beam_energy_kv", "beam", " kV"),
            ("magnification", "magnification", "x"),
            ("detector", "detector", ""),
            ("camera_length_mm", "camera length", " mm"),
        )
        if record[key] is not None
    ]
    if facts:
        lines.append("  " + ", ".join(facts))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    with contextlib.redirect_stdout(sys.stderr), warnings.catch_warnings():
        # rosettasciio's lazy TIFF reading leaves its file handle to the garbage collector.
        warnings.simplefilter("ignore", ResourceWarning)
        records = [describe(path) for path in args.paths]
        gc.collect()  # close those handles now, while the warning is still silenced
    if args.json:
        # ASCII escapes keep the output valid JSON even for non-UTF-8 file names.
        print(json.dumps(records, indent=2))
    else:
        print("\n".join(_format_record(record) for record in records))
    return 0 if all(record["ok"] for record in records) else 1
