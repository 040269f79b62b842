"""Fit (and check) the two small logistic models of `crystalview.inference.image_kind`.

    nice python benchmarks/image_kind/fit_detector.py --n 250 --n-wrong 40      # fit, seed 7101
    nice python benchmarks/image_kind/fit_detector.py --check --seed 7102      # check only

Positives are `crystalview.sim` ring and spot patterns (both regimes), negatives the generated
wrong-kind images of ``tests/inference/wrong_kind.py`` (blank, noise, striped and dark frames,
textures, particles, fibres, lattice fringes, gradients). The fit prints the coefficients to
paste into `image_kind.py`; ``--check`` prints the flag rates of the shipped coefficients on
a fresh seed, and, with ``--real DIR``, what every readable file under DIR gets.
"""

from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "inference"))

from wrong_kind import KINDS, make  # noqa: E402

from crystalview.inference import image_kind  # noqa: E402
from crystalview.sim.generators import simulate_one  # noqa: E402


def measure(seed: int, n: int, n_wrong: int) -> list[tuple[str, image_kind.ImageKind]]:
    rows = []
    rng = np.random.default_rng(seed)
    for kind, size in (("rings", 256), ("spots", 128)):
        for regime in ("train", "heldout"):
            for i in range(n):
                image = simulate_one(kind, i, size, seed, regime).image
                rows.append((f"sim-{kind}", image_kind.measure_image_kind(image)))
    for kind in KINDS:
        for _ in range(n_wrong):
            image = make(kind, rng, int(rng.choice([128, 256, 400])))
            rows.append((f"wrong-{kind}", image_kind.measure_image_kind(image)))
    return rows


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-3) -> tuple[np.ndarray, float]:
    """Class-balanced L2 logistic regression; weights on the raw features and the bias."""
    mu, sd = x.mean(0), x.std(0) + 1e-12
    z = np.c_[(x - mu) / sd, np.ones(len(x))]
    weight = (1 - y.mean()) / y.mean()

    def loss(w):
        t = z @ w
        data = np.logaddexp(0, -t) * y * weight + np.logaddexp(0, t) * (1 - y)
        return data.mean() + l2 * (w[:-1] ** 2).sum()

    w = minimize(loss, np.zeros(z.shape[1]), method="L-BFGS-B").x
    a = w[:-1] / sd
    return a, float(w[-1] - (mu * a).sum())


def report(rows) -> None:
    groups = collections.defaultdict(collections.Counter)
    for group, look in rows:
        groups[group][look.kind] += 1
    for group, counts in groups.items():
        total = sum(counts.values())
        text = ", ".join(f"{k} {100 * v / total:.0f} %" for k, v in counts.most_common())
        print(f"{group:24s} n={total:4d}  {text}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7101)
    parser.add_argument("--n", type=int, default=250, help="patterns per kind and regime")
    parser.add_argument("--n-wrong", type=int, default=40, help="images per wrong kind")
    parser.add_argument("--check", action="store_true", help="only report the shipped rules")
    parser.add_argument("--real", type=Path, help="also report every readable file under this")
    args = parser.parse_args()
    rows = [(g, k) for g, k in measure(args.seed, args.n, args.n_wrong) if k.kind != "blank"]
    if not args.check:
        usable = [(g, k) for g, k in rows if k.kind not in ("tiny", "noise")]
        x = np.array([image_kind.diffraction_features(k) for _, k in usable])
        y = np.array([g.startswith("sim") for g, _ in usable], dtype=float)
        print("DIFFRACTION_WEIGHTS, DIFFRACTION_BIAS =", fit_logistic(x, y))
        sims = [(g, k) for g, k in usable if g.startswith("sim")]
        x = np.array([image_kind.ring_features(k) for _, k in sims])
        y = np.array([g == "sim-rings" for g, _ in sims], dtype=float)
        print("RING_WEIGHTS, RING_BIAS =", fit_logistic(x, y))
    report(rows)
    if args.real:
        from crystalview.io import find_images, open_image

        for path in find_images([args.real]).files:
            try:
                micrograph = open_image(path)
            except Exception as error:  # a report, not a reader test
                print(f"{path}: unreadable ({error})")
                continue
            look = image_kind.measure_image_kind(micrograph.image)
            print(f"{micrograph.modality:8s} {path.relative_to(args.real)}: {look.kind}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
