"""Open microscope images and look at what CrystalView read from them.

    python examples/open_and_inspect.py IMAGE [IMAGE ...]

Every reader (TIFF, DM3/DM4, EMD, SER, MRC, PNG…) returns a `Micrograph`: the pixels in their
original type, the pixel size with its unit (or None when the file does not say), the modality
and the instrument facts.
"""

from __future__ import annotations

import argparse

import numpy as np

from crystalview.core.units import format_pixel_size
from crystalview.io import open_image


def describe(path: str) -> str:
    micrograph = open_image(path)
    image = micrograph.image
    scale = format_pixel_size(micrograph.pixel_size, micrograph.pixel_unit)
    return (
        f"{path}: {micrograph.shape[1]} x {micrograph.shape[0]} px, {image.dtype}, "
        f"{micrograph.modality}, {scale}, values {np.nanmin(image):g} to {np.nanmax(image):g}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("images", nargs="+")
    for path in parser.parse_args().images:
        print(describe(path))


if __name__ == "__main__":
    main()
