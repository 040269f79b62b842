"""Train a built-in SAED model from simulated patterns, evaluate it and write its bundle + card.

    nice .venv/bin/python models/training/train_builtin.py saed-crystal-system
    nice .venv/bin/python models/training/train_builtin.py saed-zone-lattice

Everything is derived from fixed seeds, so the command reproduces the shipped bundle (up to
floating-point differences of the CPU's BLAS). Training data come from ``regime="train"`` with
seed 1; held-out data from ``regime="heldout"`` (wider lattice and camera ranges, lower doses,
bigger centre offsets, more beam stops) with seed 1001. Inputs go through exactly the
preprocessing inference uses for the manifest (`prepare_whole`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from crystalview.inference.preprocess import prepare_whole
from crystalview.models.bundle import save_bundle
from crystalview.models.manifest import ModelManifest, default_normalization
from crystalview.models.registry import build_model
from crystalview.sim.generators import class_names, simulate_one

MODELS_DIR = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Recipe:
    """What differs between the two built-in models."""

    kind: str
    description: str
    transform: str
    input_size: int
    sim_size: int
    n_train: int
    epochs: int
    target: float  # held-out accuracy the issue asks for


RECIPES = {
    "saed-crystal-system": Recipe(
        kind="rings",
        description=(
            "Crystal system (cubic, hexagonal, orthorhombic) of a polycrystalline electron "
            "diffraction ring pattern. Trained on kinematically simulated patterns."
        ),
        transform="log_polar_mean",
        input_size=64,
        sim_size=128,
        n_train=4800,
        epochs=20,
        target=0.95,
    ),
    "saed-zone-lattice": Recipe(
        kind="spots",
        description=(
            "2-D lattice (square, hexagonal, rectangular, centered rectangular, oblique) of a "
            "single-crystal zone-axis electron diffraction spot pattern. Trained on kinematically "
            "simulated patterns."
        ),
        transform="polar_autocorrelation",
        input_size=64,
        sim_size=128,
        n_train=4800,
        epochs=20,
        target=0.90,
    ),
}

TRANSFORM_NOTES = {
    "log_polar": "- The beam centre is found as the centre of inversion symmetry (correlation of "
    "the log pattern with its 180°-rotated copy); the pattern is resampled around it to "
    "64 angles x 64 log-radii, so rings are columns and a change of camera length is a shift.",
    "log_polar_mean": "- The beam centre is found as the centre of inversion symmetry "
    "(correlation of the log pattern with its 180°-rotated copy); the pattern is resampled "
    "around it to 64 angles x 64 log-radii and every row replaced by the mean over angles: the "
    "azimuthally averaged radial profile in log radius, where a change of camera length is a "
    "shift and ring-radius ratios are fixed distances. Measured on held-out data: 66.7 % "
    "against 56.7 % for the plain log-polar view at 600 patterns x 8 epochs, 74.5 % against "
    "73.8 % at 2400 x 12.",
    "autocorrelation": "- The smooth background is subtracted and the autocorrelation of the "
    "sharp features (lags up to a quarter of the side) is fed: it does not depend on the beam "
    "position and shows the spot net around the zero lag.",
    "polar_autocorrelation": "- The smooth background is subtracted, the autocorrelation of the "
    "sharp features is taken (independent of the beam position: the spot net around the zero "
    "lag) and resampled around the zero lag to 64 angles x 64 log-lags, so a rotation is a "
    "cyclic shift and the net's angles and length ratios are fixed offsets. Measured on "
    "held-out data at 600 patterns x 8 epochs: 56 % against 39 % for the plain "
    "autocorrelation; 85.0 % at 2400 x 12.",
}
TRAIN_SEED = 1
HELDOUT_SEED = 1001
ROBUSTNESS_SEED = 2001
DOSES = (5.0, 15.0, 50.0, 150.0, 500.0, 2000.0)
OFFSETS = (0.0, 0.05, 0.1, 0.15, 0.2)  # fraction of the image width


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def make_manifest(name: str, recipe: Recipe, provenance: dict) -> ModelManifest:
    return ModelManifest(
        architecture="diffraction_cnn",
        classes=list(class_names(recipe.kind)),
        input_size=recipe.input_size,
        in_channels=1,
        normalization=default_normalization(log=True, transform=recipe.transform),
        modality="SAED",
        input_mode="whole",
        provenance=provenance,
        name=name,
        description=recipe.description,
    )


def simulate_tensors(
    recipe: Recipe,
    manifest: ModelManifest,
    n: int,
    seed: int,
    regime: str,
    overrides=None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Simulate ``n`` patterns and preprocess them exactly as inference will."""
    names = list(manifest.classes)
    x = np.empty((n, 1, recipe.input_size, recipe.input_size), np.float32)
    y = np.empty(n, np.int64)
    for i in range(n):
        extra = overrides(i) if overrides else None
        sample = simulate_one(recipe.kind, i, recipe.sim_size, seed, regime, None, extra)
        x[i, 0] = prepare_whole(sample.image, manifest)
        y[i] = names.index(sample.label)
    return torch.from_numpy(x), torch.from_numpy(y)


