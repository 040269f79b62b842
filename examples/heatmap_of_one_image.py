"""Where did the network look? Save a class-activation heat map of one image.

    python examples/heatmap_of_one_image.py MODEL IMAGE OUT_DIR [--method gradcam]

Writes ``<image>_cam.png`` (the image under the heat map, with a scale bar) and
``<image>_cam.tif`` (the raw float32 map, the image's size) into OUT_DIR, for the class the
model predicts.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from crystalview.cam import compute_cam, write_cam_outputs
from crystalview.cam.names import METHODS
from crystalview.core.progress import run_to_completion
from crystalview.io import open_image
from crystalview.models.catalog import load_model, resolve_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("image")
    parser.add_argument("out_dir")
    parser.add_argument("--method", choices=METHODS, default="auto")
    args = parser.parse_args()

    loaded = load_model(resolve_model(args.model))
    micrograph = open_image(args.image)
    result = run_to_completion(compute_cam(loaded, micrograph, method=args.method))
    title = f"{result.method} for {result.class_name}"
    png, tiff = write_cam_outputs(
        args.out_dir, Path(args.image).stem, micrograph.image, result.heatmap, micrograph, title
    )
    print(f"{result.class_name} ({result.method}, {result.n_tiles} tile(s)): {png}, {tiff}")


if __name__ == "__main__":
    main()
