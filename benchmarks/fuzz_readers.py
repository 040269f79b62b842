"""Long, by-hand fuzzing of the image readers: mutated files must open or raise CrystalViewError.

Run: ``nice .venv/bin/python benchmarks/fuzz_readers.py --minutes 10 [--out DIR] [--seed N]``.

A supervisor starts a worker process that mutates seed files (small generated TIFF/PNG/JPEG/
BMP/GIF/MRC variants, the GPL files in tests/data/em, and files under 1 MB from ../shared/data
when present) and opens each with `open_images` and `read_thumbnail` under a 4 GiB address-space
limit. Findings are written to ``DIR/findings`` (the input plus a ``.txt`` with what happened):

* ``crash``: an exception that is not a `CrystalViewError` (a reader bug);
* ``died``: the worker died (segfault, abort, out of memory); the supervisor saved the input it
  was reading and starts a new worker;
* ``slow``: the 10 s read timeout fired (a hang or a pathological file).

The summary (inputs tried, outcomes per error class, findings) is printed as JSON at the end.
``fuzz_bundles.py`` reuses the supervisor and mutator for model bundles.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import io
import json
import random
import resource
import struct
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WORKER_MEMORY_LIMIT = 4 * 1024**3
BOUNDARY_WORDS = (0, 1, 0x7F, 0x80, 0xFF, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF)

Seed = tuple[str, bytes]  # (file suffix, content)


# --------------------------------------------------------------------------- mutation
def mutate(rng: random.Random, seed: bytes) -> bytes:
    """1-8 random edits; half of the positions are in the first 1 kB, where headers live."""
    content = bytearray(seed)
    for _ in range(rng.randint(1, 8)):
        if len(content) < 8:
            break
        span = len(content) if rng.random() < 0.5 else min(len(content), 1024)
        at = rng.randrange(span)
        kind = rng.choice(("byte", "bits", "word", "word", "cut", "zero", "copy"))
        if kind == "byte":
            content[at] = rng.randrange(256)
        elif kind == "bits":
            content[at] ^= 1 << rng.randrange(8)
        elif kind == "word":
            at = min(at, len(content) - 4)
            content[at : at + 4] = struct.pack(rng.choice("<>") + "I", rng.choice(BOUNDARY_WORDS))
        elif kind == "cut":
            del content[max(at, 1) :]
        elif kind == "zero":
            content[at : at + rng.randint(1, 64)] = bytes(min(64, len(content) - at))
        else:
            length = rng.randint(1, 256)
            content[at:at] = content[rng.randrange(len(content)) :][:length]
    return bytes(content)


# --------------------------------------------------------------------------- worker
def worker_loop(
    seeds: list[Seed],
    target: Callable[[Path], None],
    expected: tuple[type[BaseException], ...],
    slow: tuple[type[BaseException], ...],
    until: float,
    out: Path,
    rng: random.Random,
) -> dict:
    """Feed mutated seeds to ``target`` until ``until``; record anything not in ``expected``."""
    resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY_LIMIT, WORKER_MEMORY_LIMIT))
    findings = out / "findings"
    findings.mkdir(parents=True, exist_ok=True)
    outcomes: collections.Counter[str] = collections.Counter()
    tried = 0
    with tempfile.TemporaryDirectory() as folder:
        while time.time() < until:
            suffix, seed = rng.choice(seeds)
            content = mutate(rng, seed)
            # The supervisor keeps this copy if the worker dies while reading it.
            (out / "current").write_bytes(suffix.encode() + b"\n" + content)
            path = Path(folder) / f"fuzzed{suffix}"
            path.write_bytes(content)
            tried += 1
            try:
                _call_twice_if_slow(target, path, slow)
                outcomes["ok"] += 1
            except slow as error:
                outcomes["slow"] += 1
                _record(findings, "slow", suffix, content, f"{type(error).__name__}: {error}")
            except expected as error:
                outcomes[type(error).__name__] += 1
            except Exception:
                outcomes["crash"] += 1
                _record(findings, "crash", suffix, content, traceback.format_exc())
    return {"tried": tried, "outcomes": dict(outcomes)}


def _call_twice_if_slow(
    target: Callable[[Path], None], path: Path, slow: tuple[type[BaseException], ...]
) -> None:
    """A timeout counts only if it happens twice: on a shared, busy machine a niced worker can
    miss a 10 s deadline on an ordinary file."""
    try:
        target(path)
    except slow:
        target(path)


def _record(findings: Path, kind: str, suffix: str, content: bytes, what: str) -> None:
    digest = hashlib.sha1(content).hexdigest()[:12]
    (findings / f"{kind}-{digest}{suffix}").write_bytes(content)
    (findings / f"{kind}-{digest}.txt").write_text(what)


# --------------------------------------------------------------------------- supervisor
def supervise(script: Path, minutes: float, out: Path, seed: int) -> dict:
    """Run ``script --worker`` until the time is up, restarting it whenever it dies."""
    out.mkdir(parents=True, exist_ok=True)
    until = time.time() + minutes * 60
    totals: collections.Counter[str] = collections.Counter()
    tried, deaths, run = 0, 0, 0
    while time.time() < until - 1:
        run += 1
        args = ["--worker", "--until", str(until), "--out", str(out), "--seed", str(seed + run)]
        result = subprocess.run(
            [sys.executable, str(script), *args], capture_output=True, text=True, check=False
        )
        if result.returncode == 0 and result.stdout.strip():
            summary = json.loads(result.stdout.strip().splitlines()[-1])
            tried += summary["tried"]
            totals.update(summary["outcomes"])
            continue
        deaths += 1
        current = out / "current"
        if current.is_file():
            suffix, _, content = current.read_bytes().partition(b"\n")
            _record(
                out / "findings",
                "died",
                suffix.decode(),
                content,
                f"worker exit status {result.returncode}\n{result.stderr[-4000:]}",
            )
    findings = sorted(p.name for p in (out / "findings").glob("*.txt"))
    return {"tried": tried, "outcomes": dict(totals), "worker_deaths": deaths, "findings": findings}


# --------------------------------------------------------------------------- image seeds
def _tiff(data, **kwargs) -> bytes:
    import tifffile

    buffer = io.BytesIO()
    tifffile.imwrite(buffer, data, **kwargs)
    return buffer.getvalue()


def _pillow(data, fmt: str) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(data).save(buffer, fmt)
    return buffer.getvalue()


def _mrc(data) -> bytes:
    import mrcfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "seed.mrc"
        with mrcfile.new(str(path)) as mrc:
            mrc.set_data(data)
            mrc.voxel_size = 2.5
        return path.read_bytes()


def image_seeds() -> list[Seed]:
    """Small valid files of every family the readers handle."""
    import numpy as np

    ramp = (np.arange(24 * 20) * 37 % 65536).astype(np.uint16).reshape(24, 20)
    rgb = np.stack([ramp % 256, ramp // 256, ramp % 7], -1).astype(np.uint8)
    colormap = np.zeros((3, 256), np.uint16)
    colormap[0, 1] = 65535
    seeds: list[Seed] = [
        (".tif", _tiff(ramp)),
        (".tif", _tiff(ramp, compression="zlib", resolution=(3.0, 3.0))),
        (".tif", _tiff(rgb, photometric="rgb", compression="lzw")),
        (".tif", _tiff(ramp.astype(np.float32), bigtiff=True)),
        (".tif", _tiff(np.stack([ramp, ramp]), imagej=True, metadata={"axes": "ZYX"})),
        (".tif", _tiff((ramp % 3).astype(np.uint8), photometric="palette", colormap=colormap)),
        (".tif", _tiff(np.tile(ramp, (2, 2)), tile=(16, 16), compression="zstd")),
        (".tif", _tiff(rgb, photometric="rgb", compression="jpeg")),
        (".tif", _tiff(ramp, byteorder=">", compression="packbits")),
        (".png", _pillow((ramp % 256).astype(np.uint8), "PNG")),
        (".png", _pillow(rgb, "PNG")),
        (".jpg", _pillow(rgb, "JPEG")),
        (".bmp", _pillow(rgb, "BMP")),
        (".gif", _pillow((ramp % 256).astype(np.uint8), "GIF")),
        (".mrc", _mrc(ramp.astype(np.float32))),
    ]
    real = [REPO / "tests" / "data" / "em", REPO.parent / "shared" / "data"]
    for folder in real:
        for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
            small = path.is_file() and path.stat().st_size < 1024**2
            if small and path.suffix.lower() in (".tif", ".dm3", ".dm4", ".ser", ".emd", ".mrc"):
                seeds.append((path.suffix.lower(), path.read_bytes()))
    return seeds


def open_everything(path: Path) -> None:
    """What the app does with a dropped file: all datasets, then the gallery thumbnail."""
    import numpy as np

    from crystalview.io import open_images, read_thumbnail
    from crystalview.io.display import auto_levels

    for image in open_images(path, memory_budget=512 * 1024**2, timeout_s=10):
        lo, hi = auto_levels(image.image, image.modality)
        if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
            raise AssertionError(f"bad display levels {lo}, {hi}")
    read_thumbnail(path, 64, memory_budget=512 * 1024**2, timeout_s=10)


def parse_args(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--minutes", type=float, default=10.0, help="how long to fuzz")
    parser.add_argument("--out", type=Path, default=None, help="folder for findings")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the first worker")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--until", type=float, default=0.0, help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> int:
    args = parse_args("Fuzz the image readers for a while; print a JSON summary.")
    out = args.out or Path(tempfile.mkdtemp(prefix="fuzz-readers-"))
    if args.worker:
        from crystalview.core.errors import CrystalViewError, ReadTimeoutError

        summary = worker_loop(
            image_seeds(),
            open_everything,
            (CrystalViewError,),
            (ReadTimeoutError,),
            args.until,
            out,
            random.Random(args.seed),
        )
    else:
        summary = {"out": str(out), **supervise(Path(__file__), args.minutes, out, args.seed)}
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