def augment(x: torch.Tensor, transform: str, generator: torch.Generator) -> torch.Tensor:
    """Physically valid for every class: rotations about the beam and mirrors.

    On a log-polar view (of the pattern or of its autocorrelation) a rotation is a cyclic shift
    of the angle rows and a mirror reverses them; the plain autocorrelation turns and mirrors
    with the pattern (quarter turns here, the simulator already draws continuous rotations).
    """
    if transform in ("log_polar", "log_polar_mean", "polar_autocorrelation"):
        x = torch.roll(x, int(torch.randint(x.shape[2], (1,), generator=generator)), 2)
        return x.flip(2) if bool(torch.randint(2, (1,), generator=generator)) else x
    k = int(torch.randint(4, (1,), generator=generator))
    x = torch.rot90(x, k, (2, 3))
    if bool(torch.randint(2, (1,), generator=generator)):
        x = x.flip(3)
    return x


def train(
    model, x, y, epochs: int, transform: str, batch_size: int = 32, seed: int = 0
) -> list[dict]:
    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    steps_per_epoch = len(x) // batch_size
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=3e-3, total_steps=epochs * steps_per_epoch, pct_start=0.15
    )
    history = []
    for epoch in range(epochs):
        model.train()
        start = time.monotonic()
        order = torch.randperm(len(x), generator=generator)
        total_loss, correct = 0.0, 0
        for step in range(steps_per_epoch):
            index = order[step * batch_size : (step + 1) * batch_size]
            logits = model(augment(x[index], transform, generator))
            loss = torch.nn.functional.cross_entropy(logits, y[index])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total_loss += float(loss.detach()) * len(index)
            correct += int((logits.argmax(1) == y[index]).sum())
        seen = steps_per_epoch * batch_size
        history.append(
            {
                "epoch": epoch + 1,
                "loss": total_loss / seen,
                "train_acc": correct / seen,
                "seconds": time.monotonic() - start,
            }
        )
        log(f"epoch {epoch + 1}/{epochs}: {history[-1]}")
    return history


@torch.inference_mode()
def predict(model, x: torch.Tensor) -> np.ndarray:
    model.eval()
    return torch.cat([model(x[i : i + 256]).argmax(1) for i in range(0, len(x), 256)]).numpy()


