"""How much the spot net's geometry (`crystalview.inference.spot_lattice`) tells the zone lattice.

Run by hand (minutes; prints to stderr, ``--json PATH`` writes the numbers):

    nice -n 10 python -m benchmarks.independent_sim.spot_geometry --json /tmp/spotgeo.json

Four classifiers, each fitted on OUR simulator only (`crystalview.sim.generators.simulate_one`,
``regime="heldout"``, seed 5001, the calibration draw of the shipped recipe, at the recipe's
128 px) and scored on our held-out draw (seed 1001, the zone model's card) and on the
independent generator's development draw (seed 778; seed 777 is the reported draw and is never
touched here):

- ``rule``: what a crystallographer does: the highest symmetry whose metric conditions hold
  within a tolerance (several tolerances reported, none fitted);
- ``features``: a multinomial logistic regression on `spot_lattice_features`;
- ``cnn``: the shipped bundle ``models/saed-zone-lattice.cvmodel`` alone;
- ``stacked``: a logistic regression on the CNN's logits and the geometric features.

The logistic regression is written here in numpy + scipy (L-BFGS on the L2-penalised
cross-entropy of standardised inputs), since scikit-learn is not a dependency. Simulated
images, features and logits are cached under ``--cache`` (npz, no pickles).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.independent_sim.simulate import SPOT_LABELS

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "models" / "saed-zone-lattice.cvmodel"
SIM_SIZE = 128  # the zone recipe's sim_size (recipes/train_builtin.py)
FIT = ("heldout", 5001, 2000)
HELDOUT = ("heldout", 1001, 1000)
DEV_SEED, DEV_N = 778, 500
CLASSES = list(SPOT_LABELS)
DIGEST = ""  # of the feature module, set by `main` when it imports it


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def our_set(cache: Path, regime: str, seed: int, n: int) -> tuple[list[np.ndarray], list[str]]:
    from crystalview.sim.generators import simulate_one

    path = cache / f"ours-{regime}-{seed}-{n}-{SIM_SIZE}.npz"
    if path.is_file():
        data = np.load(path, allow_pickle=False)
        return list(data["images"]), [str(x) for x in data["labels"]]
    images, labels = [], []
    for i in range(n):
        sample = simulate_one("spots", i, SIM_SIZE, seed, regime)
        images.append(sample.image)
        labels.append(sample.label)
    np.savez_compressed(path, images=np.stack(images), labels=np.array(labels))
    return images, labels


def _module_digest() -> str:
    """Digest of the feature module's source, read when it is imported (`main`)."""
    import crystalview.inference.spot_lattice as module

    return hashlib.sha256(Path(module.__file__).read_bytes()).hexdigest()[:12]


def features_of(cache: Path, name: str, images) -> tuple[np.ndarray, float]:
    """Features of every image (cached by the module's source) and CPU seconds per image."""
    from crystalview.inference.spot_lattice import spot_lattice_features

    path = cache / f"features-{name}-{DIGEST}.npz"
    if path.is_file():
        data = np.load(path, allow_pickle=False)
        return data["features"], float(data["seconds"])
    start = time.process_time()  # CPU time: the machine may be shared
    features = np.stack([spot_lattice_features(im) for im in images])
    seconds = (time.process_time() - start) / len(images)
    np.savez_compressed(path, features=features, seconds=seconds)
    return features, seconds


def logits_of(cache: Path, name: str, images) -> np.ndarray:
    """The shipped bundle's logits in `CLASSES` order (cached)."""
    from benchmarks.independent_sim.evaluate import model_logits

    digest = hashlib.sha256(BUNDLE.read_bytes()).hexdigest()[:12]
    path = cache / f"logits-{name}-{digest}.npz"
    if path.is_file():
        return np.load(path, allow_pickle=False)["logits"]
    logits, _, manifest = model_logits(BUNDLE, images)
    order = [list(manifest.classes).index(c) for c in CLASSES]
    logits = logits[:, order]
    np.savez_compressed(path, logits=logits)
    return logits


