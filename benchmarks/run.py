"""Run every CrystalView benchmark, each area in its own process, and print the figures.

Usage::

    python benchmarks/run.py [--quick] [--only inference --only gui ...] [--json FILE]

Each area (``inference``, ``cam``, ``finetune``, ``gui``, ``batch``) is a separate script run
in a fresh interpreter: peak-memory figures then describe that area alone, torch's thread pool
and oneDNN's kernel caches start cold for every area the same way, and a crash in one area does
not hide the others' figures. Every ratio's baseline is measured inside the same area run,
alternating with the candidate, so machine load drifts affect both sides alike.

Human-readable detail is printed as the areas run; the last block is one ``name: value`` line
per figure, in a fixed order, for scripts to parse (``nan`` when an area failed).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# area -> (script, figures it must print). The order here is the order of the final block.
AREAS: dict[str, tuple[str, tuple[str, ...]]] = {
    "inference": (
        "bench_inference.py",
        ("tiled_speedup", "tiled_overhead", "top1_agreement", "small_cnn_speedup", "peak_rss_mb"),
    ),
    "cam": ("bench_cam.py", ("cam_exact_ratio", "gradcam_ratio", "cam_tiled_ratio")),
    "finetune": ("bench_finetune.py", ("finetune_speedup",)),
    "gui": (
        "bench_gui.py",
        (
            "gui_stall_p99_ms",
            "gui_stall_max_ms",
            "startup_s",
            "first_image_s",
            "open_ratio",
            "torch_loaded_at_startup",
            "load_stall_max_ms",
        ),
    ),
    "batch": (
        "bench_batch.py",
        (
            "cluster_speedup",
            "cluster_efficiency",
            "rss_growth",
            "region_throughput",
            "region_compressed_throughput",
        ),
    ),
}

# Areas that need longer than the others: batch classifies 400 files twice (serially and on a
# 2-process Dask cluster) and images up to 16384², each in a fresh process.
TIMEOUT_FACTOR: dict[str, float] = {"batch": 3.0}

# figure -> (comparison, target) from the performance issue; shown in the detail, not parsed.
TARGETS: dict[str, tuple[str, float]] = {
    "tiled_speedup": (">=", 2.0),
    "tiled_overhead": ("<=", 0.10),
    "top1_agreement": (">=", 0.995),
    "small_cnn_speedup": (">=", 3.0),
    "cam_exact_ratio": ("<=", 1.1),
    "gradcam_ratio": ("<=", 2.0),
    "finetune_speedup": (">=", 10.0),
    "gui_stall_p99_ms": ("<=", 30.0),
    "startup_s": ("<=", 2.0),
    "open_ratio": ("<=", 1.5),
    "torch_loaded_at_startup": ("<=", 0.0),
    "load_stall_max_ms": ("<=", 50.0),
    "rss_growth": ("<=", 1.30),
    "region_throughput": (">=", 0.8),
}

_FIGURE = re.compile(r"^([a-z][a-z0-9_]*): (-?[0-9.]+(?:e[-+]?[0-9]+)?|nan|inf)$")


def machine_summary() -> dict[str, str]:
    """CPU model, cores, load and the torch build, for the report (torch read in a child)."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="ignore") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    probe = (
        "import torch\n"
        "from crystalview.inference.device import cpu_has_fast_bf16\n"
        "print(torch.__version__, cpu_has_fast_bf16(), torch.cuda.is_available())"
    )
    try:
        torch_info = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, check=True
        ).stdout.split()
    except (subprocess.CalledProcessError, OSError):
        torch_info = ["?", "?", "?"]
    load = " ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "torch": torch_info[0],
        "fast_bf16": torch_info[1],
        "cuda": torch_info[2],
        "load_average": load,
        "python": platform.python_version(),
    }


def run_area(name: str, quick: bool, timeout_s: float) -> tuple[dict[str, float], float]:
    """Run one area's script; echo its detail and return its figures and wall time."""
    script, _ = AREAS[name]
    command = [sys.executable, str(HERE / script)] + (["--quick"] if quick else [])
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    print(f"\n=== {name}: {' '.join(command[1:])}", flush=True)
    started = time.perf_counter()
    figures: dict[str, float] = {}
    # Lines are echoed as they come, so a long area shows its progress.
    with subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=HERE.parent,
    ) as process:
        timer = threading.Timer(timeout_s, process.kill)
        timer.start()
        try:
            for line in process.stdout:
                match = _FIGURE.match(line.strip())
                if match:
                    figures[match.group(1)] = float(match.group(2))
                print(f"  {line.rstrip()}", flush=True)
        finally:
            timer.cancel()
        returncode = process.wait()
    if time.perf_counter() - started >= timeout_s:
        returncode = f"killed after {timeout_s:.0f} s"
    seconds = time.perf_counter() - started
    if returncode != 0:
        print(f"  !! {name} failed ({returncode})")
    print(f"  ({name} took {seconds:.0f} s)", flush=True)
    return figures, seconds


def _verdict(name: str, value: float) -> str:
    if name not in TARGETS:
        return ""
    comparison, target = TARGETS[name]
    met = value >= target if comparison == ">=" else value <= target
    return f"target {comparison} {target:g}: {'met' if met else 'MISSED'}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller inputs (a few minutes)")
    parser.add_argument(
        "--only", action="append", choices=list(AREAS), help="run only this area (repeatable)"
    )
    parser.add_argument("--json", type=Path, help="also write machine and figures to FILE")
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="seconds per area (default 600, quick 240; batch three times that)",
    )
    args = parser.parse_args(argv)
    timeout_s = args.timeout or (240.0 if args.quick else 600.0)
    areas = args.only or list(AREAS)

    machine = machine_summary()
    print("CrystalView benchmarks" + (" (quick)" if args.quick else ""))
    for key, value in machine.items():
        print(f"  {key}: {value}")
    started = time.perf_counter()
    figures: dict[str, float] = {}
    area_seconds: dict[str, float] = {}
    for area in areas:
        area_timeout = timeout_s * TIMEOUT_FACTOR.get(area, 1.0)
        found, area_seconds[area] = run_area(area, args.quick, area_timeout)
        figures.update(found)
    machine["load_average_end"] = " ".join(f"{v:.2f}" for v in os.getloadavg())
    total_s = time.perf_counter() - started

    expected = [name for area in areas for name in AREAS[area][1]]
    ordered = expected + sorted(set(figures) - set(expected))
    print(f"\n=== summary ({total_s:.0f} s, load average {machine['load_average_end']})")
    for name in ordered:
        verdict = _verdict(name, figures.get(name, float("nan")))
        if verdict:
            print(f"  {name:20s} {figures.get(name, float('nan')):10.3f}  {verdict}")
    if args.json:
        payload = {"machine": machine, "quick": args.quick, "seconds": area_seconds}
        payload["figures"] = {name: figures.get(name, float("nan")) for name in ordered}
        args.json.write_text(json.dumps(payload, indent=2))
    print()
    for name in ordered:
        print(f"{name}: {figures.get(name, float('nan')):.4g}")
    return 0 if all(name in figures for name in expected) else 1


if __name__ == "__main__":
    raise SystemExit(main())