def confusion(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> list[list[int]]:
    matrix = np.zeros((k, k), dtype=int)
    np.add.at(matrix, (y_true, y_pred), 1)
    return matrix.tolist()


def robustness(model, recipe: Recipe, manifest: ModelManifest, n: int) -> dict:
    """Held-out accuracy with the dose, then the centre offset, fixed to each listed value."""
    curves: dict[str, list] = {"dose": [], "center_offset": []}
    for dose in DOSES:
        x, y = simulate_tensors(
            recipe, manifest, n, ROBUSTNESS_SEED, "heldout", lambda i, d=dose: {"dose": d}
        )
        curves["dose"].append([dose, float((predict(model, x) == y.numpy()).mean())])
    for fraction in OFFSETS:

        def offset(i: int, f: float = fraction) -> dict:
            angle = 2.399963 * i  # golden-angle directions: evenly spread, deterministic
            r = f * recipe.sim_size
            return {"center_offset": (r * np.sin(angle), r * np.cos(angle))}

        x, y = simulate_tensors(recipe, manifest, n, ROBUSTNESS_SEED + 1, "heldout", offset)
        curves["center_offset"].append([fraction, float((predict(model, x) == y.numpy()).mean())])
    return curves


def model_card(name: str, recipe: Recipe, manifest: ModelManifest, report: dict) -> str:
    classes = manifest.classes
    accuracy = report["heldout_accuracy"]
    status = (
        f"Status: **meets the target** (held-out {100 * accuracy:.1f} % >= "
        f"{100 * recipe.target:.0f} %)."
        if accuracy >= recipe.target
        else f"Status: **below target**: held-out {100 * accuracy:.1f} %, the issue asks >= "
        f"{100 * recipe.target:.0f} %. Treat predictions as indicative only."
    )
    lines = [
        f"# {name}",
        "",
        status,
        "",
        recipe.description,
        "",
        "## Data",
        f"- Simulator: `crystalview.sim` (kinematic theory; Peng et al. 1996 electron scattering "
        f"factors; Debye-Waller damping), `{recipe.kind}` patterns of {recipe.sim_size} px.",
        f'- Training: {report["n_train"]} patterns, `regime="train"`, seed {TRAIN_SEED}, '
        "classes balanced.",
        f'- Held-out: {report["n_heldout"]} patterns, `regime="heldout"`, seed {HELDOUT_SEED}: '
        "wider lattice-parameter ranges than training, dose down to 15 e⁻/px at the brightest "
        "feature, centre offsets up to 12 % of the width, beam stop in half the patterns.",
        "- The calibration (pixel size), centre position and rotation are random in every "
        "pattern, so the model relies on none of them.",
        "",
        "## Model",
        f"- `diffraction_cnn`, input {recipe.input_size} x {recipe.input_size}, whole image "
        '(`input_mode="whole"`), log intensity, percentile 0.5-99.5 stretch, then '
        f'`"transform": "{recipe.transform}"` (`prepare_whole`, identical in training and '
        "inference; `crystalview.inference.diffraction`).",
        TRANSFORM_NOTES[recipe.transform],
        "- Augmentation: "
        + (
            "cyclic shifts and reversal of the angle rows (rotations and mirrors about the beam)"
            if recipe.transform in ("log_polar", "log_polar_mean", "polar_autocorrelation")
            else "quarter turns and mirrors"
        )
        + "; the simulator already draws continuous rotations, offsets, dose, background, "
        "ellipticity and beam stops.",
        "",
        "## Training command",
        "```",
        f"nice .venv/bin/python models/training/train_builtin.py {name}",
        "```",
        f"CPU training time (simulation + training + evaluation): "
        f"{report['seconds_total'] / 60:.1f} min on {report['cpu']} "
        f"(shared machine; torch threads {report['threads']}).",
        "",
        "## Held-out accuracy",
        f"**{100 * report['heldout_accuracy']:.1f} %** on {report['n_heldout']} held-out patterns.",
        "",
        "Confusion matrix (rows: true, columns: predicted):",
        "",
        "| true \\ predicted | " + " | ".join(classes) + " |",
        "|---|" + "---|" * len(classes),
    ]
    for cls, row in zip(classes, report["confusion_matrix"], strict=True):
        lines.append(f"| {cls} | " + " | ".join(str(v) for v in row) + " |")
    lines += [
        "",
        "## Robustness (held-out conditions, one parameter fixed)",
        "",
        "| dose (e⁻/px at brightest feature) | accuracy |",
        "|---|---|",
    ]
    lines += [f"| {d:g} | {100 * a:.1f} % |" for d, a in report["robustness"]["dose"]]
    lines += ["", "| centre offset (fraction of width) | accuracy |", "|---|---|"]
    lines += [f"| {f:g} | {100 * a:.1f} % |" for f, a in report["robustness"]["center_offset"]]
    lines += [
        "",
        "## Limits",
        "- Trained only on simulated kinematic patterns: dynamical effects, amorphous "
        "backgrounds, mixed phases and strongly textured films are not represented.",
        "- Real patterns of a class the model does not know still get one of its classes.",
        *(
            [
                "- The beam centre comes from the pattern's inversion symmetry: a strong "
                "beam-stop arm or a crop that does not contain the centre misleads it (seen on a "
                "real 64 px Tecnai ring pattern with a beam stop)."
            ]
            if recipe.transform.startswith("log_polar")
            else []
        ),
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=sorted(RECIPES))
    parser.add_argument("--n-train", type=int, help="override the recipe's training set size")
    parser.add_argument("--epochs", type=int, help="override the recipe's epochs")
    parser.add_argument("--n-heldout", type=int, default=600)
    parser.add_argument("--n-robustness", type=int, default=90, help="patterns per curve point")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=MODELS_DIR)
    args = parser.parse_args(argv)

    recipe = RECIPES[args.name]
    n_train = args.n_train or recipe.n_train
    epochs = args.epochs or recipe.epochs
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    start = time.monotonic()
    manifest = make_manifest(args.name, recipe, {})
    log(f"simulating {n_train} training patterns")
    x_train, y_train = simulate_tensors(recipe, manifest, n_train, TRAIN_SEED, "train")
    log(f"simulating {args.n_heldout} held-out patterns")
    x_held, y_held = simulate_tensors(recipe, manifest, args.n_heldout, HELDOUT_SEED, "heldout")
    log(f"data ready after {time.monotonic() - start:.0f} s")

    model = build_model("diffraction_cnn", len(manifest.classes))
    history = train(model, x_train, y_train, epochs, recipe.transform)
    predictions = predict(model, x_held)
    accuracy = float((predictions == y_held.numpy()).mean())
    log(f"held-out accuracy {accuracy:.4f}")
    curves = robustness(model, recipe, manifest, args.n_robustness)
    report = {
        "n_train": n_train,
        "n_heldout": args.n_heldout,
        "epochs": epochs,
        "heldout_accuracy": accuracy,
        "confusion_matrix": confusion(y_held.numpy(), predictions, len(manifest.classes)),
        "robustness": curves,
        "history": history,
        "seconds_total": time.monotonic() - start,
        "threads": args.threads,
        "cpu": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "command": f"nice .venv/bin/python models/training/train_builtin.py {args.name}",
    }
    manifest = make_manifest(args.name, recipe, {"training": "simulated SAED", **report})
    card = model_card(args.name, recipe, manifest, report)
    args.out.mkdir(parents=True, exist_ok=True)
    save_bundle(args.out / f"{args.name}.cvmodel", model, manifest, model_card=card)
    (args.out / f"{args.name}.md").write_text(card, encoding="utf-8")
    log(json.dumps({k: report[k] for k in ("heldout_accuracy", "seconds_total")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
