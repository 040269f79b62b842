"""Stack measured geometry on a built-in model's logits, then recalibrate it and render its card.

    nice .venv/bin/python recipes/stack_evidence.py saed-zone-lattice --method spot_lattice

The second step of a built-in model after `train_builtin.py`, with the network frozen
(`crystalview.inference.evidence`):

1. a split of its own (`STACK_SEED`, `N_STACK` patterns, ``regime="heldout"``, the recipe's
   pattern size) is simulated; each pattern gives the network's logits on its prepared view and
   the method's features measured on the raw image, and the stack (a logistic regression over
   both) is fitted on them;
2. the stack goes into the bundle's manifest, and the calibration (temperature, unsure
   threshold, OOD statistics) is fitted anew on the calibration split (seed 5001), on the
   stacked logits, by `calibrate_bundle_on_simulation`;
3. the card's held-out numbers (seed 1001, the recipe's held-out size) are measured again on
   the stacked answers, next to the network's own. The independent evaluation is left for
   ``benchmarks/independent_sim/evaluate.py`` and ``train_builtin.py --refresh-card``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import train_builtin as builtin

from crystalview.inference.calibration import evaluate_calibration
from crystalview.inference.calibration_bundle import calibrate_bundle_on_simulation
from crystalview.inference.evidence import fit_evidence_stack, measure_evidence
from crystalview.inference.outputs import model_outputs
from crystalview.inference.preprocess import prepare_whole
from crystalview.models.bundle import load_bundle, save_bundle
from crystalview.models.manifest import EVIDENCE_METHODS, ModelManifest
from crystalview.sim.generators import simulate_one

# Distinct from training (1), held-out (1001), robustness (2001/2002), fresh checks (3001)
# and calibration (5001).
STACK_SEED = 5002
N_STACK = 2000


def _sample(job: tuple) -> tuple[np.ndarray, str, np.ndarray, dict]:
    """View, label, measured features and card conditions of one pattern (worker process)."""
    kind, index, size, seed, manifest_json, method = job
    manifest = ModelManifest.from_json(manifest_json)
    sample = simulate_one(kind, index, size, seed, "heldout")
    features = measure_evidence(method, sample.image)
    view = prepare_whole(sample.image, manifest)
    return view, sample.label, features, builtin.condition_of(sample.params, size)


def simulate(recipe, manifest, method: str, seed: int, n: int, workers: int):
    """Views ``(n, H, W)``, class indices, features ``(n, F)`` and conditions of a split."""
    jobs = [(recipe.kind, i, recipe.sim_size, seed, manifest.to_json(), method) for i in range(n)]
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        results = pool.map(_sample, jobs, chunksize=16)
    views = np.stack([r[0] for r in results]).astype(np.float32)
    labels = np.array([manifest.classes.index(r[1]) for r in results], dtype=np.int64)
    return views, labels, np.stack([r[2] for r in results]), [r[3] for r in results]


def confusion(truth: np.ndarray, predicted: np.ndarray, k: int) -> list[list[int]]:
    matrix = np.zeros((k, k), dtype=int)
    np.add.at(matrix, (truth, predicted), 1)
    return matrix.tolist()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=sorted(builtin.RECIPES))
    parser.add_argument("--method", choices=EVIDENCE_METHODS, required=True)
    parser.add_argument("--out", type=Path, default=builtin.MODELS_DIR)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    started = time.perf_counter()
    recipe = builtin.RECIPES[args.name]
    path = args.out / f"{args.name}.cvmodel"
    loaded = load_bundle(path)
    model, manifest = loaded.model, loaded.manifest
    manifest.evidence, manifest.calibration = None, None
    k = manifest.num_classes

    builtin.log(f"simulating {N_STACK} patterns (seed {STACK_SEED}) to fit the stack")
    views, labels, features, _ = simulate(
        recipe, manifest, args.method, STACK_SEED, N_STACK, args.workers
    )
    logits, _ = model_outputs(model, views)
    stack = fit_evidence_stack(args.method, logits, features, labels)

    n_held = recipe.n_heldout
    builtin.log(f"simulating {n_held} held-out patterns (seed {builtin.HELDOUT_SEED})")
    held_views, held_y, held_features, conditions = simulate(
        recipe, manifest, args.method, builtin.HELDOUT_SEED, n_held, args.workers
    )
    held_logits, held_pooled = model_outputs(model, held_views)
    stacked_logits = stack.apply(held_logits, held_features)
    network = held_logits.argmax(axis=1)
    stacked = stacked_logits.argmax(axis=1)
    gated_off = float(np.mean(np.all(stacked_logits == held_logits, axis=1)))

    manifest.evidence = stack.to_dict()
    save_bundle(path, model, manifest, model_card=None)
    builtin.log("calibrating on the stacked logits")
    calibration = calibrate_bundle_on_simulation(path, workers=args.workers)

    report = dict(manifest.provenance)
    report.pop("independent", None)  # measured without the stack: run evaluate.py again
    report["evidence"] = {
        "method": args.method,
        "seed": STACK_SEED,
        "n": N_STACK,
        "heldout_network": float(np.mean(network == held_y)),
        "heldout_stacked": float(np.mean(stacked == held_y)),
        "heldout_without_net": gated_off,
        "network_confusion_matrix": confusion(held_y, network, k),
    }
    report["heldout_accuracy"] = float(np.mean(stacked == held_y))
    report["confusion_matrix"] = confusion(held_y, stacked, k)
    report["heldout_breakdown"] = builtin.breakdown(conditions, stacked == held_y)
    report["calibration"] = calibration.to_dict()
    report["calibration_heldout"] = evaluate_calibration(
        calibration, stacked_logits, held_y, held_pooled
    )
    report["seconds_evidence"] = time.perf_counter() - started
    final = load_bundle(path)
    final.manifest.provenance = report
    card = builtin.model_card(args.name, recipe, final.manifest, report)
    save_bundle(path, final.model, final.manifest, model_card=card)
    (args.out / f"{args.name}.md").write_text(card, encoding="utf-8")
    builtin.log(
        f"held-out: network {100 * report['evidence']['heldout_network']:.1f} %, "
        f"stacked {100 * report['heldout_accuracy']:.1f} %"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