class LogisticRegression:
    """Multinomial logistic regression on standardised inputs (`fit_logistic`, the fit of the
    product's evidence stack)."""

    def __init__(self, l2: float = 1e-2):
        self.l2 = l2

    def fit(self, x: np.ndarray, y: np.ndarray) -> LogisticRegression:
        from crystalview.inference.evidence import fit_logistic

        self.mean = x.mean(axis=0)
        self.scale = x.std(axis=0) + 1e-9
        self.w, self.b = fit_logistic((x - self.mean) / self.scale, y, len(CLASSES), self.l2)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return (((x - self.mean) / self.scale) @ self.w + self.b).argmax(axis=1)


class SmallMLP:
    """One hidden layer of 32, weight decay, full-batch Adam (torch); settings fixed a priori.

    A linear stacker cannot form "metric condition met AND intensity symmetric" itself; this
    checks whether a non-linear one gains over it.
    """

    def fit(self, x: np.ndarray, y: np.ndarray, epochs: int = 400) -> SmallMLP:
        import torch

        torch.manual_seed(0)
        self.mean, self.scale = x.mean(axis=0), x.std(axis=0) + 1e-9
        z = torch.from_numpy(((x - self.mean) / self.scale).astype(np.float32))
        target = torch.from_numpy(y)
        self.net = torch.nn.Sequential(
            torch.nn.Linear(x.shape[1], 32), torch.nn.ReLU(), torch.nn.Linear(32, len(CLASSES))
        )
        optimiser = torch.optim.Adam(self.net.parameters(), lr=1e-2, weight_decay=1e-3)
        for _ in range(epochs):
            optimiser.zero_grad()
            loss = torch.nn.functional.cross_entropy(self.net(z), target)
            loss.backward()
            optimiser.step()
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        import torch

        z = torch.from_numpy(((x - self.mean) / self.scale).astype(np.float32))
        with torch.no_grad():
            return self.net(z).argmax(dim=1).numpy()


def rule(features: np.ndarray, tolerance: float) -> np.ndarray:
    """Highest symmetry whose mirror conditions hold within ``tolerance``; oblique otherwise.

    Each special net has perpendicular lattice vectors (a mirror line): rectangular a ⊥ b,
    centred a ⊥ 2b - a or (a + b) ⊥ (a - b), square both of the first and the last, hexagonal
    both of the last two. Without a net the answer is oblique (no condition to meet).
    """
    from crystalview.inference.spot_lattice import SPOT_FEATURE_NAMES

    f = {name: features[:, i] for i, name in enumerate(SPOT_FEATURE_NAMES)}
    right = f["perp_ab"] < tolerance
    centred = f["perp_centred"] < tolerance
    rhombic = f["perp_rhombic"] < tolerance
    out = np.full(len(features), CLASSES.index("oblique"))
    out[centred | rhombic] = CLASSES.index("centered_rectangular")
    out[right] = CLASSES.index("rectangular")
    out[centred & rhombic] = CLASSES.index("hexagonal")
    out[right & rhombic] = CLASSES.index("square")
    out[f["found"] == 0] = CLASSES.index("oblique")
    return out


def score(predicted: np.ndarray, truth: np.ndarray) -> dict:
    by_class = {c: float(np.mean(predicted[truth == i] == i)) for i, c in enumerate(CLASSES)}
    matrix = np.zeros((len(CLASSES), len(CLASSES)), dtype=int)
    np.add.at(matrix, (truth, predicted), 1)
    return {
        "accuracy": float(np.mean(predicted == truth)),
        "by_class": by_class,
        "confusion": matrix.tolist(),
    }


