"""What status a model's answers get, end to end (`predict_image`), on data of every kind.

    nice python -m benchmarks.image_kind.status_check models/saed-crystal-system.cvmodel \
        --n 150 --n-wrong 20 --independent-seed 778 --real ../shared/data

Reports, for the model's own pattern kind (fresh `crystalview.sim` seed 6001, both regimes):
how many are flagged not-this-kind (should be < 2 %), the coverage and accuracy of ``ok``
answers; for the other pattern kind and the generated wrong-kind images of
``tests/inference/wrong_kind.py``: how many are flagged not-this-kind (should be >= 95 %); with
``--independent-seed``, the same for the independent simulator's patterns of both kinds (778 is
its development draw); and, with ``--real``, the status of every readable file there.
"""

from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "inference"))

from wrong_kind import KINDS, make  # noqa: E402

from crystalview.core.progress import run_to_completion  # noqa: E402
from crystalview.inference.predict import InferenceSettings, predict_image  # noqa: E402
from crystalview.models.bundle import load_bundle  # noqa: E402
from crystalview.sim.generators import simulate_one  # noqa: E402

SIZES = {"rings": 256, "spots": 128}
SEED = 6001


def predict(loaded, image, modality=None):
    settings = InferenceSettings(device="cpu", probability_map=False)
    return run_to_completion(predict_image(loaded, image, settings, file_modality=modality))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--n", type=int, default=150, help="patterns per regime")
    parser.add_argument("--n-wrong", type=int, default=20, help="images per wrong kind")
    parser.add_argument("--real", type=Path)
    parser.add_argument(
        "--independent-seed", type=int, help="add the independent simulator's draw (778: dev)"
    )
    parser.add_argument("--n-independent", type=int, default=300)
    args = parser.parse_args()
    torch.set_num_threads(1)
    loaded = load_bundle(args.bundle)
    own = loaded.manifest.expected_pattern_kind
    other = {"rings": "spots", "spots": "rings"}[own]
    classes = loaded.manifest.classes
    rows = []
    for regime in ("train", "heldout"):
        for i in range(args.n):
            sample = simulate_one(own, i, SIZES[own], SEED, regime)
            p = predict(loaded, sample.image)
            rows.append((f"own-{regime}", p, classes.index(sample.label)))
    for i in range(args.n):
        rows.append(
            (
                f"other-{other}",
                predict(loaded, simulate_one(other, i, SIZES[other], SEED).image),
                -1,
            )
        )
    if args.independent_seed is not None:
        from benchmarks.independent_sim.evaluate import load_set

        for kind, n in (("rings", 600), ("spots", 500)):
            images, labels, _ = load_set(kind, n, args.independent_seed)
            group = "independent-own" if kind == own else f"independent-{kind}"
            for image, label in zip(images[: args.n_independent], labels, strict=False):
                truth = classes.index(label) if kind == own and label in classes else -1
                rows.append((group, predict(loaded, image), truth))
    rng = np.random.default_rng(SEED)
    for kind in KINDS:
        for _ in range(args.n_wrong):
            image = make(kind, rng, int(rng.choice([128, 256, 400])))
            rows.append((f"wrong-{kind}", predict(loaded, image), -1))
    groups = collections.defaultdict(list)
    for group, p, label in rows:
        groups[group].append((p, label))
    print(f"model {loaded.name}: calibrated={loaded.manifest.calibration is not None}")
    for group, items in groups.items():
        statuses = collections.Counter(p.status for p, _ in items)
        line = f"{group:22s} n={len(items):4d} " + ", ".join(
            f"{s} {100 * c / len(items):.1f} %" for s, c in sorted(statuses.items())
        )
        if group in ("own-train", "own-heldout", "independent-own"):
            right = [p.class_names.index(p.label) == label for p, label in items]
            ok = [r for (p, _), r in zip(items, right, strict=True) if p.status == "ok"]
            line += f"; accuracy {100 * np.mean(right):.1f} %"
            if ok:
                line += f", ok answers right {100 * np.mean(ok):.1f} %"
        print(line)
    own_groups = ("own-train", "own-heldout", "independent-own")
    wrong = [p for g, p, _ in rows if g not in own_groups]
    own_rows = [p for g, p, _ in rows if g in own_groups[:2]]
    caught = np.mean([p.status == "not-this-kind" for p in wrong])
    flagged = np.mean([p.status == "not-this-kind" for p in own_rows])
    print(
        f"wrong kind flagged not-this-kind: {100 * caught:.1f} %; own kind: {100 * flagged:.1f} %"
    )
    if args.real:
        from crystalview.io import find_images, open_image

        for path in find_images([args.real]).files:
            try:
                micrograph = open_image(path)
                p = predict(loaded, micrograph.image, micrograph.modality)
            except Exception as error:  # a report, not a reader test
                print(f"{path.relative_to(args.real)}: error {error}")
                continue
            print(
                f"{micrograph.modality:8s} {path.relative_to(args.real)!s:60s} {p.status:14s} "
                f"{p.label} {p.confidence:.2f} ({p.image_kind}; {p.status_reason})"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
