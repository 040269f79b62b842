"""Batch runs beyond one process and beyond memory, measured against baselines in the same run.

- ``cluster_speedup``: ``crystalview classify`` on 400 small TIFFs (128², a diffraction CNN with
  a 64-px input, tiled) on a local Dask cluster of 2 worker processes (1 torch thread each) over
  the serial run in this process (torch using both cores), same files, wall time including
  cluster start-up; ``cluster_efficiency`` is the speed-up per core given (2). The
  ``*_steady`` figures leave out the start-up (time to the first finished batch).
- ``rss_<side>_mb`` (``inmem`` and ``regions``): peak RSS of a fresh process that classifies one
  uncompressed ``side``² uint16 TIFF, read whole or region by region (a tiny memory budget
  forces the latter; the in-memory path is left out above 8192², where it needs gigabytes and
  minutes to show what is known); ``rss_growth`` is the 16384² region-wise peak over the 4096²
  one (target ≤ 1.30).
- ``region_throughput``: tiles per second of the region-wise path over the in-memory path on
  the 4096² image, which fits (target ≥ 0.8).
- ``region_compressed_throughput``: the same on the same image stored as zlib-compressed
  256² tiles, read tile by tile (`crystalview.io.tiff_regions.SegmentedImage`); the in-memory
  path decodes it whole. ``rss_<side>_zlib_regions_mb`` is its peak RSS.

Usage: ``python benchmarks/bench_batch.py [--quick] [--only cluster|rss]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def _model(folder: Path, input_size: int) -> Path:
    import torch

    from crystalview.models.bundle import save_bundle
    from crystalview.models.manifest import ModelManifest
    from crystalview.models.registry import build_model

    torch.manual_seed(0)
    model = build_model("diffraction_cnn", 3).eval()
    manifest = ModelManifest(
        architecture="diffraction_cnn", classes=["a", "b", "c"], input_size=input_size
    )
    return save_bundle(folder / f"bench{input_size}.cvmodel", model, manifest)


def _image(side: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    row = np.sin(np.arange(side) / 7.0).astype(np.float32)
    image = np.empty((side, side), dtype=np.uint16)
    for start in range(0, side, 1024):  # row blocks: no float copy of a 16384² image
        stop = min(side, start + 1024)
        block = row[None, :] * np.cos(np.arange(start, stop) / 11.0)[:, None]
        block += 0.3 * rng.standard_normal(block.shape, dtype=np.float32)
        image[start:stop] = ((block + 2) * 15000).clip(0, 65535).astype(np.uint16)
    return image


def _classify_cli(args: list[str], env: dict) -> tuple[float, float]:
    """Wall time and time to the first progress line of one ``crystalview classify`` process."""
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "crystalview", "classify", *args],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    first = None
    for line in process.stderr:
        if first is None and "files/s" in line:
            first = time.perf_counter() - start
    process.wait()
    return time.perf_counter() - start, first or 0.0


def bench_cluster(work: Path, n_files: int) -> dict[str, float]:
    import tifffile

    folder = work / "small"
    folder.mkdir()
    for i in range(n_files):
        tifffile.imwrite(folder / f"f{i:04d}.tif", _image(128, seed=i))
    model = _model(work, 64)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("OMP_NUM_THREADS", None)
    base = [str(folder), "--model", str(model), "--device", "cpu"]
    serial, serial_first = _classify_cli([*base, "--out", str(work / "serial.csv")], env)
    dask, dask_first = _classify_cli(
        [*base, "--out", str(work / "dask.csv"), "--workers", "2", "--files-per-batch", "16"], env
    )
    per_file_serial = (serial - serial_first) / max(1, n_files - 1)
    per_file_dask = (dask - dask_first) / max(1, n_files - 16)
    print(f"serial {serial:.1f} s, 2 workers {dask:.1f} s (first batch after {dask_first:.1f} s)")
    return {
        "cluster_speedup": serial / dask,
        "cluster_efficiency": serial / dask / 2,
        "cluster_speedup_steady": per_file_serial / per_file_dask,
        "serial_s": serial,
        "workers2_s": dask,
    }


_CHILD = """
import json, sys, time
sys.path.insert(0, {repo!r})
from pathlib import Path
import torch
torch.set_num_threads(2)
from crystalview.batch.worker import classify_file
from crystalview.core.memory import set_memory_budget
from crystalview.inference.predict import InferenceSettings, make_runner
from crystalview.models.catalog import load_model
if {regions!r}:
    set_memory_budget(1 << 20)