def by_condition(meta: list[dict], truth, found, predictions: dict) -> dict:
    """Accuracy of each classifier on the dev draw by beam stop, export, dose, partial, net."""
    buckets = {
        "beam stop": [m["beam_stop"] for m in meta],
        "export": [m["export"] for m in meta],
        "dose": [
            "< 30" if m["dose"] < 30 else ("30-300" if m["dose"] < 300 else ">= 300") for m in meta
        ],
        "partial": ["yes" if m.get("partial") else "no" for m in meta],
        "net found": ["yes" if f else "no" for f in found],
    }
    out: dict = {}
    for condition, values in buckets.items():
        values = np.array(values)
        out[condition] = {}
        for value in sorted(set(values)):
            rows = values == value
            out[condition][str(value)] = {"n": int(rows.sum())} | {
                name: float(np.mean(p[rows] == truth[rows])) for name, p in predictions.items()
            }
    for condition, table in out.items():
        cells = ", ".join(
            f"{v} ({t['n']}): " + " / ".join(f"{100 * t[k]:.0f}" for k in predictions)
            for v, t in table.items()
        )
        log(f"  {condition} [{' / '.join(predictions)} %]: {cells}")
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/spotgeo"))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    import torch

    from benchmarks.independent_sim.evaluate import load_set

    torch.set_num_threads(1)
    global DIGEST
    DIGEST = _module_digest()
    args.cache.mkdir(parents=True, exist_ok=True)
    sets = {}
    for name, (regime, seed, n) in (("fit", FIT), ("heldout", HELDOUT)):
        images, labels = our_set(args.cache, regime, seed, n)
        sets[name] = (images, np.array([CLASSES.index(x) for x in labels]))
    images, labels, dev_meta = load_set("spots", DEV_N, seed=DEV_SEED)
    sets["dev778"] = (images, np.array([CLASSES.index(x) for x in labels]))
    features, logits, seconds = {}, {}, {}
    for name, (images, _) in sets.items():
        features[name], seconds[name] = features_of(args.cache, name, images)
        logits[name] = logits_of(args.cache, name, images)
        found = features[name][:, 0].mean()
        ms = 1000 * seconds[name]
        log(f"{name}: {len(images)} patterns, {ms:.1f} ms CPU each, net found {found:.1%}")
    y_fit = sets["fit"][1]
    from crystalview.inference.spot_lattice import SPOT_FEATURE_NAMES

    metric = [
        i
        for i, f in enumerate(SPOT_FEATURE_NAMES)
        if not f.startswith(("corr_", "n_nodes", "evidence_"))
    ]
    models = {
        "features": (LogisticRegression().fit(features["fit"], y_fit), lambda n: features[n]),
        "metric only": (
            LogisticRegression().fit(features["fit"][:, metric], y_fit),
            lambda n: features[n][:, metric],
        ),
        "cnn+features": (
            LogisticRegression().fit(np.hstack([logits["fit"], features["fit"]]), y_fit),
            lambda n: np.hstack([logits[n], features[n]]),
        ),
        "mlp cnn+features": (
            SmallMLP().fit(np.hstack([logits["fit"], features["fit"]]), y_fit),
            lambda n: np.hstack([logits[n], features[n]]),
        ),
    }
    report: dict = {"ms_per_image": {k: 1000 * v for k, v in seconds.items()}, "results": {}}
    for name in ("heldout", "dev778"):
        truth = sets[name][1]
        results = {"cnn": score(logits[name].argmax(axis=1), truth)}
        for tolerance in (0.03, 0.05, 0.07):
            results[f"rule tol {tolerance}"] = score(rule(features[name], tolerance), truth)
        for label, (model, inputs) in models.items():
            results[label] = score(model.predict(inputs(name)), truth)
        # Where no net was found the features say nothing: the CNN alone answers.
        stacked = models["cnn+features"][0].predict(models["cnn+features"][1](name))
        found = features[name][:, SPOT_FEATURE_NAMES.index("found")] > 0
        gated = np.where(found, stacked, logits[name].argmax(axis=1))
        results["cnn+features, gated"] = score(gated, truth)
        report["results"][name] = results
        log(f"\n{name}: " + " ".join(f"{c[:6]:>7s}" for c in CLASSES))
        for label, r in results.items():
            by = " ".join(f"{100 * r['by_class'][c]:6.1f}%" for c in CLASSES)
            log(f"  {label:14s} {100 * r['accuracy']:5.1f} %   {by}")
    report["dev778_by_condition"] = by_condition(
        dev_meta,
        sets["dev778"][1],
        features["dev778"][:, SPOT_FEATURE_NAMES.index("found")] > 0,
        {
            "cnn": logits["dev778"].argmax(axis=1),
            "cnn+features": models["cnn+features"][0].predict(models["cnn+features"][1]("dev778")),
        },
    )
    text = json.dumps(report, indent=1)
    if args.json:
        args.json.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
