"""Evaluate SAED bundles on the independent validation set (never used for training).

Seed 777 (the default) is the draw the model cards report and is run only on finished bundles;
seed 778 (``--seed 778``) is the development draw that front-end and training variants may be
compared on, so that choosing among them never touches the reported draw.

    nice python -m benchmarks.independent_sim.evaluate --kind rings --n 600 \\
        --bundle models/saed-crystal-system.cvmodel --json /tmp/independent-rings.json

The patterns come from `benchmarks.independent_sim.simulate` (seed 777 unless told), are cached
as an ``.npz`` of images plus a JSON of labels and conditions (no pickles; keyed by the
generator's source), and go through the product's own preprocessing (`prepare_whole` for the
bundle's manifest), so the number is what a user would get. Reported: accuracy overall, by
structure family, and by condition (beam stop, dose, spottiness, export, partial pattern,
whether the prototype was in training), the share of patterns the image look
(`crystalview.inference.image_kind`) would answer not-this-kind, plus the calibrated status
numbers when the bundle carries a calibration (an answer flagged not-this-kind is not `ok`
there).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import sys
from pathlib import Path

import numpy as np

from benchmarks.independent_sim.simulate import RING_LABELS, SPOT_LABELS, one

CACHE = Path(__file__).resolve().parent / "cache"
DEFAULT_SEED = 777
# A set is cached under a digest of the generator's own source, so that a corrected structure
# or camera never leaves a stale draw in use.
_GENERATOR_SOURCES = ("simulate.py", "structures.py")


def _generator_digest() -> str:
    digest = hashlib.sha256()
    for name in _GENERATOR_SOURCES:
        digest.update((Path(__file__).resolve().parent / name).read_bytes())
    return digest.hexdigest()[:12]


def _one(job):
    kind, index, seed = job
    pattern = one(kind, index, seed)
    return pattern.image, pattern.label, pattern.meta


def load_set(kind: str, n: int, seed: int = DEFAULT_SEED, workers: int = 1):
    """Images, labels and conditions of the first ``n`` patterns (cached on disk)."""
    CACHE.mkdir(exist_ok=True)
    stem = CACHE / f"{kind}-seed{seed}-n{n}-{_generator_digest()}"
    if stem.with_suffix(".npz").is_file() and stem.with_suffix(".json").is_file():
        arrays = np.load(stem.with_suffix(".npz"), allow_pickle=False)
        info = json.loads(stem.with_suffix(".json").read_text())
        images = [arrays[f"image_{i}"] for i in range(n)]
        return images, info["labels"], info["meta"]
    jobs = [(kind, i, seed) for i in range(n)]
    if workers > 1:
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            results = pool.map(_one, jobs, chunksize=8)
    else:
        results = [_one(j) for j in jobs]
    images = [r[0] for r in results]
    labels = [r[1] for r in results]
    meta = [r[2] for r in results]
    np.savez_compressed(
        stem.with_suffix(".npz"), **{f"image_{i}": im for i, im in enumerate(images)}
    )
    stem.with_suffix(".json").write_text(json.dumps({"labels": labels, "meta": meta}))
    return images, labels, meta


def model_logits(bundle_path: Path, images, tta: bool = False):
    """Logits and pooled features of a bundle on raw images, through `prepare_whole` (and the
    bundle's evidence stack, `crystalview.inference.evidence`, when it has one)."""
    import torch

    from crystalview.inference.evidence import model_evidence
    from crystalview.inference.preprocess import prepare_whole
    from crystalview.models.bundle import load_bundle

    loaded = load_bundle(bundle_path)
    model, manifest = loaded.model, loaded.manifest
    model.eval()
    views = np.stack([prepare_whole(np.asarray(im), manifest) for im in images])[:, None]
    x = torch.from_numpy(views.astype(np.float32))
    logits, features = [], []
    with torch.inference_mode():
        for i in range(0, len(x), 128):
            batch = x[i : i + 128]
            fmap = model.forward_features(batch)
            out = model.forward_head(fmap)
            if tta and manifest.normalization.get("transform") == "polar_autocorrelation":
                flipped = batch.flip(2)
                out = (out + model(flipped)) / 2
            logits.append(out.numpy())
            features.append(fmap.mean(dim=(2, 3)).numpy())
    logits = np.concatenate(logits)
    stack = model_evidence(manifest)
    if stack is not None:
        logits = stack.apply(logits, np.stack([stack.measure(im) for im in images]))
    return logits, np.concatenate(features), manifest


def look_flags(images, manifest) -> tuple[np.ndarray, np.ndarray]:
    """Which patterns the product's image look would answer not-this-kind for this model, and
    which it would hold unsure whatever the model's probability."""
    from crystalview.inference.image_kind import measure_image_kind
    from crystalview.inference.status import kind_doubt, kind_mismatch

    looks = [measure_image_kind(im) for im in images]
    flagged = np.array([kind_mismatch(manifest, look) is not None for look in looks])
    doubted = np.array([kind_doubt(manifest, look) is not None for look in looks])
    return flagged, doubted & ~flagged


def _bucket(meta: dict, kind: str) -> dict[str, str]:
    dose = meta["dose"]
    out = {
        "beam stop": meta["beam_stop"],
        "dose": "< 30" if dose < 30 else ("30-300" if dose < 300 else ">= 300"),
        "export": meta["export"],
        "partial pattern": "yes" if meta.get("partial") else "no",
        "prototype in training": "yes" if meta["seen_prototype"] else "no",
        "amorphous film": "yes" if meta.get("amorphous") else "no",
    }
    if kind == "rings":
        s = meta["spottiness"]
        out["spottiness"] = "smooth" if s == 0 else ("some (< 0.6)" if s < 0.6 else "spotty")
    return out


def summarise(labels, meta, predicted, classes, kind) -> dict:
    truth = np.array([classes.index(label) for label in labels])
    correct = predicted == truth
    report = {"n": len(truth), "accuracy": float(correct.mean())}
    k = len(classes)
    matrix = np.zeros((k, k), dtype=int)
    np.add.at(matrix, (truth, predicted), 1)
    report["confusion_matrix"] = matrix.tolist()
    by_family: dict[str, list] = {}
    for m, ok in zip(meta, correct, strict=True):
        by_family.setdefault(m["family"], []).append(bool(ok))
    report["by_family"] = {f: [len(v), float(np.mean(v))] for f, v in sorted(by_family.items())}
    conditions: dict[str, dict[str, list]] = {}
    for m, ok in zip(meta, correct, strict=True):
        for name, value in _bucket(m, kind).items():
            conditions.setdefault(name, {}).setdefault(value, []).append(bool(ok))
    report["by_condition"] = {
        name: {v: [len(x), float(np.mean(x))] for v, x in sorted(values.items())}
        for name, values in conditions.items()
    }
    return report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=["rings", "spots"], required=True)
    parser.add_argument("--bundle", type=Path, action="append", required=True)
    parser.add_argument("--n", type=int, default=600)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--tta", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    images, labels, meta = load_set(args.kind, args.n, args.seed, args.workers)
    classes = list(RING_LABELS if args.kind == "rings" else SPOT_LABELS)
    results = {}
    for bundle in args.bundle:
        logits, features, manifest = model_logits(bundle, images, args.tta)
        names = list(manifest.classes)
        order = [names.index(c) for c in classes]
        predicted = logits[:, order].argmax(1)
        report = summarise(labels, meta, predicted, classes, args.kind)
        flagged, doubted = look_flags(images, manifest)
        report["look_flagged"] = float(flagged.mean())
        report["look_unsure"] = float(doubted.mean())
        calibration = getattr(manifest, "calibration", None)
        if calibration:
            from crystalview.inference.calibration import Calibration, evaluate_calibration

            truth = np.array([classes.index(x) for x in labels])
            report["calibration"] = evaluate_calibration(
                Calibration.from_dict(calibration),
                logits[:, order],
                truth,
                features,
                flagged,
                doubted,
            )
        results[str(bundle)] = report
        print(
            f"{bundle}: {100 * report['accuracy']:.1f} % of {report['n']}, "
            f"{100 * report['look_flagged']:.1f} % flagged not-this-kind by the image look",
            file=sys.stderr,
        )
        for fam, (n, acc) in report["by_family"].items():
            print(f"  {fam:22s} {n:4d} {100 * acc:5.1f} %", file=sys.stderr)
        for name, values in report["by_condition"].items():
            print(
                f"  {name}: "
                + ", ".join(f"{v} {100 * a:.0f} % ({n})" for v, (n, a) in values.items()),
                file=sys.stderr,
            )
    text = json.dumps(results, indent=1)
    if args.json:
        args.json.write_text(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
