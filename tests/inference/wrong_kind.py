"""Generated images that no diffraction model should read: blank, noise, real-space look-alikes.

Used by the not-this-kind tests and by the checks of ``benchmarks/image_kind/`` as images the
image-kind detector never trained on (its training look-alikes are ``recipes/lookalikes.py``):
each ``make(kind, rng, size)`` draws one image.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def make(kind: str, rng: np.random.Generator, size: int = 256) -> np.ndarray:
    """One image of ``kind`` (see `KINDS`), ``size`` x ``size`` pixels."""
    if kind == "blank":
        return np.full((size, size), rng.integers(0, 60000), dtype=np.uint16)
    if kind == "blank_offset":
        return np.full((size, size), rng.normal(), dtype=np.float32) + np.float32(
            rng.normal(0, 1e-7, (size, size))
        )
    if kind == "gauss_noise":
        return rng.normal(100, 10, (size, size)).astype(np.float32)
    if kind == "poisson_noise":
        return rng.poisson(rng.uniform(0.2, 20), (size, size)).astype(np.uint16)
    if kind == "striped_noise":
        cols = rng.normal(0, 3, size)[None, :]
        return np.rint(rng.normal(0, 2, (size, size)) + cols).astype(np.int16)
    if kind == "dark_frame":  # detector offset + read noise + a few hot pixels
        img = rng.normal(300, 5, (size, size))
        hot = rng.integers(0, size, (20, 2))
        img[hot[:, 0], hot[:, 1]] = 4000
        return img.astype(np.float32)
    if kind == "texture":  # smooth random field: grains, blobs
        s = rng.uniform(2, 20)
        f = ndimage.gaussian_filter(rng.normal(size=(size, size)), s)
        return (f - f.min()).astype(np.float32)
    if kind == "particles":  # STEM/TEM-like bright particles on a background
        img = rng.normal(50, 5, (size, size))
        yy, xx = np.indices((size, size))
        for _ in range(rng.integers(5, 40)):
            cy, cx, r = rng.uniform(0, size), rng.uniform(0, size), rng.uniform(3, 20)
            img += 150 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))
        return img.astype(np.float32)
    if kind == "fibres":  # SEM-like fibres
        img = np.zeros((size, size))
        yy, xx = np.indices((size, size))
        for _ in range(rng.integers(5, 25)):
            a = rng.uniform(0, np.pi)
            c = rng.uniform(-size, size)
            w = rng.uniform(2, 8)
            d = np.abs(np.cos(a) * xx + np.sin(a) * yy - c - size / 2)
            img += np.exp(-((d / w) ** 2))
        img = ndimage.gaussian_filter(img, 1) + rng.normal(0, 0.05, (size, size))
        return (img * 200 + 20).astype(np.float32)
    if kind == "lattice_fringes":  # HRTEM-like lattice image
        yy, xx = np.indices((size, size))
        img = np.zeros((size, size))
        for _ in range(rng.integers(1, 4)):
            a = rng.uniform(0, np.pi)
            p = rng.uniform(4, 15)
            img += np.cos(2 * np.pi * (np.cos(a) * xx + np.sin(a) * yy) / p + rng.uniform(0, 6))
        img += (
            rng.normal(0, 0.5, (size, size))
            + ndimage.gaussian_filter(rng.normal(size=(size, size)), 30) * 20
        )
        return (img - img.min()).astype(np.float32)
    if kind == "gradient":
        yy, xx = np.indices((size, size)) / size
        a, b = rng.normal(size=2)
        return (1000 + 300 * (a * xx + b * yy) + rng.normal(0, 5, (size, size))).astype(np.float32)
    raise ValueError(kind)


KINDS = [
    "blank",
    "blank_offset",
    "gauss_noise",
    "poisson_noise",
    "striped_noise",
    "dark_frame",
    "texture",
    "particles",
    "fibres",
    "lattice_fringes",
    "gradient",
]
