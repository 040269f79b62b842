"""Classify every image in a folder with a model and print one CSV row per image.

    python examples/classify_folder.py MODEL FOLDER [--tile-size PX]

MODEL is a built-in or user model name or a ``.cvmodel`` file. Large images are classified tile
by tile, and the image's answer is the mean of its tiles; files that cannot be read are reported
and skipped.
"""

from __future__ import annotations

import argparse
import csv
import sys

from crystalview.core.progress import run_to_completion
from crystalview.inference.predict import predict_paths
from crystalview.inference.settings import InferenceSettings
from crystalview.models.catalog import load_model, resolve_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("folder")
    parser.add_argument("--tile-size", type=int, default=None, help="model pixels per tile")
    args = parser.parse_args()

    loaded = load_model(resolve_model(args.model))
    settings = InferenceSettings(tile_size=args.tile_size, probability_map=False)
    results = run_to_completion(predict_paths(loaded, [args.folder], settings))

    writer = csv.writer(sys.stdout)
    writer.writerow(["file", "label", "confidence", "tiles"])
    for result in results:
        if result.prediction is None:
            print(f"skipped {result.path}: {result.error}", file=sys.stderr)
            continue
        p = result.prediction
        writer.writerow([result.path.name, p.label, f"{p.confidence:.3f}", p.n_tiles])


if __name__ == "__main__":
    main()
