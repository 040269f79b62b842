"""``crystalview info [--json] PATH...``: what each image file holds, without opening a window.

Paths may be files or folders (walked recursively, as ``classify`` does). Reading libraries
sometimes print or warn; while files are read, stdout is redirected to stderr so that ``--json``
output is exactly one JSON array and nothing else. Without ``--json``, facts go to stdout and
failures to stderr, so ``info FOLDER > facts.txt`` keeps the two apart.

Sizes: text says ``width x height px`` (the image convention the window uses too); the JSON
``shape`` is the array shape, ``[rows, columns]`` (``[height, width]``), as numpy gives it.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import sys
import warnings
from pathlib import Path
from typing import Any

from crystalview.core.errors import CrystalViewError, about
from crystalview.core.units import format_pixel_size

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
    parser.add_argument(
        "paths", nargs="+", metavar="PATH", help="image files or folders (recursive) to describe"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON array on stdout")


def _failed(path: str, message: str) -> dict[str, Any]:
    record: dict[str, Any] = dict.fromkeys(FIELDS)
    record.update(path=path, ok=False, error=message)
    return record


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
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))  # a magnification of 10 000 000, not 1e+07
    return f"{value:.7g}" if isinstance(value, float) else str(value)


def _format_failure(record: dict[str, Any]) -> str:
    return f"crystalview: {about(record['path'], record['error'])}"


def _format_record(record: dict[str, Any]) -> str:
    size = format_pixel_size(record["pixel_size"], record["pixel_unit"])
    height, width = record["shape"][-2:]
    lines = [
        record["path"],
        f"  format {record['format']}, {width} x {height} px {record['dtype']}, "
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


def describe_all(paths: list[str]) -> list[dict[str, Any]]:
    """Records for ``paths`` in the order given; a folder stands for every image file under it
    (recursively, as ``classify`` finds them), and a folder without any is a failure."""
    from crystalview.io import find_images

    records: list[dict[str, Any]] = []
    for path in paths:
        discovery = find_images([path])
        records += [_failed(str(p), about(p, reason)) for p, reason in discovery.errors]
        records += [describe(str(p)) for p in discovery.files]
        if not discovery.files and not discovery.errors:
            what = "a folder with no image files" if Path(path).is_dir() else "not an image file"
            records.append(_failed(str(path), f"{path}: {what}"))
    return records


def run(args: argparse.Namespace) -> int:
    with contextlib.redirect_stdout(sys.stderr), warnings.catch_warnings():
        # rosettasciio's lazy TIFF reading leaves its file handle to the garbage collector.
        warnings.simplefilter("ignore", ResourceWarning)
        records = describe_all(list(args.paths))
        gc.collect()  # close those handles now, while the warning is still silenced
    if args.json:
        # ASCII escapes keep the output valid JSON even for non-UTF-8 file names.
        print(json.dumps(records, indent=2))
    else:
        good = [_format_record(record) for record in records if record["ok"]]
        if good:
            print("\n".join(good))
        for record in records:
            if not record["ok"]:
                print(_format_failure(record), file=sys.stderr)
    return 0 if records and all(record["ok"] for record in records) else 1
