"""Train a built-in SAED model from simulated patterns, evaluate it and write its bundle + card.

    nice .venv/bin/python recipes/train_builtin.py saed-crystal-system
    nice .venv/bin/python recipes/train_builtin.py saed-zone-lattice

Everything is derived from fixed seeds, so the command reproduces the shipped bundle (up to
floating-point differences of the CPU's BLAS). Training data come from ``regime="train"`` with
seed 1; held-out data from ``regime="heldout"`` (wider lattice and camera ranges, lower doses,
bigger centre offsets, more beam stops) with seed 1001. Inputs go through exactly the
preprocessing inference uses for the manifest (`prepare_whole`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from crystalview.inference.preprocess import prepare_whole
from crystalview.models.bundle import LoadedModel, save_bundle
from crystalview.models.manifest import ModelManifest, default_normalization
from crystalview.models.registry import build_model
from crystalview.sim.generators import (
    REAL_STRUCTURE_FRACTION,
    RING_SITE_DISPLACEMENT,
    class_names,
    ring_lattice_in_training_ranges,
    simulate_one,
)
from crystalview.sim.structures import TRAINING_STRUCTURES, structures_of

ROOT = Path(__file__).resolve().parents[1]
MODELS_DIR = ROOT / "models"
# Largest random shift of a radial profile along log-radius in training (a change of camera
# length by up to 6 x 1.3 % at 256 columns).
PROFILE_SHIFT = 6


@dataclass(frozen=True)
class Recipe:
    """What differs between the two built-in models."""

    kind: str
    description: str
    architecture: str
    transform: str
    input_size: int
    sim_size: int
    n_train: int
    n_heldout: int
    epochs: int
    batch_size: int
    weight_decay: float
    label_smoothing: float
    target: float  # held-out accuracy the issue asks for


RECIPES = {
    "saed-crystal-system": Recipe(
        kind="rings",
        description=(
            "Crystal system (cubic, hexagonal, orthorhombic) of a polycrystalline electron "
            "diffraction ring pattern. Trained on kinematically simulated patterns."
        ),
        architecture="radial_profile_cnn",
        transform="log_polar_mean",
        input_size=256,
        sim_size=256,
        n_train=24000,
        n_heldout=1200,
        epochs=16,
        batch_size=64,
        weight_decay=0.05,
        label_smoothing=0.1,
        target=0.95,
    ),
    "saed-zone-lattice": Recipe(
        kind="spots",
        description=(
            "2-D lattice (square, hexagonal, rectangular, centered rectangular, oblique) of a "
            "single-crystal zone-axis electron diffraction spot pattern. Trained on kinematically "
            "simulated patterns."
        ),
        architecture="polar_net_cnn",
        transform="polar_autocorrelation",
        input_size=64,
        sim_size=128,
        n_train=20000,
        n_heldout=1000,
        epochs=16,
        batch_size=32,
        weight_decay=1e-4,
        label_smoothing=0.0,
        target=0.95,
    ),
}

# How the ring model got where it is, measured on held-out data (kept in its card).
PROFILE_HISTORY = (
    "Measured on held-out data: the radial profile read by a 2-D CNN at 64 x 64 gave 66.7 % "
    "against 56.7 % for the plain log-polar view (600 patterns x 8 epochs) and 81.0 % at "
    "4800 x 20 (the first shipped model); the 1-D network on a 256-sample profile of "
    "256 px patterns gave 87.8 % at 6000 x 20 and 89.7 % at 18000 x 20 with the earlier, "
    "narrower c/a range (1.0-2.5). With today's ranges, weight decay, label smoothing and "
    "profile shifts it gave 93.8 % at 48000 x 20 before pseudo-hexagonal orthorhombic "
    "crystals were redrawn (the previous shipped model); larger inputs (512-sample profiles, "
    "384 px patterns), more data and ensembles of up to four such networks stayed within "
    "93.8-94.3 % there."
)
RANGE_NOTES = {
    "rings": [
        "- Lattice ranges, training / held-out: cubic a 2.8-7.0 / 2.5-8.0 Å; hexagonal a "
        "2.4-5.0 / 2.2-5.5 Å, c/a 0.7-4.0 / 0.63-4.4 (evenly in log: CaCu5-type 0.8, WC 1.0, "
        "hcp metals 1.6, graphite 2.7, MoS2 3.9); orthorhombic edges 2.6-10.5 / 2.4-12.0 Å, "
        "each at least 8 % longer than the next. Centring P/I/F (cubic), P (hexagonal), "
        "P/I/F/C (orthorhombic); 1-3 atoms of 31 elements.",
        "- Pseudo-hexagonal orthorhombic crystals are redrawn, in training and held-out data "
        "alike (12 % of orthorhombic draws in both): those whose visible rings (inside the "
        "radial profile, at least 2 % of the highest ring peak, rings closer than two widths "
        "merged, radii measured to 0.3 px) a hexagonal cell indexes with no more calculated "
        "lines than their own lattice (`crystalview.sim.indexing`). Indexing their ring "
        "positions, as a crystallographer would, prefers the hexagonal cell, so the "
        "orthorhombic label is not in the pattern: before the redraw the ring model got 40 % "
        "of them right against 95 % of the other orthorhombic patterns.",
    ],
}


def _real_structure_note() -> str:
    """The training library in the card's words, counted from the library itself."""
    families = {
        system: sorted({s.family for s in structures_of(system)}, key=str.lower)
        for system in ("cubic", "hexagonal", "orthorhombic")
    }
    n_families = sum(len(f) for f in families.values())
    return (
        f"- Real structures in {REAL_STRUCTURE_FRACTION * 100:.0f} % of the patterns "
        f"(`crystalview.sim.structures`, {len(TRAINING_STRUCTURES)} compounds of {n_families} "
        f"prototypes: {'; '.join(f'{k}: ' + ', '.join(f) for k, f in families.items())}), cells "
        "scaled by up to 3 % and strained, free atomic coordinates moved by up to "
        f"{RING_SITE_DISPLACEMENT} (`displaced_sites`: the tilts of a Pnma perovskite, the u "
        "of wurtzite, so a prototype's weak rings come at more than one strength). Of the "
        "rest, 60 % are random structures in a random space group of the crystal family "
        "(`crystalview.sim.spacegroups`: 1-3 sites, coordinates often on special values, "
        "expanded by gemmi's symmetry operations, at most 96 atoms), so the absences of glide "
        "planes and screw axes (Pm-3n, Pa-3, Cmce, Pnma ...) are seen as well as those of "
        "centring; 40 % random lattices with a centring and 1-3 atoms (below)."
    )


