"""Frozen-backbone fine-tuning: cached features against running the backbone every epoch.

Both runs use CrystalView's own training loop on the same data, seed and epochs; the only
difference is ``TrainingConfig.cache_features``. Augmentation is off so both loops see exactly
the same inputs and should reach the same validation accuracy (the cached loop trains the head on
features computed once; the naive loop recomputes identical features every epoch).

Data: synthetic grey textures of three classes (stripes along y, stripes along x, checkerboard)
with random frequency, phase and noise, generated here so the benchmark needs no files.

Prints human-readable detail, then ``name: value`` lines:
``finetune_speedup`` (naive over cached, in process CPU time on a CPU so that a shared machine's
load does not decide it; GPU runs use wall time), ``finetune_speedup_wall``,
``finetune_cached_s``, ``finetune_naive_s`` (wall),
``finetune_cached_val_accuracy``, ``finetune_naive_val_accuracy``.

Usage: ``python benchmarks/bench_finetune.py [--quick] [--arch resnet18] [--images 200]
[--epochs 20] [--size 160] [--device auto]`` (the defaults keep the full suite within 15
minutes on a loaded 2-core machine; the speed-up grows with image size and epochs).
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def synthetic_textures(n_images: int, size: int, seed: int = 0) -> list[tuple[np.ndarray, int]]:
    """``n_images`` uint16 images of three texture classes, labels cycling 0, 1, 2."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    samples = []
    for i in range(n_images):
        label = i % 3
        frequency = rng.uniform(0.15, 0.35) * 64 / size * 2
        phase = rng.uniform(0, 2 * np.pi)
        if label == 0:
            image = np.sin(frequency * yy + phase)
        elif label == 1:
            image = np.sin(frequency * xx + phase)
        else:
            image = np.sin(frequency * xx / 2 + phase) * np.sin(frequency * yy / 2)
        image = image + 0.5 * rng.standard_normal((size, size)).astype(np.float32)
        samples.append(((image * 1000 + 5000).astype(np.uint16), label))
    return samples


def _run(samples, arch: str, epochs: int, size: int, device: str, cache: bool):
    from crystalview.core.progress import run_to_completion
    from crystalview.training import TrainingConfig, train_model

    config = TrainingConfig(
        base=arch,
        strategy="frozen",
        epochs=epochs,
        batch_size=32,
        lr=1e-2,
        seed=0,
        augmentation={},
        early_stopping_patience=None,
        pretrained=False,
        input_size=size,
        modality="SEM",
        cache_features=cache,
        device=device,
    )
    start, cpu_start = time.perf_counter(), time.process_time()
    result = run_to_completion(train_model(samples, ["y-stripes", "x-stripes", "checker"], config))
    return time.perf_counter() - start, time.process_time() - cpu_start, result


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small run (about a minute on CPU)")
    parser.add_argument("--arch", default=None, help="architecture (default resnet18)")
    parser.add_argument("--images", type=int, default=None, help="images (default 200)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs (default 20)")
    parser.add_argument("--size", type=int, default=None, help="network input side (default 160)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    args = parser.parse_args(argv)
    arch = args.arch or "resnet18"
    # --quick shrinks images and their size, not the epochs: the speed-up grows with epochs.
    n_images = args.images or (90 if args.quick else 200)
    epochs = args.epochs or 20
    size = args.size or (96 if args.quick else 160)

    import torch

    from crystalview.inference.device import configure_threads, select_device

    configure_threads(reserve=0)
    samples = synthetic_textures(n_images, size)
    device = str(select_device(args.device))
    print(
        f"{arch} (random init), frozen backbone, {n_images} images of {size} px, {epochs} epochs, "
        f"{device}, torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    # Warm-up (not timed): first calls pay for lazy imports and kernel selection.
    _run(samples[:12], arch, 1, size, device, cache=False)
    # The naive loop runs for minutes, so alternating rounds is too dear; the cached loop runs
    # before and after it instead. On a CPU the speed-up is also given in process CPU time, which
    # other programs' load does not inflate (each wall-time side can meet a different load).
    cached_s, cached_cpu, cached = _run(samples, arch, epochs, size, device, cache=True)
    print(f"  cached features: {cached_s:.2f} s, validation accuracy {cached.val_accuracy:.3f}")
    naive_s, naive_cpu, naive = _run(samples, arch, epochs, size, device, cache=False)
    print(f"  naive loop:      {naive_s:.2f} s, validation accuracy {naive.val_accuracy:.3f}")
    again_s, again_cpu, _ = _run(samples, arch, epochs, size, device, cache=True)
    print(f"  cached again:    {again_s:.2f} s")
    cached_s, cached_cpu = (cached_s + again_s) / 2, (cached_cpu + again_cpu) / 2
    print(f"  CPU time: cached {cached_cpu:.2f} s (mean of two), naive {naive_cpu:.2f} s")
    on_cpu = device == "cpu"
    figures = {
        "finetune_speedup": naive_cpu / cached_cpu if on_cpu else naive_s / cached_s,
        "finetune_speedup_wall": naive_s / cached_s,
        "finetune_cached_s": cached_s,
        "finetune_naive_s": naive_s,
        "finetune_cached_val_accuracy": cached.val_accuracy,
        "finetune_naive_val_accuracy": naive.val_accuracy,
    }
    for name, value in figures.items():
        print(f"{name}: {value:.3f}")
    return figures


if __name__ == "__main__":
    main()
