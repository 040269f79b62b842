"""What the image-kind detector says of patterns and non-patterns it was not trained on.

    nice python -m benchmarks.image_kind.check_detector --real ../shared/data
    nice python -m benchmarks.image_kind.check_detector --detector /tmp/other.safetensors

Groups: fresh `crystalview.sim` patterns (seed 7102; the detector trained on seed 31), the
independent simulator's patterns (``--seed``, 778 by default: the development draw; 777 is for
finished detectors), the test suite's wrong-kind images (a generator the detector never saw)
and, with ``--real``, every readable file there. For each model kind it prints how many of its
own patterns would be flagged not-this-kind by the look alone (target < 2 %) and how many of
the other kinds (target >= 95 %).
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "inference"))

from wrong_kind import KINDS, make  # noqa: E402

from benchmarks.independent_sim.evaluate import load_set  # noqa: E402
from crystalview.inference.image_kind import ImageKind, measure_image_kind  # noqa: E402
from crystalview.inference.kind_net import load_detector, shipped_detector  # noqa: E402
from crystalview.inference.status import kind_mismatch  # noqa: E402
from crystalview.models.bundle import load_bundle  # noqa: E402
from crystalview.models.manifest import ModelManifest  # noqa: E402
from crystalview.paths import builtin_models_dir  # noqa: E402
from crystalview.sim.generators import simulate_one  # noqa: E402

SIM_SEED = 7102
WRONG_SEED = 7103
INDEPENDENT_N = {"rings": 600, "spots": 500}


# The shipped models whose `kind_mismatch` decides, by the pattern kind they read.
MODELS = {"rings": "saed-crystal-system.cvmodel", "spots": "saed-zone-lattice.cvmodel"}


def shipped_manifests() -> dict[str, ModelManifest]:
    return {
        kind: load_bundle(builtin_models_dir() / name).manifest for kind, name in MODELS.items()
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detector", type=Path, help="weights to check (default: shipped)")
    parser.add_argument("--seed", type=int, default=778, help="independent simulator's draw")
    parser.add_argument("--n-sim", type=int, default=200)
    parser.add_argument("--n-wrong", type=int, default=30)
    parser.add_argument("--real", type=Path)
    parser.add_argument(
        "--json", type=Path, help="also write the flag rates (for train_builtin --image-kind)"
    )
    args = parser.parse_args()
    detector = load_detector(args.detector) if args.detector else shipped_detector()
    print(f"thresholds: {detector.thresholds}")
    groups: dict[str, list[ImageKind]] = collections.defaultdict(list)
    for kind, size in (("rings", 256), ("spots", 128)):
        for i in range(args.n_sim):
            image = simulate_one(kind, i, size, SIM_SEED, ("train", "heldout")[i % 2]).image
            groups[f"sim-{kind}"].append(measure_image_kind(image, detector))
    for kind, n in INDEPENDENT_N.items():
        images, _, _ = load_set(kind, n, args.seed)
        groups[f"independent-{kind}"] = [measure_image_kind(im, detector) for im in images]
    rng = np.random.default_rng(WRONG_SEED)
    for kind in KINDS:
        for _ in range(args.n_wrong):
            image = make(kind, rng, int(rng.choice([128, 256, 400])))
            groups[f"wrong-{kind}"].append(measure_image_kind(image, detector))
    for group, looks in groups.items():
        counts = collections.Counter(look.kind for look in looks)
        text = ", ".join(f"{k} {100 * v / len(looks):.1f} %" for k, v in counts.most_common())
        print(f"{group:24s} n={len(looks):4d}  {text}")
    manifests = shipped_manifests()
    summary = {"seed": args.seed, "thresholds": vars(detector.thresholds), "models": {}}
    for model in ("rings", "spots"):
        other = {"rings": "spots", "spots": "rings"}[model]
        flags = {
            name: [kind_mismatch(manifests[model], look) is not None for look in looks]
            for name, looks in groups.items()
        }
        rates = {name: float(np.mean(f)) for name, f in flags.items()}
        wrong = [f for name, fs in flags.items() if name.startswith("wrong") for f in fs]
        summary["models"][model] = {
            "own_sim": rates[f"sim-{model}"],
            "own_independent": rates[f"independent-{model}"],
            "other_sim": rates[f"sim-{other}"],
            "other_independent": rates[f"independent-{other}"],
            "wrong_kind": float(np.mean(wrong)),
            "n_wrong_kind": len(wrong),
            "n_independent": {k: len(groups[f"independent-{k}"]) for k in ("rings", "spots")},
            "by_wrong_kind": {g[6:]: r for g, r in rates.items() if g.startswith("wrong-")},
        }
        row = summary["models"][model]
        print(
            f"{model} model: own patterns flagged sim {100 * row['own_sim']:.1f} %, independent "
            f"{100 * row['own_independent']:.1f} %; {other} flagged sim "
            f"{100 * row['other_sim']:.1f} %, independent {100 * row['other_independent']:.1f} %;"
            f" wrong-kind images flagged {100 * row['wrong_kind']:.1f} %"
        )
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1))
    if args.real:
        from crystalview.io import find_images, open_image

        for path in find_images([args.real]).files:
            try:
                micrograph = open_image(path)
            except Exception as error:  # a report, not a reader test
                print(f"{path}: unreadable ({error})")
                continue
            look = measure_image_kind(micrograph.image, detector)
            print(
                f"{micrograph.modality:8s} {path.relative_to(args.real)!s:64s} {look.kind:12s} "
                f"rings {look.p_rings:.2f} spots {look.p_spots:.2f} other {look.p_other:.2f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