DATA_NOTES = {
    "rings": _real_structure_note(),
    "spots": "- Real structures in 45 % of the patterns: zones [uvw] up to index 3 of the "
    "compounds of `crystalview.sim.structures`, labelled by the Bravais type of their "
    "zero-order Laue-zone net (`crystalview.sim.zones`; pseudo-symmetric nets within 3 % of a "
    "higher symmetry are not used); random crystals' [001] zones in the rest.",
}
PHYSICS_NOTE = (
    "- Physics and camera drawn per pattern: ring intensity jitter, preferred orientation "
    "(March-Dollase), |F|^2p intensities (p 0.5-1, towards the dynamical two-beam limit), "
    "grain-size and strain broadening with Lorentzian tails, amorphous-carbon halos, flat-field "
    "errors, a long point-spread tail, CCD blooming, beam stops of four shapes (disc on an arm, "
    "disc, wedge, blade short of the beam) and sizes, ellipticity up to 7 %, 8-bit, log and "
    "JPEG exports (a quarter of the patterns), and centres up to 36 % of the width off the "
    "middle (partial patterns)."
)

AUGMENTATION_WORDS = {
    "log_polar": "cyclic shifts and reversal of the angle rows (rotations and mirrors about "
    "the beam)",
    "polar_autocorrelation": "cyclic shifts and reversal of the angle rows (rotations and "
    "mirrors about the beam)",
    "log_polar_mean": f"shifts of the profile by up to {PROFILE_SHIFT} log-radius columns "
    "(camera length); rotations and mirrors leave an azimuthal average unchanged",
}


# Where the weights of a bundle evaluated with ``--weights`` were trained (for its card).
REUSED_WEIGHTS_NOTE = (
    "The network's weights are those trained by this command at commit 413c681, before the "
    "front end corrected elliptical distortion (`crystalview.inference.ellipse`); every number "
    "below was measured, and the calibration fitted, with today's front end "
    "(`--weights` of the earlier bundle). Retrained on corrected profiles the same recipe gave "
    "84.8 % on the same held-out patterns and 69.8 % on the development draw of the "
    "independent generator, against 85.8 % and 72.8 % for these weights, so they were kept. "
    "The ring centre (`find_ring_centre`) then replaced the plain symmetry centre: with the "
    "same weights the development draw went from 72.8 % to 77.7 %."
)


def _reused_weights_lines(weights_from: str | None) -> list[str]:
    return ["", REUSED_WEIGHTS_NOTE] if weights_from else []


def _split_lines(split: dict) -> list[str]:
    """Held-out accuracy inside and outside the training lattice ranges, when both exist."""
    (n_in, acc_in), (n_out, acc_out) = (
        split["inside_training_ranges"],
        split["outside_training_ranges"],
    )
    if not n_in or not n_out:
        return []
    return [
        "",
        f"- {n_in} patterns whose lattice lies inside the training ranges: "
        f"{100 * acc_in:.1f} %; {n_out} outside them (extrapolation): {100 * acc_out:.1f} %.",
    ]


def _pseudo_hexagonal_lines(accuracy: float | None) -> list[str]:
    """The held-out accuracy when pseudo-hexagonal orthorhombic crystals are not redrawn."""
    if accuracy is None:
        return []
    return [
        "",
        f"- On the same held-out draw with pseudo-hexagonal orthorhombic crystals kept (the "
        f"held-out definition before they were redrawn, see Data): {100 * accuracy:.1f} %. "
        "The difference is almost all pseudo-hexagonal orthorhombic patterns read as "
        "hexagonal, the reading their ring positions favour.",
    ]


