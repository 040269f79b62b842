"""``crystalview measure …``: the viewer's measuring tools, headless.

Coordinates are pixel indices as the viewer's read-out shows them: ``x`` the column, ``y`` the
row, pixel centres on whole numbers. A scale set by hand (in the window or with
``measure set-scale``) is used like the file's own calibration. ``--json`` prints exactly one
JSON object on stdout; the profile's CSV goes to stdout or ``-o``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

from crystalview.core.errors import CrystalViewError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    tools = parser.add_subparsers(dest="tool", required=True, metavar="TOOL")

    def with_file(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = tools.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("path", type=Path, metavar="FILE", help="image file")
        return sub

    def with_line(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--from", dest="start", nargs=2, type=float, required=True, metavar=("X", "Y")
        )
        sub.add_argument("--to", dest="end", nargs=2, type=float, required=True, metavar=("X", "Y"))

    line = with_file("line", "length and direction of a line")
    with_line(line)
    line.add_argument("--json", action="store_true", help="print one JSON object")

    profile = with_file("profile", "values along a line, as CSV")
    with_line(profile)
    profile.add_argument("--width", type=int, default=1, help="average this many parallel lines")
    profile.add_argument("-o", "--output", type=Path, help="write the CSV here (default: stdout)")

    fft = with_file("fft", "strongest spots of a square region's diffractogram: |g| and d")
    fft.add_argument(
        "--region",
        nargs=3,
        type=int,
        metavar=("X", "Y", "SIZE"),
        help="top-left corner and side in pixels (default: the largest centred square, up to 1024)",
    )
    fft.add_argument("--spots", type=int, default=6, help="how many spots to list")
    fft.add_argument("--json", action="store_true", help="print one JSON object")

    rings = with_file("rings", "beam centre and ring d-spacings of a diffraction pattern")
    rings.add_argument("--centre", nargs=2, type=float, metavar=("X", "Y"), help="beam centre")
    rings.add_argument("--json", action="store_true", help="print one JSON object")

    scale = with_file("set-scale", "keep a pixel size for a file (the file is not changed)")
    how = scale.add_mutually_exclusive_group(required=True)
    how.add_argument("--pixel-size", type=float, help="size of one pixel in --unit")
    how.add_argument("--line", type=float, metavar="PX", help="length in pixels of a known length")
    how.add_argument("--remove", action="store_true", help="forget the hand-set scale")
    scale.add_argument("--length", type=float, help="the known length of --line, in --unit")
    scale.add_argument("--unit", default="nm", help="pm, nm, µm, mm, Å, 1/nm or 1/Å (default nm)")


def _open(path: Path):
    from crystalview.io import open_image
    from crystalview.measure.calibration import apply_stored_scale

    with contextlib.redirect_stdout(sys.stderr):  # readers may print; keep stdout for results
        micrograph = open_image(path)
    apply_stored_scale(micrograph)
    return micrograph


def _frame(micrograph):
    import numpy as np

    frame = np.asarray(micrograph.image)
    return np.abs(frame) if np.iscomplexobj(frame) else frame


def _emit(args: argparse.Namespace, record: dict[str, Any], lines: list[str]) -> None:
    if getattr(args, "json", False):
        print(json.dumps(record))
    else:
        print("\n".join(lines))


def _calibration(m) -> dict[str, Any]:
    from crystalview.measure.calibration import is_set_by_hand

    return {
        "pixel_size": m.pixel_size,
        "pixel_unit": m.pixel_unit,
        "scale_source": "set by hand" if is_set_by_hand(m) else ("file" if m.pixel_size else None),
    }


def _line(args: argparse.Namespace) -> int:
    from crystalview.measure.geometry import format_distance, segment_angle, segment_length

    m = _open(args.path)
    length = segment_length(args.start, args.end, m.pixel_size, m.pixel_size_y)
    angle = segment_angle(args.start, args.end, m.pixel_size, m.pixel_size_y)
    length_px = segment_length(args.start, args.end)
    record = {
        "length": length,
        "unit": m.pixel_unit or "px",
        "length_px": length_px,
        "angle_deg": angle,
        **_calibration(m),
    }
    _emit(
        args,
        record,
        [f"{format_distance(length, m.pixel_unit)}  ({length_px:.2f} px)  at {angle:.1f}°"],
    )
    return 0


def _profile(args: argparse.Namespace) -> int:
    from crystalview.measure.profile import line_profile

    m = _open(args.path)
    profile = line_profile(
        _frame(m), args.start, args.end, args.width, m.pixel_size, m.pixel_unit, m.pixel_size_y
    )
    text = profile.to_csv()
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {len(profile.values)} samples to {args.output}", file=sys.stderr)
    return 0


def _fft(args: argparse.Namespace) -> int:
    from crystalview.measure.fft import diffractogram, strongest_spots
    from crystalview.measure.geometry import format_d_spacing

    m = _open(args.path)
    data = _frame(m)
    h, w = data.shape
    if args.region is None:
        side = min(h, w, 1024)
        x, y = (w - side) // 2, (h - side) // 2
    else:
        x, y, side = args.region
    if x < 0 or y < 0 or side < 8 or x + side > w or y + side > h:
        raise CrystalViewError(f"the region {x} {y} {side} must lie inside the {w} x {h} image")
    real = m.pixel_unit == "nm"
    gram = diffractogram(
        data[y : y + side, x : x + side],
        m.pixel_size if real else None,
        m.pixel_size_y if real else None,
    )
    spots = strongest_spots(gram, count=args.spots)
    unit = gram.unit or "1/px"
    record = {
        "region": [x, y, side],
        "frequency_unit": unit,
        **_calibration(m),
        "spots": [{"g": s.g, "d": s.d, "angle_deg": s.angle} for s in spots],
    }
    lines = [f"region x {x} y {y} size {side} px; spots (one of each ±g pair), strongest first:"]
    for s in spots:
        d = format_d_spacing(s.g) if real else f"{s.d:.4g} px"
        lines.append(f"  |g| {s.g:.4g} {unit}   d {d}   at {s.angle:.1f}°")
    _emit(args, record, lines)
    return 0


def _rings(args: argparse.Namespace) -> int:
    from crystalview.measure.rings import azimuthal_profile, find_rings

    m = _open(args.path)
    data = _frame(m)
    if args.centre is not None:
        centre, source = (args.centre[1], args.centre[0]), "given"
    else:
        from crystalview.inference.diffraction import measuring_centre

        centre, source = measuring_centre(data), "found"
    pixel_size = m.pixel_size if m.pixel_unit == "1/nm" else None
    rings = find_rings(
        azimuthal_profile(data, centre, pixel_size), min_radius=max(3.0, 0.02 * min(data.shape))
    )
    record = {
        "centre": {"x": centre[1], "y": centre[0], "source": source},
        **_calibration(m),
        "rings": [
            {"radius_px": r.radius, "g": r.g, "d": r.d, "prominence": r.prominence} for r in rings
        ],
    }
    lines = [f"beam centre x {centre[1]:.2f} y {centre[0]:.2f} px ({source})"]
    if pixel_size is None:
        lines.append("no reciprocal calibration: radii in pixels (see 'measure set-scale')")
    for r in rings:
        text = f"  r {r.radius:7.2f} px"
        if r.g is not None and r.d is not None:
            text += f"   |g| {r.g:.4g} 1/nm   d {r.d:.4g} nm ({r.d * 10:.4g} Å)"
        lines.append(text)
    _emit(args, record, lines)
    return 0


def _set_scale(args: argparse.Namespace) -> int:
    from crystalview.core.units import format_pixel_size, to_canonical
    from crystalview.io import open_images
    from crystalview.measure.calibration import ScaleStore, pixel_size_from_line

    if not args.path.is_file():
        raise CrystalViewError(f"{args.path}: no such file")
    store = ScaleStore()
    if args.remove:
        removed = store.remove(args.path, 0)
        print("hand-set scale removed" if removed else "no hand-set scale was stored")
        return 0
    try:
        if args.line is not None:
            if args.length is None:
                raise ValueError("--line needs --length (the known length in --unit)")
            size, unit = pixel_size_from_line(args.line, args.length, args.unit)
        else:
            canonical = to_canonical(args.pixel_size, args.unit)
            if canonical is None:
                raise ValueError(f"{args.pixel_size} {args.unit} is not a pixel size")
            size, unit = canonical
    except ValueError as error:
        raise CrystalViewError(str(error)) from error
    open_images(args.path)  # refuse files that are not images before remembering a scale
    store.set(args.path, 0, size, unit)
    print(f"{args.path.name}: {format_pixel_size(size, unit)} (set by hand, kept in {store.path})")
    return 0


def run(args: argparse.Namespace) -> int:
    handlers = {
        "line": _line,
        "profile": _profile,
        "fft": _fft,
        "rings": _rings,
        "set-scale": _set_scale,
    }
    return handlers[args.tool](args)
