"""Heat-map cost against the forward pass it explains, measured in the same run.

- ``cam_exact_ratio``: exact CAM (forward + classifier weights on the last feature map) over a
  plain forward of the same ResNet-18 batch.
- ``gradcam_ratio``: Grad-CAM at ``layer3`` (no-grad prefix, autograd through layer4 and the
  head only) over the same forward.
- ``cam_tiled_ratio``: the full-image exact-CAM map of a 4096 x 4096 uint16 image (224-px tiles,
  25 % overlap: tiling, forward, upsampling, blending, normalisation) over CrystalView's tiled
  inference of the same image with the same settings.

Ratios are medians of per-round ratios (each round times the heat map right after its
baseline); the detail lines show best times. Both sides use the inference runner's fast path
(channels-last, bf16 autocast where the CPU does it natively, fp16 on CUDA); the ``*_fp32``
lines repeat the batch ratios in plain float32.

Prints human-readable detail, then ``name: value`` lines. Targets: ``cam_exact_ratio`` < 1.1,
``gradcam_ratio`` < 2, ``cam_tiled_ratio`` < 1.5.

Usage: ``python benchmarks/bench_cam.py [--quick] [--device auto] [--batch 32]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np


def _interleaved(functions: dict, repeats: int) -> tuple[dict[str, float], dict[str, float]]:
    """Time each function once per round, in turn, for ``repeats`` rounds after a warm-up round.

    Returns the best time of each function, and the median over rounds of each function's time
    divided by the first function's time in the same round. On a shared machine the load drifts
    between rounds but little within one, so these paired ratios are far steadier than a ratio
    of separately measured times.
    """
    rounds: list[dict[str, float]] = []
    for round_index in range(repeats + 1):
        times = {}
        for name, function in functions.items():
            start = time.perf_counter()
            function()
            times[name] = time.perf_counter() - start
        if round_index:
            rounds.append(times)
    baseline = next(iter(functions))
    best = {name: min(r[name] for r in rounds) for name in functions}
    ratios = {name: statistics.median(r[name] / r[baseline] for r in rounds) for name in functions}
    return best, ratios


def _loaded_resnet():
    import torch

    from crystalview.models.bundle import LoadedModel
    from crystalview.models.manifest import ModelManifest
    from crystalview.models.registry import build_model

    torch.manual_seed(0)
    model = build_model("resnet18", num_classes=3, in_channels=1).eval()
    manifest = ModelManifest(architecture="resnet18", classes=["a", "b", "c"], input_size=224)
    return LoadedModel(model=model, manifest=manifest, path=Path("bench.cvmodel"))


def batch_ratios(loaded, settings, batch: int, repeats: int) -> dict:
    """Forward, exact CAM and Grad-CAM(layer3) times on one batch of 224 x 224 inputs.

    The forward is CrystalView's inference runner on the batch (its fastest path); the heat maps
    run the way `compute_cam` runs them, from the same numpy batch.
    """
    import torch

    from crystalview.cam.compute import autocast_context
    from crystalview.cam.methods import class_activation_maps, grad_cam
    from crystalview.cam.network import cam_network
    from crystalview.inference.predict import make_runner

    runner = make_runner(loaded, settings)
    device = runner.device
    channels_last = settings.fast and device.type in ("cpu", "cuda")
    network = cam_network(loaded.model, device, channels_last)
    inputs = np.random.default_rng(0).standard_normal((batch, 224, 224)).astype(np.float32)

    def as_tensor():
        x = torch.from_numpy(inputs)[:, None].to(device)
        return x.contiguous(memory_format=torch.channels_last) if channels_last else x

    def synced(function):
        def run():
            function()
            if device.type == "cuda":
                torch.cuda.synchronize()

        return run

    def forward():
        runner.probabilities(inputs)

    def exact():
        with torch.inference_mode(), autocast_context(device, runner.precision):
            class_activation_maps(network, as_tensor())[0].cpu()

    def gradcam():
        with autocast_context(device, runner.precision):
            grad_cam(network, as_tensor(), "layer3")[0].cpu()

    functions = {"forward": forward, "cam": exact, "gradcam": gradcam}
    times, ratios = _interleaved({name: synced(f) for name, f in functions.items()}, repeats)
    return {**times, "ratios": ratios, "precision": runner.precision}


def tiled_ratio(loaded, settings, size: int, repeats: int) -> dict[str, float]:
    """Tiled inference against the full-image exact-CAM map of one ``size`` x ``size`` image."""
    from crystalview.cam import compute_cam
    from crystalview.core.micrograph import Micrograph
    from crystalview.core.progress import run_to_completion
    from crystalview.inference.predict import predict_micrograph

    rng = np.random.default_rng(0)
    image = (rng.normal(20000, 3000, size=(size, size))).clip(0, 65535).astype(np.uint16)
    micrograph = Micrograph(image)

    last = {}

    def infer():
        last["prediction"] = run_to_completion(predict_micrograph(loaded, micrograph, settings))

    def heat_map():
        last["cam"] = run_to_completion(compute_cam(loaded, micrograph, "cam", settings=settings))

    times, ratios = _interleaved({"infer": infer, "cam": heat_map}, repeats)
    assert last["cam"].heatmap.shape == image.shape
    assert last["cam"].n_tiles == last["prediction"].n_tiles
    return {**times, "ratios": ratios, "n_tiles": last["prediction"].n_tiles}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller image, fewer repeats")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args(argv)

    import torch

    from crystalview.inference.device import configure_threads, describe_device, select_device
    from crystalview.inference.predict import InferenceSettings

    threads = configure_threads()
    loaded = _loaded_resnet()
    repeats = 4 if args.quick else 8
    size = 1024 if args.quick else 4096
    batch = min(args.batch, 16) if args.quick else args.batch
    fast = InferenceSettings(device=args.device, batch_size=args.batch)
    fp32 = InferenceSettings(device=args.device, batch_size=args.batch, fast=False)
    print(
        f"torch {torch.__version__}, {describe_device(select_device(args.device))}, "
        f"{threads} threads",
        file=sys.stderr,
    )

    plain = batch_ratios(loaded, fp32, batch, repeats)
    quick = batch_ratios(loaded, fast, batch, repeats)
    for label, times in (("fp32", plain), (quick["precision"], quick)):
        print(
            f"ResNet-18, batch {batch} x 224 px, {label}: forward {times['forward'] * 1e3:.0f} ms, "
            f"exact CAM {times['cam'] * 1e3:.0f} ms, Grad-CAM(layer3) "
            f"{times['gradcam'] * 1e3:.0f} ms",
            file=sys.stderr,
        )
    tiled = tiled_ratio(loaded, fast, size, 1 if args.quick else 2)
    print(
        f"{size} x {size} image, {tiled['n_tiles']} tiles ({quick['precision']}): tiled inference "
        f"{tiled['infer']:.2f} s, full-image exact-CAM map {tiled['cam']:.2f} s",
        file=sys.stderr,
    )
    print(f"cam_exact_ratio: {quick['ratios']['cam']:.3f}")
    print(f"gradcam_ratio: {quick['ratios']['gradcam']:.3f}")
    print(f"cam_tiled_ratio: {tiled['ratios']['cam']:.3f}")
    print(f"cam_exact_ratio_fp32: {plain['ratios']['cam']:.3f}")
    print(f"gradcam_ratio_fp32: {plain['ratios']['gradcam']:.3f}")
    print(f"cam_tiled_s: {tiled['cam']:.3f}")
    print(f"tiled_inference_s: {tiled['infer']:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