TRANSFORM_NOTES = {
    "log_polar": "- The beam centre is found as the centre of inversion symmetry (correlation of "
    "the log pattern with its 180°-rotated copy); the pattern is resampled around it to "
    "64 angles x 64 log-radii, so rings are columns and a change of camera length is a shift.",
    "log_polar_mean": "- The beam centre is found as a centre of inversion symmetry "
    "(correlation of the pattern with its 180°-rotated copy: of the pattern, of its sharp "
    "features only, and with a found beam stop left out), the candidate about which the "
    "pattern is most nearly a function of radius, refined to the best such point nearby "
    "(`crystalview.inference.diffraction.find_ring_centre`; the plain symmetry centre is "
    "pulled towards the middle of the frame and missed off-centre patterns by over 5 px: 20 % "
    "of the independent generator's cubic patterns, 1 % now); the pattern is resampled "
    "around it to {size} angles x {size} log-radii and every row replaced by the mean over "
    "angles: the azimuthally averaged radial profile in log radius, where a change of camera "
    "length is a shift and ring-radius ratios are fixed distances. The pattern's elliptical "
    "distortion is measured from the rings first (the shifts of 16 sector profiles against "
    "their mean, fitted by a second harmonic: `crystalview.inference.ellipse`) and every pixel "
    "binned at its corrected radius, so a ring distorted by a few per cent stays one sharp "
    "peak instead of a band wider than the split of a pseudo-symmetric ring pair. The "
    "radial-profile network "
    "reads that one profile with convolutions along log-radius only. " + PROFILE_HISTORY,
    "autocorrelation": "- The smooth background is subtracted and the autocorrelation of the "
    "sharp features (lags up to a quarter of the side) is fed: it does not depend on the beam "
    "position and shows the spot net around the zero lag.",
    "polar_autocorrelation": "- The smooth background is subtracted, the autocorrelation of the "
    "sharp features is taken (independent of the beam position: the spot net around the zero "
    "lag) and resampled around the zero lag to 64 angles x 64 log-lags, so a rotation is a "
    "cyclic shift and the net's angles and length ratios are fixed offsets. Measured on "
    "held-out data at 600 patterns x 8 epochs: 56 % against 39 % for the plain "
    "autocorrelation; 85.0 % at 2400 x 12. On today's simulator (10000 training and 1000 "
    "held-out patterns, the same for both): the three-stage `diffraction_cnn` 84.9 % after 16 "
    "epochs, `polar_net_cnn` (convolutions wrapped round the angle axis, five stages, so the "
    "receptive field spans the whole view and relates peaks 60-90° apart) 89.5 % after 12.",
}
TRAIN_SEED = 1
HELDOUT_SEED = 1001
ROBUSTNESS_SEED = 2001
CALIBRATION_SEED = 5001  # the seed of `crystalview.inference.calibration_bundle` too
# The draw of `benchmarks.independent_sim` that variants may be compared on (seed 777, the one
# the cards report, is kept for the final check only).
DEVELOPMENT_DRAW = "seed 778, 600 ring and 500 spot patterns"
# What the issue asks on patterns from a generator we did not write.
INDEPENDENT_TARGETS = {"rings": 0.93, "spots": 0.95}
DOSES = (5.0, 15.0, 50.0, 150.0, 500.0, 2000.0)
OFFSETS = (0.0, 0.05, 0.1, 0.15, 0.2)  # fraction of the image width


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def make_manifest(
    name: str, recipe: Recipe, provenance: dict, calibration: dict | None = None
) -> ModelManifest:
    return ModelManifest(
        architecture=recipe.architecture,
        classes=list(class_names(recipe.kind)),
        input_size=recipe.input_size,
        in_channels=1,
        normalization=default_normalization(log=True, transform=recipe.transform),
        modality="SAED",
        input_mode="whole",
        provenance=provenance,
        name=name,
        description=recipe.description,
        calibration=calibration,
        pattern_kind=recipe.kind,
    )


def stored_rows(recipe: Recipe) -> int:
    """Rows of each prepared input kept in memory.

    The radial-profile view repeats one row (the azimuthal mean) ``input_size`` times and the
    radial-profile network averages the rows first, so one row is the same input at
    1/``input_size`` of the memory (24,000 full 256 x 256 inputs would take 6 GB).
    """
    return 1 if recipe.transform == "log_polar_mean" else recipe.input_size


@dataclass(frozen=True)
class _Job:
    recipe: Recipe
    manifest: ModelManifest
    seed: int
    regime: str
    overrides: dict | None
    index: int
    keep_pseudo_hexagonal: bool = False


def condition_of(params: dict, size: int) -> dict:
    """The facts of a simulated pattern that the card breaks accuracy down by."""
    offset = float(np.hypot(*params["center_offset"])) / size
    return {
        "family": params.get("family", "random"),
        "beam_stop": params["beam_stop_shape"] if params["beam_stop"] else "none",
        "dose": float(params["dose"]),
        "spottiness": float(params.get("spottiness", 0.0)),
        "export": params.get("export", "16-bit"),
        "partial": offset > 0.18,
        "real": params.get("structure", "random") != "random",
    }


def _prepared_sample(job: _Job) -> tuple[np.ndarray, str, bool, dict]:
    """One simulated pattern, prepared as inference prepares it (runs in a worker process)."""
    recipe = job.recipe
    sample = simulate_one(
        recipe.kind,
        job.index,
        recipe.sim_size,
        job.seed,
        job.regime,
        None,
        job.overrides,
        job.keep_pseudo_hexagonal,
    )
    view = prepare_whole(sample.image, job.manifest)[: stored_rows(recipe)]
    in_ranges = (
        recipe.kind != "rings"
        or sample.params.get("structure", "random") != "random"
        or ring_lattice_in_training_ranges(sample.label, sample.params)
    )
    return view, sample.label, in_ranges, condition_of(sample.params, recipe.sim_size)


# Conditions of the last data sets simulated, by (seed, regime, n): for the card's breakdowns.
SIMULATED_CONDITIONS: dict[tuple, list[dict]] = {}
# Where prepared data sets are kept between runs (``--data-cache``); None: simulate every time.
DATA_CACHE: Path | None = None
# The code a prepared data set depends on: a change to any of it invalidates the cache.
_DATA_SOURCES = (
    *sorted((ROOT / "crystalview" / "sim").glob("*.py")),
    ROOT / "crystalview" / "inference" / "diffraction.py",
    ROOT / "crystalview" / "inference" / "ellipse.py",
    ROOT / "crystalview" / "inference" / "preprocess.py",
)


def _cache_file(recipe: Recipe, n: int, seed: int, regime: str, keep: bool) -> Path | None:
    """The cache entry of one data set, named by its recipe, draw and the simulator's source."""
    if DATA_CACHE is None:
        return None
    digest = hashlib.sha256()
    for source in _DATA_SOURCES:
        digest.update(source.read_bytes())
    key = json.dumps(
        [recipe.kind, recipe.sim_size, recipe.input_size, recipe.transform, n, seed, regime, keep]
    )
    digest.update(key.encode())
    return DATA_CACHE / f"{recipe.kind}-{regime}-{seed}-{n}-{digest.hexdigest()[:16]}.npz"


def _load_cached(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict]]:
    with np.load(path, allow_pickle=False) as data:
        conditions = json.loads(str(data["conditions"]))
        return data["x"], data["y"], data["in_ranges"], conditions