loaded = load_model({model!r})
settings = InferenceSettings(
    device="cpu", probability_map=False, batch_size=256, overlap={overlap!r}
)
runner = make_runner(loaded, settings)
start = time.perf_counter()
record = classify_file(loaded, runner, Path({path!r}), settings)
elapsed = time.perf_counter() - start
# VmHWM is this process's own peak; ru_maxrss would include the parent's at fork/exec time
status = open("/proc/self/status").read().split("VmHWM:")[1]
peak = int(status.split()[0]) / 1024
print(json.dumps({{"peak_mb": peak, "s": elapsed, "tiles": record.n_tiles, "error": record.error}}))
"""


def _child(model: Path, path: Path, regions: bool, overlap: float) -> dict:
    code = _CHILD.format(
        repo=str(REPO), model=str(model), path=str(path), regions=regions, overlap=overlap
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_rss(work: Path, sides: list[int], overlap: float) -> dict[str, float]:
    import tifffile

    model = _model(work, 128)
    figures: dict[str, float] = {}
    for side in sides:
        path = work / f"big{side}.tif"
        tifffile.imwrite(path, _image(side), bigtiff=side > 16000)  # freed before the children
        for regions in (False, True) if side <= 8192 else (True,):
            name = "regions" if regions else "inmem"
            result = _child(model, path, regions, overlap)
            if result["error"]:
                print(f"{side}² {name}: {result['error']}")
                continue
            rate = result["tiles"] / result["s"]
            print(f"{side}² {name}: peak {result['peak_mb']:.0f} MB, {rate:.0f} tiles/s")
            figures[f"rss_{side}_{name}_mb"] = result["peak_mb"]
            figures[f"tiles_per_s_{side}_{name}"] = rate
        path.unlink()
    small, large = sides[0], sides[-1]
    figures |= _compressed(model, work, small, overlap)
    if f"rss_{large}_regions_mb" in figures:
        figures["rss_growth"] = (
            figures[f"rss_{large}_regions_mb"] / figures[f"rss_{small}_regions_mb"]
        )
    figures["region_throughput"] = (
        figures[f"tiles_per_s_{small}_regions"] / figures[f"tiles_per_s_{small}_inmem"]
    )
    return figures


def _compressed(model: Path, work: Path, side: int, overlap: float) -> dict[str, float]:
    """Region-wise against in-memory on a zlib-tiled ``side``² TIFF (the smallest side)."""
    import tifffile

    path = work / f"zlib{side}.tif"
    tifffile.imwrite(path, _image(side), compression="zlib", tile=(256, 256))
    rates = {}
    for regions in (False, True):
        result = _child(model, path, regions, overlap)
        name = "regions" if regions else "inmem"
        if result["error"]:
            print(f"{side}² zlib {name}: {result['error']}")
            return {}
        rates[name], peak = result["tiles"] / result["s"], result["peak_mb"]
        print(f"{side}² zlib {name}: peak {peak:.0f} MB, {rates[name]:.0f} tiles/s")
    path.unlink()
    return {
        f"rss_{side}_zlib_regions_mb": peak,  # the last run: region-wise
        "region_compressed_throughput": rates["regions"] / rates["inmem"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 files; 2048² to 8192²")
    parser.add_argument("--only", choices=("cluster", "rss"), default=None)
    parser.add_argument("--sides", type=int, nargs="+", default=None, help="image sides for rss")
    parser.add_argument(
        "--overlap", type=float, default=0.25, help="tile overlap of the rss runs (0: faster)"
    )
    args = parser.parse_args()
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="cv-bench-batch-") as folder:
        work = Path(folder)
        if args.only in (None, "cluster"):
            figures |= bench_cluster(work, 100 if args.quick else 400)
        if args.only in (None, "rss"):
            sides = args.sides or ([2048, 4096, 8192] if args.quick else [4096, 8192, 16384])
            figures |= bench_rss(work, sides, args.overlap)
    for name, value in figures.items():
        print(f"{name}: {value:.3f}")


if __name__ == "__main__":
    main()
