"""Thumbnail speed on a 16k x 16k TIFF: the fast path against a full decode, same run.

Run by hand: ``.venv/bin/python benchmarks/bench_io.py``. Writes ~256 MiB (uncompressed) and
a deflate-compressed copy with a reduced-resolution level into a temporary folder.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import tifffile

from crystalview.io import open_image, read_thumbnail

SIZE = 16384


def _timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def main() -> None:
    rng = np.random.default_rng(0)
    row = rng.integers(0, 255, SIZE, dtype=np.uint8)
    with tempfile.TemporaryDirectory() as folder:
        plain = Path(folder) / "plain.tif"
        pyramid = Path(folder) / "pyramid.tif"
        image = np.broadcast_to(row, (SIZE, SIZE))
        tifffile.imwrite(plain, image)
        with tifffile.TiffWriter(pyramid, bigtiff=True, ome=True) as writer:
            writer.write(image, subifds=1, tile=(512, 512), compression="zlib")
            writer.write(image[::32, ::32], subfiletype=1, tile=(512, 512), compression="zlib")
        for name, path in (("uncompressed", plain), ("pyramid+deflate", pyramid)):
            full = _timed(lambda path=path: open_image(path, timeout_s=None))
            thumb = _timed(lambda path=path: read_thumbnail(path, 256, timeout_s=None))
            print(
                f"{name:16s} full open {full:7.2f} s  thumbnail {thumb:6.3f} s  "
                f"ratio {full / thumb:6.0f}x"
            )


if __name__ == "__main__":
    main()