def _save_cached(path: Path, x, y, in_ranges, conditions: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.npz")
    np.savez(partial, x=x, y=y, in_ranges=in_ranges, conditions=json.dumps(conditions))
    partial.replace(path)


def simulate_tensors(
    recipe: Recipe,
    manifest: ModelManifest,
    n: int,
    seed: int,
    regime: str,
    overrides=None,
    pool=None,
    keep_pseudo_hexagonal: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """Simulate ``n`` patterns and preprocess them exactly as inference will.

    Returns inputs ``(n, 1, rows, input_size)`` (see `stored_rows`), labels, and whether each
    sample's lattice lies inside the training ranges. Sample ``i`` depends only on
    ``(seed, i)``, so the result is the same with or without a process ``pool``.
    """
    cached = None if overrides else _cache_file(recipe, n, seed, regime, keep_pseudo_hexagonal)
    if cached is not None and cached.exists():
        x, y, in_ranges, conditions = _load_cached(cached)
        log(f"loaded {n} {regime} patterns from {cached}")
        SIMULATED_CONDITIONS[(seed, regime, n)] = conditions
        return torch.from_numpy(x), torch.from_numpy(y), in_ranges
    names = list(manifest.classes)
    jobs = [
        _Job(
            recipe,
            manifest,
            seed,
            regime,
            overrides(i) if overrides else None,
            i,
            keep_pseudo_hexagonal,
        )
        for i in range(n)
    ]
    if pool is not None:
        results = pool.map(_prepared_sample, jobs, chunksize=64)
    else:
        results = [_prepared_sample(job) for job in jobs]
    x = np.stack([r[0] for r in results])[:, None].astype(np.float32)
    y = np.array([names.index(r[1]) for r in results], dtype=np.int64)
    in_ranges = np.array([r[2] for r in results], dtype=bool)
    SIMULATED_CONDITIONS[(seed, regime, n)] = [r[3] for r in results]
    if cached is not None:
        _save_cached(cached, x, y, in_ranges, SIMULATED_CONDITIONS[(seed, regime, n)])
    return torch.from_numpy(x), torch.from_numpy(y), in_ranges


def augment(x: torch.Tensor, transform: str, generator: torch.Generator) -> torch.Tensor:
    """Physically valid for every class: rotations about the beam and mirrors.

    On a log-polar view (of the pattern or of its autocorrelation) a rotation is a cyclic shift
    of the angle rows and a mirror reverses them; the plain autocorrelation turns and mirrors
    with the pattern (quarter turns here, the simulator already draws continuous rotations).
    The radial profile has already averaged over angles: neither changes it, but a change of
    camera length moves it along log-radius, so it is shifted by up to `PROFILE_SHIFT` columns
    (the edge columns repeated into the gap).
    """
    if transform == "log_polar_mean":
        return shift_profile(
            x, int(torch.randint(-PROFILE_SHIFT, PROFILE_SHIFT + 1, (1,), generator=generator))
        )
    if transform in ("log_polar", "polar_autocorrelation"):
        x = torch.roll(x, int(torch.randint(x.shape[2], (1,), generator=generator)), 2)
        return x.flip(2) if bool(torch.randint(2, (1,), generator=generator)) else x
    k = int(torch.randint(4, (1,), generator=generator))
    x = torch.rot90(x, k, (2, 3))
    if bool(torch.randint(2, (1,), generator=generator)):
        x = x.flip(3)
    return x


def shift_profile(x: torch.Tensor, columns: int) -> torch.Tensor:
    """``x`` moved ``columns`` along its last axis, the edge column filling the gap."""
    if columns == 0:
        return x
    out = torch.roll(x, columns, dims=-1)
    if columns > 0:
        out[..., :columns] = x[..., :1]
    else:
        out[..., columns:] = x[..., -1:]
    return out


def train(model, x, y, recipe: Recipe, epochs: int, seed: int = 0) -> list[dict]:
    generator = torch.Generator().manual_seed(seed)
    batch_size, transform = recipe.batch_size, recipe.transform
    optimiser = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=recipe.weight_decay)
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
            loss = torch.nn.functional.cross_entropy(
                logits, y[index], label_smoothing=recipe.label_smoothing
            )
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


def _mean(values: np.ndarray) -> float | None:
    return float(values.mean()) if values.size else None


def confusion(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> list[list[int]]:
    matrix = np.zeros((k, k), dtype=int)
    np.add.at(matrix, (y_true, y_pred), 1)
    return matrix.tolist()


def robustness(model, recipe: Recipe, manifest: ModelManifest, n: int, pool) -> dict:
    """Held-out accuracy with the dose, then the centre offset, fixed to each listed value."""
    curves: dict[str, list] = {"dose": [], "center_offset": []}
    for dose in DOSES:
        x, y, _ = simulate_tensors(
            recipe,
            manifest,
            n,
            ROBUSTNESS_SEED,
            "heldout",
            lambda i, d=dose: {"dose": d},
            pool,
        )
        curves["dose"].append([dose, float((predict(model, x) == y.numpy()).mean())])
    for fraction in OFFSETS:

        def offset(i: int, f: float = fraction) -> dict:
            angle = 2.399963 * i  # golden-angle directions: evenly spread, deterministic
            r = f * recipe.sim_size
            return {"center_offset": (r * np.sin(angle), r * np.cos(angle))}

        x, y, _ = simulate_tensors(
            recipe, manifest, n, ROBUSTNESS_SEED + 1, "heldout", offset, pool
        )
        curves["center_offset"].append([fraction, float((predict(model, x) == y.numpy()).mean())])
    return curves


def _overrides(report: dict) -> str:
    """The command-line sizes this bundle was trained with, when they differ from the recipe."""
    calibration = report.get("calibration") or {}
    return (
        f" --n-train {report['n_train']} --epochs {report['epochs']} "
        f"--n-heldout {report['n_heldout']} --n-calibration {calibration.get('n', 1500)} "
        f"--n-robustness {report.get('n_robustness', 30)}"
    )


def model_card(name: str, recipe: Recipe, manifest: ModelManifest, report: dict) -> str:
    classes = manifest.classes
    accuracy = report["heldout_accuracy"]
    independent = report.get("independent")
    status_independent = ""
    if independent:
        target = INDEPENDENT_TARGETS[recipe.kind]
        met = "meets" if independent["accuracy"] >= target else "**below**"
        status_independent = (
            f" Independent generator: {100 * independent['accuracy']:.1f} %, {met} the "
            f"target of {100 * target:.0f} %."
        )
    status = (
        f"Status: **meets the target** (held-out {100 * accuracy:.1f} % >= "
        f"{100 * recipe.target:.0f} %)."
        if accuracy >= recipe.target
        else f"Status: **below target**: held-out {100 * accuracy:.1f} %, the issue asks >= "
        f"{100 * recipe.target:.0f} %. Treat predictions as indicative only."
    ) + status_independent
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
        "classes balanced."
        + (
            f" Sized down from the recipe's {recipe.n_train} patterns x {recipe.epochs} epochs "
            "so that both built-in models trained within the hour on a shared 2-core machine "
            "(every process of six engineers on it); the full recipe is the command below."
            if report["n_train"] < recipe.n_train or report["epochs"] < recipe.epochs
            else ""
        ),
        f'- Held-out: {report["n_heldout"]} patterns, `regime="heldout"`, seed {HELDOUT_SEED}: '
        "wider lattice-parameter ranges than training, dose down to 15 e⁻/px at the brightest "
        "feature, centre offsets up to 12 % of the width, beam stop in half the patterns.",
        *RANGE_NOTES.get(recipe.kind, []),
        report.get("data_note") or DATA_NOTES[recipe.kind],
        PHYSICS_NOTE,
        "- The calibration (pixel size), centre position and rotation are random in every "
        "pattern, so the model relies on none of them.",
        "",
        "## Model",
        f"- `{recipe.architecture}`, input {recipe.input_size} x {recipe.input_size}, whole image "
        '(`input_mode="whole"`), log intensity, percentile 0.5-99.5 stretch, then '
        f'`"transform": "{recipe.transform}"` (`prepare_whole`, identical in training and '
        "inference; `crystalview.inference.diffraction`).",
        TRANSFORM_NOTES[recipe.transform].format(size=recipe.input_size),
        "- Augmentation: "
        + AUGMENTATION_WORDS.get(recipe.transform, "quarter turns and mirrors")
        + "; the simulator already draws continuous rotations, offsets, dose, background, "
        "ellipticity and beam stops.",
        f"- Optimiser: AdamW (weight decay {recipe.weight_decay:g}), one-cycle learning rate "
        f"up to 3e-3, batch {recipe.batch_size}, {report['epochs']} epochs"
        + (f", label smoothing {recipe.label_smoothing:g}." if recipe.label_smoothing else "."),
        "",
        "## Training command",
        "```",
        f"nice .venv/bin/python recipes/train_builtin.py {name}" + _overrides(report),
        "```",
        *_reused_weights_lines(report.get("weights_from")),
        f"CPU training time (simulation + training + evaluation): "
        f"{report['seconds_total'] / 60:.1f} min on {report['cpu']}, of which simulation "
        + (
            f"{report['seconds_data'] / 60:.1f} min"
            if report["seconds_data"] >= 10
            else "of the training and held-out sets none (they came from `--data-cache`, "
            "written by an earlier run of the same simulator code)"
        )
        + f" (shared machine; {report['workers']} simulation processes, torch threads "
        f"{report['threads']}).",
        "",
        "## Held-out accuracy",
        f"**{100 * report['heldout_accuracy']:.1f} %** on {report['n_heldout']} held-out patterns.",
        *_split_lines(report["heldout_split"]),
        *_pseudo_hexagonal_lines(report.get("heldout_accuracy_pseudo_hexagonal_kept")),
        "",
        "Confusion matrix (rows: true, columns: predicted):",
        *confusion_lines(classes, report["confusion_matrix"]),
    ]
    if report.get("heldout_breakdown"):
        lines += ["", "Held-out accuracy by structure family and by condition:"]
        lines += breakdown_lines(report["heldout_breakdown"], recipe.kind)
    lines += evidence_lines(name, report.get("evidence"), classes)
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
    lines += ["", *independent_lines(report.get("independent"), recipe)]
    lines += image_kind_lines(report.get("image_kind"), recipe)
    lines += calibration_lines(report)
    lines += [
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


def confusion_lines(classes: list[str], matrix: list[list[int]]) -> list[str]:
    """A confusion matrix as a markdown table (rows: true, columns: predicted)."""
    lines = ["", "| true \\ predicted | " + " | ".join(classes) + " |"]
    lines.append("|---|" + "---|" * len(classes))
    for cls, row in zip(classes, matrix, strict=True):
        lines.append(f"| {cls} | " + " | ".join(str(v) for v in row) + " |")
    return lines


EVIDENCE_WORDS = {
    "spot_lattice": "the 35 measures of `crystalview.inference.spot_lattice` (the spot net found "
    "on the whole pattern from shared spot-to-spot vectors, refined by least squares and "
    "Gauss-reduced: its deviations from equal edges, right angle, 60 degrees and the centred "
    "condition, fit quality, and the correlations of the spot intensities under the net's "
    "candidate mirrors and rotations)",
}


def evidence_lines(name: str, evidence: dict | None, classes: list[str]) -> list[str]:
    """The card's section on the measured geometry stacked on the network (if any)."""
    if not evidence:
        return []
    return [
        "",
        "## Measured geometry stacked on the network",
        "",
        "The answer is a logistic regression over the network's logits and "
        f"{EVIDENCE_WORDS[evidence['method']]}, fitted with the network frozen on "
        f"{evidence['n']} patterns of seed {evidence['seed']} (`recipes/stack_evidence.py`, "
        "`crystalview.inference.evidence`). Where no spot net is found (a low dose, a bar "
        f"across the pattern: {100 * evidence['heldout_without_net']:.1f} % of the held-out "
        "patterns) the network's own logits stand.",
        "",
        f"- Held-out: network alone {100 * evidence['heldout_network']:.1f} %, stacked "
        f"**{100 * evidence['heldout_stacked']:.1f} %**. The held-out tables above and the "
        "calibration below are of the stacked answers; the robustness curves below are the "
        "network's alone.",
        "- Chosen on the independent generator's development draw (seed 778), never on the "
        "reported one: there the network alone read 78.0 % of 500 patterns right, the stack "
        "81.6 % when fitted on the calibration split (36 patterns fixed, 18 broken; "
        "`benchmarks/independent_sim/spot_geometry.py`) and 81.2 % as shipped, fitted on its "
        "own split (`benchmarks/independent_sim/evaluate.py --seed 778`). The metric measures "
        "alone read 74.8 %: a camera's 0-3 % ellipticity makes a special net look slightly "
        "oblique, which a single pattern cannot tell from a truly oblique one.",
        "",
        "Reproduced, after the training command above, by:",
        "```",
        f"nice .venv/bin/python recipes/stack_evidence.py {name} --method {evidence['method']}",
        "```",
        "",
        "Network alone on the held-out patterns (rows: true, columns: predicted):",
        *confusion_lines(classes, evidence["network_confusion_matrix"]),
    ]


def breakdown(conditions: list[dict], correct: np.ndarray, size_hint: str = "") -> dict:
    """Accuracy by structure family and by condition: {name: {value: [n, accuracy]}}."""
    groups: dict[str, dict[str, list[bool]]] = {}
    for facts, ok in zip(conditions, correct, strict=True):
        dose = facts["dose"]
        values = {
            "family": facts["family"],
            "beam stop": facts["beam_stop"],
            "dose": "< 30" if dose < 30 else ("30-300" if dose < 300 else ">= 300"),
            "export": facts["export"].split(" q")[0],
            "partial pattern": "yes" if facts["partial"] else "no",
            "structure": "real" if facts["real"] else "random lattice",
        }
        if "spottiness" in facts:
            s = facts["spottiness"]
            values["spottiness"] = "smooth" if s == 0 else ("some (< 0.6)" if s < 0.6 else "spotty")
        for name, value in values.items():
            groups.setdefault(name, {}).setdefault(value, []).append(bool(ok))
    return {
        name: {value: [len(v), float(np.mean(v))] for value, v in sorted(vals.items())}
        for name, vals in groups.items()
    }


def _table(title: str, values: dict) -> list[str]:
    lines = ["", f"| {title} | patterns | accuracy |", "|---|---|---|"]
    return lines + [f"| {v} | {n} | {100 * a:.1f} % |" for v, (n, a) in values.items()]


def breakdown_lines(result: dict, kind: str) -> list[str]:
    """Markdown tables of a breakdown (family, then each condition)."""
    lines: list[str] = []
    for name, values in result.items():
        if kind != "rings" and name == "spottiness":
            continue
        lines += _table(name, values)
    return lines


def independent_lines(independent: dict | None, recipe: Recipe) -> list[str]:
    """The card's section on the independent generator (from its evaluation JSON)."""
    if not independent:
        return [
            "## Independent check",
            "",
            "Not measured for this bundle: run `benchmarks/independent_sim/evaluate.py` and "
            "`train_builtin.py NAME --refresh-card --independent RESULT.json`.",
            "",
        ]
    target = INDEPENDENT_TARGETS[recipe.kind]
    acc = independent["accuracy"]
    lines = [
        "## Independent check (another simulator, other structures)",
        "",
        f"**{100 * acc:.1f} %** on {independent['n']} patterns of "
        "`benchmarks/independent_sim` (seed 777), against the issue's target of "
        f"{100 * target:.0f} %" + (" (met)." if acc >= target else " (**not met**)."),
        "",
        "That generator shares no code with `crystalview.sim`: structures built by ASE from "
        "compounds and prototypes outside the training library (A15, pyrite, cuprite, NiAs, "
        "quartz, Se, Bi2Te3, cementite, marcasite, MnP, black phosphorus, iodine, YBCO have no "
        "member in training at all), Mott-Bethe electron form factors from IT92 X-ray ones, its "
        "own ring and spot intensity models, camera, beam stops (round stop on a tapered arm, "
        "bar, finger), exports and labels. Its seed-777 draw reported here was never used for "
        "training, tuning or choosing between candidates; it was run on the previous bundle and "
        "on this one, to decide whether this one replaces it. Front-end and training variants "
        "were compared on our held-out split and on a separate draw of the same generator "
        f"({DEVELOPMENT_DRAW}), never on this one.",
    ]
    if independent.get("look_flagged") is not None:
        lines.append(
            f"- The image look (`crystalview.inference.image_kind`) answers not-this-kind on "
            f"{100 * independent['look_flagged']:.1f} % of these patterns (target < 2 %); the "
            "accuracy above counts every pattern."
        )
    if independent.get("baseline") is not None:
        lines.append(
            f"- The previous shipped bundle scored {100 * independent['baseline']:.1f} % on the "
            "same patterns."
        )
    lines += ["", "Confusion matrix (rows: true, columns: predicted):"]
    lines += confusion_lines(list(class_names(recipe.kind)), independent["confusion_matrix"])
    lines += _table("structure family", {k: v for k, v in independent["by_family"].items()})
    for name, values in independent["by_condition"].items():
        lines += _table(name, values)
    return [*lines, ""]


def image_kind_lines(check: dict | None, recipe: Recipe) -> list[str]:
    """The card's section on `not-this-kind` from the image look, from the JSON of
    ``benchmarks/image_kind/check_detector.py`` (absent: not measured for this card)."""
    if not check:
        return []
    other = {"rings": "spot", "spots": "ring"}[recipe.kind]
    own = {"rings": "ring", "spots": "spot"}[recipe.kind]
    wrong = ", ".join(f"{k} {100 * v:.0f} %" for k, v in check["by_wrong_kind"].items())
    return [
        "## Not this kind of image",
        "",
        "Before the network answers, the image-kind detector (`crystalview.inference.kind_net`, "
        "trained on `crystalview.sim` patterns and `recipes/lookalikes.py`, none of the images "
        "below) says whether the image is a pattern this model reads; a pattern it leaves open "
        "is a spot pattern when one 2-D net indexes its spots (`crystalview.inference."
        "spot_lattice.net_support`). Flagged `not-this-kind` "
        f"(`benchmarks/image_kind/check_detector.py`, independent draw seed {check['seed']}):",
        "",
        "| images | flagged | target |",
        "|---|---|---|",
        f"| {own} patterns of our simulator (a fresh seed) | {100 * check['own_sim']:.1f} % "
        "| < 2 % |",
        f"| {own} patterns of the independent simulator | {100 * check['own_independent']:.1f} % "
        "| < 2 % |",
        f"| {other} patterns of our simulator | {100 * check['other_sim']:.1f} % | >= 95 % |",
        f"| {other} patterns of the independent simulator | "
        f"{100 * check['other_independent']:.1f} % | >= 95 % |",
        f"| generated blank, noise and real-space images ({check['n_wrong_kind']}) | "
        f"{100 * check['wrong_kind']:.1f} % | >= 95 % |",
        "",
        f"By kind of generated image: {wrong}. Files whose metadata say SEM, TEM or STEM are "
        "flagged whatever they look like; patterns that pass the look but are far from the "
        "training data are flagged by the out-of-distribution score below.",
        "",
    ]


def calibration_lines(report: dict) -> list[str]:
    """The calibration section, from the report (held-out and independent evaluations)."""
    from crystalview.inference.calibration import Calibration, calibration_card_lines

    if not report.get("calibration"):
        return []
    evaluations = {"held-out (our simulator)": report["calibration_heldout"]}
    independent = report.get("independent") or {}
    if independent.get("calibration"):
        evaluations["independent generator"] = independent["calibration"]
    return calibration_card_lines(Calibration.from_dict(report["calibration"]), evaluations)


def calibrate(model, x_cal, y_cal, x_held, y_held, name: str, recipe: Recipe):
    """Temperature, unsure threshold and OOD statistics on the calibration split.

    Returns the calibration and its numbers on the held-out split, or (None, None) with a
    warning when the calibration code fails (the bundle then ships uncalibrated).
    """
    from crystalview.inference.calibration import evaluate_calibration, fit_calibration
    from crystalview.inference.outputs import model_outputs

    try:
        cal_logits, cal_features = model_outputs(model, x_cal)
        calibration = fit_calibration(
            cal_logits,
            y_cal.numpy(),
            cal_features,
            split=f'crystalview.sim regime="heldout", seed {CALIBRATION_SEED}',
        )
        make_manifest(name, recipe, {}, calibration.to_dict())  # the manifest accepts it
        held_logits, held_features = model_outputs(model, x_held)
        held = evaluate_calibration(calibration, held_logits, y_held.numpy(), held_features)
    except Exception as error:  # the network must survive a calibration bug
        log(f"WARNING: calibration failed, the bundle ships uncalibrated: {error!r}")
        return None, None
    return calibration, held


def refresh_card(
    name: str,
    out: Path,
    independent_json: Path,
    baseline_json: Path | None = None,
    image_kind_json: Path | None = None,
) -> int:
    """Re-render a bundle's card with its independent evaluation (weights untouched).

    ``independent_json`` holds the evaluation of this bundle, ``baseline_json`` (optional)
    that of the bundle it replaces, on the same patterns; ``image_kind_json`` (optional) the
    image-kind detector's check.
    """
    from crystalview.models.bundle import load_bundle

    path = out / f"{name}.cvmodel"
    loaded = load_bundle(path)
    recipe = RECIPES[name]
    results = json.loads(independent_json.read_text(encoding="utf-8"))
    if len(results) != 1:
        raise SystemExit(f"{independent_json} must hold the result of one bundle")
    independent = next(iter(results.values()))
    if baseline_json is not None:
        baseline = json.loads(baseline_json.read_text(encoding="utf-8"))
        independent["baseline"] = next(iter(baseline.values()))["accuracy"]
    report = _training_report(loaded)
    report["independent"] = independent
    if image_kind_json is not None:
        check = json.loads(image_kind_json.read_text(encoding="utf-8"))
        report["image_kind"] = check["models"][recipe.kind] | {"seed": check["seed"]}
    manifest = loaded.manifest
    manifest.provenance = report
    card = model_card(name, recipe, manifest, report)
    save_bundle(path, loaded.model, manifest, model_card=card)
    (out / f"{name}.md").write_text(card, encoding="utf-8")
    log(f"card of {name} refreshed with the independent result {independent['accuracy']:.4f}")
    return 0


def _training_report(loaded: LoadedModel) -> dict:
    """A bundle's provenance with the training library's note, taken from its card when the
    bundle is from before the note was recorded."""
    report = dict(loaded.manifest.provenance)
    if "data_note" not in report:
        report["data_note"] = _card_data_note(loaded.model_card)
    return report


def _card_data_note(card: str | None) -> str:
    """The training library's line of a card written before bundles recorded it.

    Re-rendering it from today's library would describe structures the weights never saw."""
    for line in (card or "").splitlines():
        if line.startswith("- Real structures in"):
            return line
    raise SystemExit("the bundle's card does not say which structures it was trained on")


def _earlier_training(bundle: Path) -> tuple[torch.nn.Module, dict]:
    """The network of an earlier bundle and the report of the run that trained it."""
    from crystalview.models.bundle import load_bundle

    loaded = load_bundle(bundle)
    return loaded.model, _training_report(loaded)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=sorted(RECIPES))
    parser.add_argument("--n-train", type=int, help="override the recipe's training set size")
    parser.add_argument("--epochs", type=int, help="override the recipe's epochs")
    parser.add_argument("--n-heldout", type=int, help="override the recipe's held-out set size")
    parser.add_argument("--n-calibration", type=int, default=1500, help="calibration split size")
    parser.add_argument("--n-robustness", type=int, default=90, help="patterns per curve point")
    parser.add_argument(
        "--threads", type=int, default=os.cpu_count() or 1, help="torch threads for training"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="processes simulating patterns (the data do not depend on it)",
    )
    parser.add_argument("--out", type=Path, default=MODELS_DIR)
    parser.add_argument(
        "--data-cache",
        type=Path,
        help="folder keeping prepared data sets between runs (keyed by the simulator's source)",
    )
    parser.add_argument(
        "--weights",
        type=Path,
        help="evaluate and calibrate the network of this bundle with today's front end instead "
        "of training one (its training history and command are kept from its card)",
    )
    parser.add_argument(
        "--refresh-card",
        action="store_true",
        help="only re-render the card of an existing bundle with --independent results",
    )
    parser.add_argument(
        "--independent",
        type=Path,
        help="JSON written by benchmarks/independent_sim/evaluate.py (for --refresh-card)",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        help="the same evaluation of the bundle this one replaces (for --refresh-card)",
    )
    parser.add_argument(
        "--image-kind",
        type=Path,
        help="JSON written by benchmarks/image_kind/check_detector.py --json (for --refresh-card)",
    )
    args = parser.parse_args(argv)
    if args.refresh_card:
        if args.independent is None:
            parser.error("--refresh-card needs --independent RESULT.json")
        return refresh_card(args.name, args.out, args.independent, args.baseline, args.image_kind)
    global DATA_CACHE
    DATA_CACHE = args.data_cache
    recipe = RECIPES[args.name]
    n_train = args.n_train or recipe.n_train
    epochs = args.epochs or recipe.epochs
    n_heldout = args.n_heldout or recipe.n_heldout
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    start = time.monotonic()
    manifest = make_manifest(args.name, recipe, {})
    # spawn, not fork: a forked child would inherit torch's thread pools mid-state.
    earlier = _earlier_training(args.weights) if args.weights else None
    with multiprocessing.get_context("spawn").Pool(args.workers) as pool:
        if earlier is None:
            log(f"simulating {n_train} training patterns")
            x_train, y_train, _ = simulate_tensors(
                recipe, manifest, n_train, TRAIN_SEED, "train", pool=pool
            )
        log(f"simulating {n_heldout} held-out patterns")
        x_held, y_held, held_in_ranges = simulate_tensors(
            recipe, manifest, n_heldout, HELDOUT_SEED, "heldout", pool=pool
        )
        seconds_data = time.monotonic() - start
        log(f"data ready after {seconds_data:.0f} s")

        if earlier is None:
            model = build_model(recipe.architecture, len(manifest.classes))
            history = train(model, x_train, y_train, recipe, epochs)
        else:
            model, trained = earlier
            history, n_train, epochs = trained["history"], trained["n_train"], trained["epochs"]
            seconds_data = trained["seconds_data"]
        predictions = predict(model, x_held)
        correct = predictions == y_held.numpy()
        accuracy = float(correct.mean())
        log(f"held-out accuracy {accuracy:.4f}")
        with_pseudo_hexagonal = None
        if recipe.kind == "rings":
            x_kept, y_kept, _ = simulate_tensors(
                recipe,
                manifest,
                n_heldout,
                HELDOUT_SEED,
                "heldout",
                pool=pool,
                keep_pseudo_hexagonal=True,
            )
            with_pseudo_hexagonal = float((predict(model, x_kept) == y_kept.numpy()).mean())
            log(f"held-out accuracy, pseudo-hexagonal patterns kept {with_pseudo_hexagonal:.4f}")
        held_conditions = SIMULATED_CONDITIONS[(HELDOUT_SEED, "heldout", n_heldout)]
        curves = robustness(model, recipe, manifest, args.n_robustness, pool)
        log(f"simulating {args.n_calibration} calibration patterns")
        x_cal, y_cal, _ = simulate_tensors(
            recipe, manifest, args.n_calibration, CALIBRATION_SEED, "heldout", pool=pool
        )
    args.out.mkdir(parents=True, exist_ok=True)
    # Kept before calibration, so that a failure there never loses the trained network.
    save_bundle(args.out / f"{args.name}.cvmodel", model, make_manifest(args.name, recipe, {}))
    calibration, calibration_heldout = calibrate(
        model, x_cal, y_cal, x_held, y_held, args.name, recipe
    )
    report = {
        "n_train": n_train,
        "n_heldout": n_heldout,
        "n_robustness": args.n_robustness,
        "epochs": epochs,
        "heldout_accuracy": accuracy,
        "heldout_split": {
            "inside_training_ranges": [int(held_in_ranges.sum()), _mean(correct[held_in_ranges])],
            "outside_training_ranges": [
                int((~held_in_ranges).sum()),
                _mean(correct[~held_in_ranges]),
            ],
        },
        "heldout_accuracy_pseudo_hexagonal_kept": with_pseudo_hexagonal,
        "heldout_breakdown": breakdown(held_conditions, correct),
        "calibration": calibration.to_dict() if calibration else None,
        "calibration_heldout": calibration_heldout,
        "confusion_matrix": confusion(y_held.numpy(), predictions, len(manifest.classes)),
        "robustness": curves,
        "history": history,
        "seconds_data": seconds_data,
        "seconds_total": earlier[1]["seconds_total"] if earlier else time.monotonic() - start,
        "threads": args.threads,
        "workers": args.workers,
        "cpu": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "command": f"nice .venv/bin/python recipes/train_builtin.py {args.name}",
        "weights_from": str(args.weights) if args.weights else None,
        # the library the weights learnt from, which a later edit of the library must not rewrite
        "data_note": earlier[1]["data_note"] if earlier else DATA_NOTES[recipe.kind],
    }
    manifest = make_manifest(
        args.name,
        recipe,
        {"training": "simulated SAED", **report},
        calibration.to_dict() if calibration else None,
    )
    card = model_card(args.name, recipe, manifest, report)
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        save_bundle(args.out / f"{args.name}.cvmodel", model, manifest, model_card=card)
    except Exception as error:  # e.g. a calibration the manifest rejects
        log(f"WARNING: saving with calibration failed ({error!r}); saving without it")
        report["calibration"] = None
        manifest = make_manifest(args.name, recipe, {"training": "simulated SAED", **report})
        card = model_card(args.name, recipe, manifest, report)
        save_bundle(args.out / f"{args.name}.cvmodel", model, manifest, model_card=card)
    (args.out / f"{args.name}.md").write_text(card, encoding="utf-8")
    log(json.dumps({k: report[k] for k in ("heldout_accuracy", "seconds_total")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
