"""Training images for the image-kind detector that are not diffraction patterns.

Written apart from the test suite's ``tests/inference/wrong_kind.py`` (which stays a held-out
check of the detector): micrograph-like scenes a lab actually drops on a diffraction model
(grain maps, SEM particles with bright edges, nanoparticles in bright field and HAADF, fibre
mats, foams, HRTEM lattice images, atomic columns in STEM, stepped surfaces), detector frames
(noise of several spectra, flat fields, scan-line noise, a direct beam with no specimen) and
natural photographs from scikit-image's bundled samples. ``draw(rng, size)`` picks a kind at
random; ``annotate`` adds the scale bar and caption strip that exported images often carry,
and is applied to diffraction patterns too so that it is no cue.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import ndimage


def _smooth_field(rng: np.random.Generator, size: int, sigma: float) -> np.ndarray:
    field = ndimage.gaussian_filter(rng.normal(size=(size, size)), sigma)
    return field / (field.std() + 1e-12)


def _shot_noise(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    scale = rng.uniform(5, 500) / max(float(image.max()), 1e-9)
    return rng.poisson(np.maximum(image, 0) * scale).astype(np.float32)


def grains(rng: np.random.Generator, size: int) -> np.ndarray:
    n = int(rng.integers(8, 200))
    seeds = rng.uniform(0, size, (n, 2))
    yy, xx = np.indices((size, size))
    distance = (yy[..., None] - seeds[:, 0]) ** 2 + (xx[..., None] - seeds[:, 1]) ** 2
    label = distance.argmin(axis=2)
    tone = rng.uniform(0.2, 1.0, n)[label]
    edges = ndimage.morphological_gradient(label, size=3) > 0
    image = tone - 0.3 * edges * rng.uniform(0, 1) + 0.05 * _smooth_field(rng, size, 3)
    return _shot_noise(rng, ndimage.gaussian_filter(image, rng.uniform(0.3, 1.5)) + 0.3)


def sem_particles(rng: np.random.Generator, size: int) -> np.ndarray:
    yy, xx = np.indices((size, size))
    image = np.full((size, size), rng.uniform(0.05, 0.3))
    for _ in range(int(rng.integers(3, 60))):
        cy, cx = rng.uniform(0, size, 2)
        a, b = rng.uniform(2, size / 6, 2)
        angle = rng.uniform(0, np.pi)
        u = ((xx - cx) * np.cos(angle) + (yy - cy) * np.sin(angle)) / a
        v = (-(xx - cx) * np.sin(angle) + (yy - cy) * np.cos(angle)) / b
        r = np.hypot(u, v)
        inside = r < 1
        image[inside] = rng.uniform(0.3, 0.7) + 0.6 * r[inside] ** 4  # bright edges
    shading = 1 + 0.3 * (yy / size - 0.5) * rng.normal()
    return _shot_noise(rng, ndimage.gaussian_filter(image * shading, rng.uniform(0.5, 2)))


def nanoparticles(rng: np.random.Generator, size: int) -> np.ndarray:
    """TEM bright field (dark particles) or HAADF (bright ones), scattered or clustered."""
    yy, xx = np.indices((size, size))
    mass = np.zeros((size, size))
    n = int(rng.integers(3, 120))
    if rng.uniform() < 0.5:
        centres = rng.uniform(0, size, (n, 2))
    else:
        clusters = rng.uniform(0.2, 0.8, (int(rng.integers(1, 4)), 2)) * size
        pick = clusters[rng.integers(len(clusters), size=n)]
        centres = pick + rng.normal(0, size * rng.uniform(0.03, 0.15), (n, 2))
    radius = np.exp(rng.normal(np.log(rng.uniform(1.5, size / 15)), 0.4, n))
    for (cy, cx), r in zip(centres, radius, strict=True):
        lo_y, hi_y = int(max(0, cy - 3 * r)), int(min(size, cy + 3 * r + 1))
        lo_x, hi_x = int(max(0, cx - 3 * r)), int(min(size, cx + 3 * r + 1))
        if lo_y >= hi_y or lo_x >= hi_x:
            continue
        d = np.hypot(yy[lo_y:hi_y, lo_x:hi_x] - cy, xx[lo_y:hi_y, lo_x:hi_x] - cx) / r
        mass[lo_y:hi_y, lo_x:hi_x] += (
            np.sqrt(np.clip(1 - d**2, 0, 1)) if rng.uniform() < 0.6 else np.exp(-2 * d**2)
        )
    support = 0.2 + 0.05 * _smooth_field(rng, size, rng.uniform(1, 6))
    image = support + mass if rng.uniform() < 0.5 else np.maximum(1.5 - mass, 0.05) + support
    return _shot_noise(rng, ndimage.gaussian_filter(image, rng.uniform(0.3, 1.5)))


def curved_fibres(rng: np.random.Generator, size: int) -> np.ndarray:
    image = np.zeros((size, size))
    for _ in range(int(rng.integers(3, 30))):
        steps = int(size * 1.5)
        heading = rng.uniform(0, 2 * np.pi) + np.cumsum(rng.normal(0, 0.05, steps))
        y = rng.uniform(0, size) + np.cumsum(np.sin(heading))
        x = rng.uniform(0, size) + np.cumsum(np.cos(heading))
        keep = (y >= 0) & (y < size) & (x >= 0) & (x < size)
        trace = np.zeros((size, size))
        trace[y[keep].astype(int), x[keep].astype(int)] = 1
        width = rng.uniform(1, 6)
        image = np.maximum(image, ndimage.gaussian_filter(trace, width) * width * 2.5)
    return _shot_noise(rng, np.clip(image, 0, 1) + rng.uniform(0.02, 0.2))


def foam(rng: np.random.Generator, size: int) -> np.ndarray:
    field = _smooth_field(rng, size, rng.uniform(3, 15))
    solid = (field > rng.uniform(-0.5, 0.8)).astype(float)
    rim = ndimage.morphological_gradient(solid, size=3)
    return _shot_noise(rng, ndimage.gaussian_filter(0.2 + 0.5 * solid + 0.4 * rim, 1.0))


def hrtem_lattice(rng: np.random.Generator, size: int) -> np.ndarray:
    yy, xx = np.indices((size, size)).astype(float)
    period = rng.uniform(3, 20)
    first = rng.uniform(0, np.pi)
    angles = first + np.array([0, rng.choice([np.pi / 3, np.pi / 2, rng.uniform(0.6, 2.5)])])
    lattice = sum(
        np.cos(2 * np.pi * (np.cos(a) * xx + np.sin(a) * yy) / (period * rng.uniform(0.8, 1.25)))
        for a in angles
    )
    envelope = ndimage.gaussian_filter((_smooth_field(rng, size, 20) > 0).astype(float), 4)
    amorphous = _smooth_field(rng, size, 1.2)
    return _shot_noise(rng, 3 + lattice * envelope + rng.uniform(0.5, 2) * amorphous)


def stem_columns(rng: np.random.Generator, size: int) -> np.ndarray:
    spacing = rng.uniform(5, 24)
    angle = rng.uniform(0, np.pi)
    gamma = rng.choice([np.pi / 2, np.pi / 3, rng.uniform(1.2, 2.0)])
    a = spacing * np.array([np.cos(angle), np.sin(angle)])
    b = spacing * rng.uniform(0.8, 1.3) * np.array([np.cos(angle + gamma), np.sin(angle + gamma)])
    n = int(2 * size / spacing) + 2
    i, j = np.meshgrid(np.arange(-n, n), np.arange(-n, n))
    points = i.ravel()[:, None] * a + j.ravel()[:, None] * b + size / 2
    points += (
        rng.normal(0, 0.3, points.shape) + np.linspace(0, rng.normal(0, 3), len(points))[:, None]
    )
    keep = (points >= 0).all(1) & (points < size).all(1)
    image = np.zeros((size, size))
    idx = points[keep].astype(int)
    np.add.at(image, (idx[:, 0], idx[:, 1]), rng.uniform(0.5, 1.0, len(idx)))
    image = ndimage.gaussian_filter(image, spacing * rng.uniform(0.12, 0.25))
    scan = rng.normal(0, 0.05, (size, 1)) * rng.uniform(0, 1)
    return _shot_noise(rng, image / image.max() + 0.05 + scan)


def terraces(rng: np.random.Generator, size: int) -> np.ndarray:
    yy, xx = np.indices((size, size)).astype(float)
    angle = rng.uniform(0, np.pi)
    height = (np.cos(angle) * xx + np.sin(angle) * yy) / rng.uniform(6, 40)
    height += 3 * _smooth_field(rng, size, 25)
    steps = np.floor(height)
    edge = ndimage.morphological_gradient(steps, size=3) > 0
    return _shot_noise(rng, 0.4 + 0.05 * (steps % 3) + 0.5 * ndimage.gaussian_filter(edge * 1.0, 1))


def noise(rng: np.random.Generator, size: int) -> np.ndarray:
    spectrum = rng.choice(["white", "pink", "poisson"])
    if spectrum == "white":
        return rng.normal(rng.uniform(0, 1000), rng.uniform(1, 50), (size, size)).astype(np.float32)
    if spectrum == "poisson":
        return rng.poisson(rng.uniform(0.05, 30), (size, size)).astype(np.float32)
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.fftfreq(size)[None, :]
    power = 1 / np.maximum(np.hypot(fy, fx), 1 / size) ** rng.uniform(0.5, 2)
    field = np.fft.ifft2(power * np.exp(2j * np.pi * rng.uniform(size=(size, size)))).real
    return (field / field.std() * 20 + 500).astype(np.float32)


def flat_field(rng: np.random.Generator, size: int) -> np.ndarray:
    yy, xx = (np.indices((size, size)) - size * rng.uniform(0.3, 0.7, (2, 1, 1))) / size
    vignette = np.exp(-(xx**2 + yy**2) / rng.uniform(0.05, 1.0))
    tiles = np.kron(rng.uniform(0.95, 1.05, (4, 4)), np.ones((size // 4 + 1, size // 4 + 1)))
    image = 1000 * vignette * tiles[:size, :size]
    hot = rng.integers(0, size, (int(rng.integers(0, 30)), 2))
    image[hot[:, 0], hot[:, 1]] *= 5
    return _shot_noise(rng, image)


def scan_lines(rng: np.random.Generator, size: int) -> np.ndarray:
    rows = np.cumsum(rng.normal(0, 1, size))[:, None]
    image = (
        rows + rng.normal(0, rng.uniform(0.5, 5), (size, size)) + 0.5 * _smooth_field(rng, size, 8)
    )
    return (image - image.min()).astype(np.float32)


def beam_only(rng: np.random.Generator, size: int) -> np.ndarray:
    """A diffraction camera frame with the direct beam and its tail but no specimen."""
    cy, cx = size * rng.uniform(0.35, 0.65, 2)
    yy, xx = np.indices((size, size))
    r = np.hypot(yy - cy, xx - cx)
    image = 1e4 * np.exp(-((r / rng.uniform(1, 6)) ** 2)) + 50 / (1 + (r / rng.uniform(5, 40)) ** 2)
    return _shot_noise(rng, image)


@functools.cache
def _photographs() -> tuple[np.ndarray, ...]:
    from skimage import color, data

    names = ("camera", "coins", "moon", "text", "page", "horse", "clock", "coffee", "chelsea",
             "astronaut", "rocket", "grass", "gravel", "brick", "cell", "retina",
             "hubble_deep_field", "immunohistochemistry", "shepp_logan_phantom")  # fmt: skip
    images = []
    for name in names:
        image = getattr(data, name)()
        if image.ndim == 3:
            image = color.rgb2gray(image[..., :3])
        images.append(np.asarray(image, dtype=np.float32))
    return tuple(images)


def photograph(rng: np.random.Generator, size: int) -> np.ndarray:
    photos = _photographs()
    image = photos[int(rng.integers(len(photos)))]
    side = int(rng.uniform(0.4, 1.0) * min(image.shape))
    y = int(rng.integers(0, image.shape[0] - side + 1))
    x = int(rng.integers(0, image.shape[1] - side + 1))
    crop = np.rot90(image[y : y + side, x : x + side], int(rng.integers(4)))
    return ndimage.zoom(crop, size / side, order=1).astype(np.float32)


KINDS = {
    "grains": grains,
    "sem_particles": sem_particles,
    "nanoparticles": nanoparticles,
    "curved_fibres": curved_fibres,
    "foam": foam,
    "hrtem_lattice": hrtem_lattice,
    "stem_columns": stem_columns,
    "terraces": terraces,
    "noise": noise,
    "flat_field": flat_field,
    "scan_lines": scan_lines,
    "beam_only": beam_only,
    "photograph": photograph,
}


def draw(rng: np.random.Generator, size: int) -> tuple[str, np.ndarray]:
    """A random look-alike of ``size`` pixels and the name of its kind."""
    name = list(KINDS)[int(rng.integers(len(KINDS)))]
    return name, KINDS[name](rng, size)


def annotate(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """Burn in a scale bar and, sometimes, a caption strip along one edge."""
    out = np.array(image, dtype=np.float32)
    h, w = out.shape
    bright = float(np.percentile(out, 99.9)) if rng.uniform() < 0.7 else float(out.min())
    y = int(h * rng.uniform(0.85, 0.95))
    x = int(w * rng.uniform(0.05, 0.6))
    out[y : y + max(2, h // 80), x : x + int(w * rng.uniform(0.1, 0.3))] = bright
    if rng.uniform() < 0.4:
        strip = int(h * rng.uniform(0.05, 0.12))
        out[h - strip :] = float(out.min())
        glyphs = rng.uniform(size=(strip // 2, w // 4)) > 0.6
        block = np.kron(glyphs, np.ones((1, 4)))[:, :w]
        out[h - strip + strip // 4 : h - strip + strip // 4 + block.shape[0], : block.shape[1]][
            block > 0
        ] = bright
    return out
