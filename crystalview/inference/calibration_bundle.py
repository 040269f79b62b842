"""Calibrating a model bundle: fit on a labelled split, store the result in its ``model.json``.

`apply_calibration_to_bundle` rewrites only the manifest of an existing bundle (weights and
model card are copied byte for byte), atomically. `calibrate_bundle_on_simulation` does the
whole job for the built-in diffraction models: it simulates a calibration split with
`crystalview.sim` under the held-out regime with its own seed (`CALIBRATION_SEED`, distinct
from the training seed 1, the card's held-out 1001, the robustness curves 2001/2002 and the
fresh-check seed 3001), prepares it exactly as inference does, and fits.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from crystalview.core.errors import CrystalViewError
from crystalview.inference.calibration import Calibration, fit_calibration
from crystalview.inference.evidence import model_evidence
from crystalview.inference.outputs import model_outputs
from crystalview.inference.preprocess import prepare_whole
from crystalview.models.bundle import load_bundle, write_bundle
from crystalview.models.bundle_format import (
    CARD_NAME,
    MAX_BUNDLE_BYTES,
    MEMBER_RULES,
    WEIGHTS_NAME,
    parse_manifest,
)
from crystalview.models.manifest import FORMAT_VERSION, ModelManifest
from crystalview.models.safe_zip import open_checked_zip, read_member

CALIBRATION_SEED = 5001
CALIBRATION_REGIME = "heldout"
DEFAULT_CALIBRATION_PATTERNS = 1500
# Pattern side the built-in models were trained at (recipes/train_builtin.py).
SIM_SIZE = {"rings": 256, "spots": 128}


def apply_calibration_to_bundle(
    path: str | os.PathLike,
    calibration: Calibration | None,
    out: str | os.PathLike | None = None,
    pattern_kind: str | None = None,
) -> Path:
    """Write ``path`` (or ``out``) with ``calibration`` in its manifest; return the written path.

    ``calibration=None`` removes a stored calibration. ``pattern_kind`` (``"rings"`` /
    ``"spots"``), when given, is stored too. The manifest is validated before anything is
    written; a failed write leaves the old file.
    """
    path = Path(path)
    target = Path(out) if out is not None else path
    archive, members = open_checked_zip(path, MEMBER_RULES, MAX_BUNDLE_BYTES)
    with archive:
        manifest = parse_manifest(archive, members, path)
        weights = read_member(archive, members[WEIGHTS_NAME], str(path))
        card = read_member(archive, members[CARD_NAME], str(path)) if CARD_NAME in members else None
    data = manifest.to_dict()
    data["calibration"] = calibration.to_dict() if calibration is not None else None
    if pattern_kind is not None:
        data["pattern_kind"] = pattern_kind
    data["format_version"] = FORMAT_VERSION
    updated = ModelManifest.from_dict(data)
    write_bundle(target, updated.to_json(), weights, card)
    return target


def _simulated_input(job: tuple) -> tuple[np.ndarray, str, np.ndarray | None]:
    """One simulated pattern prepared as inference prepares it, with the evidence the model
    stacks on its logits measured on it (or None); runs in a worker process."""
    from crystalview.sim.generators import simulate_one

    kind, index, size, seed, manifest_json = job
    manifest = ModelManifest.from_json(manifest_json)
    sample = simulate_one(kind, index, size, seed, CALIBRATION_REGIME)
    stack = model_evidence(manifest)
    evidence = stack.measure(sample.image) if stack is not None else None
    return prepare_whole(sample.image, manifest), sample.label, evidence


def simulate_calibration_split(
    manifest: ModelManifest,
    n: int = DEFAULT_CALIBRATION_PATTERNS,
    seed: int = CALIBRATION_SEED,
    size: int | None = None,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Prepared inputs ``(n, H, W)``, class indices and (when the model stacks evidence on its
    logits) the measured evidence ``(n, F)`` of a simulated split for ``manifest``.

    The pattern kind is the manifest's `expected_pattern_kind`; the class names must be the
    simulator's. Sample ``i`` depends only on ``(seed, i)``, whatever ``workers`` is.
    """
    kind = manifest.expected_pattern_kind
    if kind is None:
        raise CrystalViewError(
            f"model {manifest.name!r} reads no simulated diffraction view (rings or spots); "
            "calibrate it on labelled images instead"
        )
    from crystalview.sim.generators import class_names

    simulated = list(class_names(kind))
    if sorted(simulated) != sorted(manifest.classes):
        raise CrystalViewError(
            f"model {manifest.name!r} has classes {manifest.classes}, the simulator's {kind} "
            f"patterns {simulated}: they must be the same to calibrate on simulation"
        )
    size = size or SIM_SIZE[kind]
    jobs = [(kind, i, size, seed, manifest.to_json()) for i in range(n)]
    results = []
    if workers > 1:
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            for result in pool.imap(_simulated_input, jobs, chunksize=32):
                results.append(result)
                if progress is not None:
                    progress(len(results), n)
    else:
        for job in jobs:
            results.append(_simulated_input(job))
            if progress is not None:
                progress(len(results), n)
    x = np.stack([view for view, _, _ in results]).astype(np.float32)
    y = np.array([manifest.classes.index(label) for _, label, _ in results], dtype=np.int64)
    measured = [evidence for _, _, evidence in results]
    evidence = np.stack(measured) if measured[0] is not None else None
    return x, y, evidence


def calibrate_bundle_on_simulation(
    path: str | os.PathLike,
    n: int = DEFAULT_CALIBRATION_PATTERNS,
    seed: int = CALIBRATION_SEED,
    size: int | None = None,
    workers: int = 1,
    out: str | os.PathLike | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Calibration:
    """Simulate a calibration split, fit `fit_calibration` on it and store it in the bundle."""
    loaded = load_bundle(path)
    manifest = loaded.manifest
    x, y, evidence = simulate_calibration_split(manifest, n, seed, size, workers, progress)
    with torch.no_grad():
        logits, features = model_outputs(loaded.model, torch.from_numpy(x))
    stack = model_evidence(manifest)
    if stack is not None:
        logits = stack.apply(logits, evidence)
    kind = manifest.expected_pattern_kind
    calibration = fit_calibration(
        logits,
        y,
        features,
        split=f"crystalview.sim {kind} patterns, regime {CALIBRATION_REGIME!r}, seed {seed}",
    )
    apply_calibration_to_bundle(path, calibration, out=out, pattern_kind=kind)
    return calibration
