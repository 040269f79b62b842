"""An independent SAED simulator for validation only: never for training or model selection.

Written apart from ``crystalview.sim`` from textbook kinematic theory, with its own choices at
every step, so that a model that learnt our simulator's habits does not pass by accident:

- structures: ASE (`ase.spacegroup.crystal`) expands the Wyckoff sites of `structures.ENTRIES`,
  compounds and prototypes outside the training library;
- scattering: electron form factors from X-ray ones by the Mott-Bethe formula,
  f_e(s) = (Z - f_x(s)) / (8 π² a0 s²), with the IT92 X-ray coefficients (gemmi's table),
  instead of the Peng fits the training simulator uses;
- rings: integrated ring intensity m |F|² d (one-power Lorentz factor), pseudo-Voigt radial
  profiles, an azimuthal Fourier-series texture, discrete grains for spotty rings;
- spots: the slab shape function (sin(π t s) / (π s))² of the excitation error instead of a
  Gaussian rel-rod, a tilted Ewald sphere, Gaussian or disc-shaped spots;
- camera: its own background (exponential + power law), Lorentzian direct-beam wings,
  beam stops (round stop on a tapered arm, straight bar, finger, none), blur, hot pixels,
  dark offset, saturation, 8-bit/gamma and JPEG exports, centres near the edge;
- labels of spot patterns from its own reduction of the zero-order Laue-zone net.

The only code shared with the product is none: this module imports numpy, scipy, ASE, gemmi
and PIL.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from functools import cache

import numpy as np
from scipy import ndimage

from benchmarks.independent_sim.structures import ENTRIES, Entry, build

RING_LABELS = ("cubic", "hexagonal", "orthorhombic")
SPOT_LABELS = ("square", "hexagonal", "rectangular", "centered_rectangular", "oblique")
A0 = 0.529177  # Bohr radius, Å
WAVELENGTH = 0.02508  # Å at 200 kV


@dataclass
class Pattern:
    image: np.ndarray
    label: str
    meta: dict = field(default_factory=dict)


# ---------------------------------------------------------------- kinematic theory


@cache
def _xray_coefficients(symbol: str) -> tuple[np.ndarray, np.ndarray, float, int]:
    import gemmi

    element = gemmi.Element(symbol)
    coefs = element.it92.get_coefs()  # a1..a4, b1..b4, c
    return np.array(coefs[0:4]), np.array(coefs[4:8]), float(coefs[8]), element.atomic_number


def electron_form_factor(symbol: str, s: np.ndarray) -> np.ndarray:
    """Mott-Bethe electron form factor (Å) at s = sin θ / λ (Å⁻¹)."""
    a, b, c, z = _xray_coefficients(symbol)
    s = np.maximum(np.asarray(s, dtype=float), 0.02)
    fx = (a[None, :] * np.exp(-b[None, :] * (s[:, None] ** 2))).sum(axis=1) + c
    return (z - fx) / (8.0 * np.pi**2 * A0 * s**2)


@dataclass
class Cell:
    """An ASE structure reduced to what diffraction needs."""

    matrix: np.ndarray  # rows a, b, c (Å, Cartesian)
    fractional: np.ndarray  # (M, 3)
    symbols: list[str]
    b_factor: float

    @property
    def reciprocal(self) -> np.ndarray:
        return np.linalg.inv(self.matrix).T  # rows a*, b*, c* (Å⁻¹)


def make_cell(entry: Entry, rng: np.random.Generator, strain: float) -> Cell:
    """Entry's cell with an overall scale and (where symmetry allows) independent edge changes."""
    atoms = build(entry)
    a, b, c, al, be, ga = entry.cellpar
    k = 1.0 + rng.uniform(-strain, strain)
    if entry.system == "cubic":
        a = b = c = a * k
    elif entry.system == "hexagonal":
        a = b = a * k
        c = c * k * (1.0 + rng.uniform(-strain, strain) / 2)
    else:
        a, b, c = (x * k * (1.0 + rng.uniform(-strain, strain) / 2) for x in (a, b, c))
    from ase.geometry import cellpar_to_cell

    return Cell(
        cellpar_to_cell([a, b, c, al, be, ga]),
        atoms.get_scaled_positions(wrap=True),
        atoms.get_chemical_symbols(),
        float(rng.uniform(0.3, 1.2)),
    )


def reflections(cell: Cell, g_max: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(hkl, g vectors, |F|²) of every reflection with 0 < |g| <= g_max, absences dropped."""
    lengths = np.linalg.norm(cell.matrix, axis=1)
    n = np.ceil(lengths * g_max).astype(int)
    h, k, l_ = np.meshgrid(*[np.arange(-m, m + 1) for m in n], indexing="ij")
    hkl = np.stack([h.ravel(), k.ravel(), l_.ravel()], axis=1)
    g = hkl @ cell.reciprocal
    norm = np.linalg.norm(g, axis=1)
    keep = (norm > 0) & (norm <= g_max)
    hkl, g, norm = hkl[keep], g[keep], norm[keep]
    s = norm / 2.0
    f = np.zeros(len(hkl), dtype=complex)
    phase = np.exp(2j * np.pi * hkl @ cell.fractional.T)
    damping = np.exp(-cell.b_factor * s * s)
    for symbol in set(cell.symbols):
        cols = [i for i, x in enumerate(cell.symbols) if x == symbol]
        f += electron_form_factor(symbol, s) * damping * phase[:, cols].sum(axis=1)
    intensity = np.abs(f) ** 2
    present = intensity > 1e-7 * intensity.max()
    return hkl[present], g[present], intensity[present]


# ---------------------------------------------------------------- camera


def _coordinates(size: int, centre: tuple[float, float], ellipse: tuple[float, float, float]):
    """Undistorted radius and azimuth of every pixel for an elliptically distorted camera."""
    yy, xx = np.indices((size, size), dtype=float)
    dx, dy = xx - centre[1], yy - centre[0]
    e, phi, rot = ellipse
    c, s = np.cos(phi), np.sin(phi)
    u, v = c * dx + s * dy, -s * dx + c * dy
    u, v = u / (1 + e), v / (1 - e)
    r = np.hypot(u, v)
    theta = np.arctan2(v, u) + phi - rot
    return r, theta


def _beam_stop(size, centre, rng) -> tuple[np.ndarray | None, str]:
    kind = rng.choice(["none", "round_arm", "bar", "finger"], p=[0.45, 0.25, 0.15, 0.15])
    if kind == "none":
        return None, "none"
    yy, xx = np.indices((size, size), dtype=float)
    ang = rng.uniform(0, 2 * np.pi)
    along = (xx - centre[1]) * np.cos(ang) + (yy - centre[0]) * np.sin(ang)
    across = -(xx - centre[1]) * np.sin(ang) + (yy - centre[0]) * np.cos(ang)
    w = rng.uniform(0.01, 0.03) * size
    if kind == "round_arm":
        rad = rng.uniform(0.03, 0.08) * size
        taper = rng.uniform(0.0, 0.08)
        mask = (np.hypot(along, across) < rad) | (
            (along > 0) & (np.abs(across) < w + taper * along)
        )
    elif kind == "bar":  # straight bar across the whole frame, over the beam
        mask = np.abs(across) < 1.5 * w
    else:  # rod ending in a rounded tip on the beam
        mask = ((along > 0) & (np.abs(across) < 1.3 * w)) | (np.hypot(along, across) < 1.3 * w)
    soft = ndimage.gaussian_filter(mask.astype(float), rng.uniform(0.5, 2.0))
    return 1.0 - soft * rng.uniform(0.95, 1.0), str(kind)


def _camera(signal: np.ndarray, r: np.ndarray, centre, rng, meta: dict, px_per_inv_a: float):
    """Background, direct beam, stop, detector and export: returns the saved image."""
    size = signal.shape[0]
    peak = np.percentile(signal[signal > 0], 99.5) if np.any(signal > 0) else 1.0
    signal = signal / peak
    bg = rng.uniform(0.05, 1.5) * (
        np.exp(-r / (rng.uniform(0.05, 0.3) * size))
        + rng.uniform(0.1, 0.5) / (1 + (r / (0.1 * size)) ** 2) ** 1.5
    ) + rng.uniform(0.0, 0.05)
    halo = 0.0
    if rng.random() < 0.3:  # amorphous film: Lorentzian halos at 1/2.1 and 1/1.2 Å⁻¹
        for g0, h in ((1 / 2.1, 1.0), (1 / 1.2, 0.4)):
            r0, wid = g0 * px_per_inv_a, 0.12 * g0 * px_per_inv_a
            halo = halo + h / (1 + ((r - r0) / wid) ** 2)
        halo = halo * rng.uniform(0.05, 0.5)
    beam_w = rng.uniform(0.5, 2.0) + 0.006 * size
    beam = rng.uniform(3, 50) * (np.exp(-0.5 * (r / beam_w) ** 2) + 0.02 / (1 + (r / beam_w) ** 2))
    total = signal + bg + halo + beam
    stop, stop_kind = _beam_stop(size, centre, rng)
    if stop is not None:
        total = total * stop
    dose = float(np.exp(rng.uniform(np.log(8), np.log(4000))))
    electrons = rng.poisson(np.clip(total * dose, 0, None)).astype(float)
    gain = rng.uniform(0.3, 6.0)
    counts = electrons * gain
    counts = ndimage.gaussian_filter(counts, rng.uniform(0.3, 1.2))
    counts += rng.normal(rng.uniform(0, 200), rng.uniform(0.5, 8.0), counts.shape)
    hot = rng.random(counts.shape) < rng.uniform(0, 3e-4)
    counts[hot] = counts.max()
    counts = np.clip(counts, 0, 65535)
    export = rng.choice(["16-bit", "8-bit gamma", "8-bit log", "jpeg"], p=[0.55, 0.15, 0.15, 0.15])
    if export == "16-bit":
        image = np.rint(counts).astype(np.uint16)
    else:
        x = counts - counts.min()
        x = np.log1p(x) if export in ("8-bit log", "jpeg") and rng.random() < 0.7 else x
        x = x / max(np.percentile(x, rng.uniform(99.5, 100)), 1e-9)
        if export == "8-bit gamma":
            x = np.clip(x, 0, 1) ** rng.uniform(0.3, 0.7)
        image = np.rint(np.clip(x, 0, 1) * 255).astype(np.uint8)
        if export == "jpeg":
            from PIL import Image

            buffer = io.BytesIO()
            Image.fromarray(image).save(buffer, "JPEG", quality=int(rng.integers(40, 92)))
            image = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("L"))
    meta.update(beam_stop=stop_kind, dose=dose, export=str(export), amorphous=bool(np.any(halo)))
    return image


def _centre(size: int, rng: np.random.Generator, meta: dict) -> tuple[float, float]:
    if rng.random() < 0.1:
        t, rr = rng.uniform(0, 2 * np.pi), rng.uniform(0.2, 0.32) * size
        meta["partial"] = True
        return (size - 1) / 2 + rr * np.sin(t), (size - 1) / 2 + rr * np.cos(t)
    meta["partial"] = False
    off = rng.uniform(-0.15, 0.15, 2) * size
    return (size - 1) / 2 + off[0], (size - 1) / 2 + off[1]


# ---------------------------------------------------------------- ring patterns


def ring_pattern(entry: Entry, rng: np.random.Generator) -> Pattern:
    size = int(rng.choice([256, 320, 384]))
    meta = {"family": entry.family, "structure": entry.name, "seen_prototype": entry.seen_prototype}
    cell = make_cell(entry, rng, strain=0.04)
    centre = _centre(size, rng, meta)
    ellipse = (rng.uniform(0, 0.04), rng.uniform(0, np.pi), rng.uniform(0, 2 * np.pi))
    r, theta = _coordinates(size, centre, ellipse)
    _, g, intensity = reflections(cell, 1.6)
    gn = np.linalg.norm(g, axis=1)
    # group into rings
    order = np.argsort(gn)
    gn, intensity = gn[order], intensity[order]
    starts = np.r_[True, np.diff(gn) > 1e-4 * gn[1:]]
    ring = np.cumsum(starts) - 1
    g_ring = np.bincount(ring, gn) / np.bincount(ring)
    mult = np.bincount(ring)
    integrated = np.bincount(ring, intensity) / g_ring  # m |F|² d
    integrated *= rng.lognormal(0, rng.uniform(0, 0.3), integrated.size)
    strong = integrated / g_ring > 0.03 * np.max(integrated / g_ring)
    first = g_ring[strong][0]
    px_per = rng.uniform(0.07, 0.25) * size / first  # pixels per Å⁻¹
    radius = g_ring * px_per
    width = rng.uniform(0.6, 3.0) * size / 256
    eta = rng.uniform(0, 0.8)
    rmax = r.max()
    axis = np.arange(0.0, rmax + 2.0, 0.2)
    profile = np.zeros_like(axis)
    hwhm = width * 1.1774
    for rk, ik in zip(radius, integrated, strict=True):
        if rk > rmax + 10 * width:
            break
        x = axis - rk
        gauss = np.exp(-0.5 * (x / width) ** 2) / (width * np.sqrt(2 * np.pi))
        lor = hwhm / np.pi / (x * x + hwhm * hwhm)
        profile += ik / (2 * np.pi * max(rk, 1)) * ((1 - eta) * gauss + eta * lor)
    signal = np.interp(r, axis, profile)
    # azimuthal texture as a short Fourier series
    mod = np.ones_like(theta)
    for m in (1, 2, 3, 4, 6):
        mod += rng.uniform(0, 0.15) * np.cos(m * theta + rng.uniform(0, 2 * np.pi))
    signal *= np.clip(mod, 0.1, None)
    spotty = float(rng.choice([0.0, 0.0, rng.uniform(0.3, 1.0)]))
    if spotty > 0:
        grains = rng.integers(30, 600)
        spots = np.zeros((size, size))
        share = mult / mult.sum()
        for rk, ik, sk in zip(radius, integrated, share, strict=True):
            if rk > rmax:
                break
            n = max(1, rng.poisson(grains * sk * 3))
            t = rng.uniform(0, 2 * np.pi, n)
            e, phi, rot = ellipse
            u, v = rk * np.cos(t - phi + rot) * (1 + e), rk * np.sin(t - phi + rot) * (1 - e)
            xs = centre[1] + np.cos(phi) * u - np.sin(phi) * v
            ys = centre[0] + np.sin(phi) * u + np.cos(phi) * v
            ok = (xs >= 0) & (xs < size - 1) & (ys >= 0) & (ys < size - 1)
            w = rng.gamma(1.5, 1, n) * ik / n
            np.add.at(spots, (ys[ok].astype(int), xs[ok].astype(int)), w[ok])
        spots = ndimage.gaussian_filter(spots, max(width, 0.8))
        signal = (1 - spotty) * signal + spotty * spots * (signal.sum() / max(spots.sum(), 1e-12))
    meta["spottiness"] = spotty
    image = _camera(signal, r, centre, rng, meta, px_per)
    return Pattern(image, entry.system, meta)


# ---------------------------------------------------------------- spot patterns


def _reduce2(v1, v2):
    for _ in range(100):
        if v1 @ v1 > v2 @ v2:
            v1, v2 = v2, v1
        m = np.rint((v1 @ v2) / (v1 @ v1))
        if m == 0:
            break
        v2 = v2 - m * v1
    return v1, (v2 if v1 @ v2 >= 0 else -v2)


def net_type(points: np.ndarray, exact=0.005, doubt=0.03) -> str | None:
    """Bravais type of the net of 2-D ``points``; None when pseudo-symmetric or not a net."""
    if len(points) < 6:
        return None
    p = points[np.argsort(np.hypot(points[:, 0], points[:, 1]))]
    v1 = p[0]
    cr = np.abs(p[:, 0] * v1[1] - p[:, 1] * v1[0]) / (np.hypot(*v1) * np.hypot(p[:, 0], p[:, 1]))
    others = np.flatnonzero(cr > 1e-6)
    if not others.size:
        return None
    v1, v2 = _reduce2(v1, p[others[0]])
    coeff = np.linalg.solve(np.stack([v1, v2]).T, p.T).T
    if np.abs(coeff - np.rint(coeff)).max() > 1e-3:
        return None
    la, lb = np.hypot(*v1), np.hypot(*v2)
    cosg = (v1 @ v2) / (la * lb)
    d_equal, d_right = lb / la - 1, abs(cosg)
    d_hex, d_cen = abs(cosg - 0.5), abs(2 * (v1 @ v2) / (la * la) - 1)
    if any(exact <= d < doubt for d in (d_equal, d_right, d_hex, d_cen)):
        return None
    if d_equal < exact:
        if d_right < exact:
            return "square"
        if d_hex < exact:
            return "hexagonal"
        return "centered_rectangular"
    if d_right < exact:
        return "rectangular"
    if d_cen < exact:
        return "centered_rectangular"
    return "oblique"


ZONES = [
    (0, 0, 1), (1, 0, 0), (0, 1, 0), (1, 1, 0), (1, 0, 1), (0, 1, 1), (1, 1, 1), (1, -1, 0),
    (2, 1, 0), (1, 1, 2), (0, 1, 3), (1, 2, 2), (3, 1, 0), (1, 2, 3), (2, 1, 3), (1, 3, 2),
]  # fmt: skip


def _beam_frame(cell: Cell, uvw) -> np.ndarray:
    n = np.asarray(uvw, float) @ cell.matrix
    n /= np.linalg.norm(n)
    helper = np.array([0.0, 0.0, 1.0]) if abs(n[2]) < 0.8 else np.array([1.0, 0.0, 0.0])
    e1 = np.cross(helper, n)
    e1 /= np.linalg.norm(e1)
    return np.stack([e1, np.cross(n, e1), n])


def zolz_points(cell: Cell, uvw) -> np.ndarray:
    hkl, g, inten = reflections(cell, 1.3)
    zone = hkl @ np.asarray(uvw) == 0
    g, inten = g[zone], inten[zone]
    if inten.size == 0:
        return np.empty((0, 2))
    vis = inten > 1e-3 * inten.max()
    return (g[vis] @ _beam_frame(cell, uvw).T)[:, :2]


@cache
def zone_catalogue() -> dict[str, list[tuple[int, tuple[int, int, int]]]]:
    rng = np.random.default_rng(0)
    out: dict[str, list] = {k: [] for k in SPOT_LABELS}
    for i, entry in enumerate(ENTRIES):
        cell = make_cell(entry, rng, strain=0.0)
        for uvw in ZONES:
            label = net_type(zolz_points(cell, uvw))
            if label:
                out[label].append((i, uvw))
    return out


def spot_pattern(label: str, rng: np.random.Generator) -> Pattern:
    size = int(rng.choice([128, 192, 256]))
    for _ in range(20):
        i, uvw = zone_catalogue()[label][int(rng.integers(len(zone_catalogue()[label])))]
        entry = ENTRIES[i]
        cell = make_cell(entry, rng, strain=0.03)
        pts = zolz_points(cell, uvw)
        if net_type(pts) == label:
            break
    else:
        raise RuntimeError(f"no zone keeps the label {label}")
    meta = {
        "family": entry.family,
        "structure": entry.name,
        "zone": "".join(str(v) for v in uvw),
        "seen_prototype": entry.seen_prototype,
        "spottiness": 0.0,
    }
    _, g, inten = reflections(cell, 1.3)
    frame = _beam_frame(cell, uvw)
    gl = g @ frame.T
    tilt = rng.normal(0, 1.5e-3, 2)
    k0 = 1 / WAVELENGTH
    kvec = k0 * np.array([tilt[0], tilt[1], 1.0]) / np.sqrt(1 + tilt @ tilt)
    s_exc = (k0**2 - np.sum((kvec + gl) ** 2, axis=1)) / (2 * k0)
    t = rng.uniform(50, 600)
    shape = np.sinc(t * s_exc) ** 2  # (sin π t s / π t s)²
    mosaic = rng.uniform(10, 40) * 1e-3 * np.linalg.norm(gl, axis=1) + 1.0 / t
    shape = np.maximum(shape, 0.7 * np.exp(-((s_exc / mosaic) ** 2)))
    weight = inten ** rng.uniform(0.5, 1.0) * shape
    d_min = np.min(np.hypot(pts[:, 0], pts[:, 1]))
    px_per = rng.uniform(0.06, 0.18) * size / d_min
    centre = _centre(size, rng, meta)
    e, phi, rot = rng.uniform(0, 0.03), rng.uniform(0, np.pi), rng.uniform(0, 2 * np.pi)
    c, s = np.cos(rot), np.sin(rot)
    x, y = gl[:, 0] * px_per, gl[:, 1] * px_per
    x, y = c * x - s * y, s * x + c * y
    cp, sp = np.cos(phi), np.sin(phi)
    u, v = (cp * x + sp * y) * (1 + e), (-sp * x + cp * y) * (1 - e)
    xs, ys = centre[1] + cp * u - sp * v, centre[0] + sp * u + cp * v
    keep = (
        (weight > 1e-4 * weight.max()) & (xs > -5) & (xs < size + 5) & (ys > -5) & (ys < size + 5)
    )
    signal = np.zeros((size, size))
    yy, xx = np.indices((size, size), dtype=float)
    sigma = rng.uniform(0.6, 2.0) * size / 128
    disc = rng.random() < 0.25
    for xk, yk, wk in zip(xs[keep], ys[keep], weight[keep], strict=True):
        y0, y1 = int(max(0, yk - 5 * sigma)), int(min(size, yk + 5 * sigma + 2))
        x0, x1 = int(max(0, xk - 5 * sigma)), int(min(size, xk + 5 * sigma + 2))
        if y0 >= y1 or x0 >= x1:
            continue
        d2 = (yy[y0:y1, x0:x1] - yk) ** 2 + (xx[y0:y1, x0:x1] - xk) ** 2
        blob = (d2 < (1.5 * sigma) ** 2).astype(float) if disc else np.exp(-0.5 * d2 / sigma**2)
        signal[y0:y1, x0:x1] += wk * blob
    r, _ = _coordinates(size, centre, (e, phi, rot))
    image = _camera(signal, r, centre, rng, meta, px_per)
    return Pattern(image, label, meta)


def ring_entries() -> list[Entry]:
    return list(ENTRIES)


def generate(kind: str, n: int, seed: int) -> list[Pattern]:
    """``n`` patterns, classes balanced; pattern i depends only on (seed, i)."""
    out = []
    for i in range(n):
        out.append(one(kind, i, seed))
    return out


def one(kind: str, index: int, seed: int) -> Pattern:
    rng = np.random.default_rng([seed, index, 7 if kind == "rings" else 11])
    if kind == "rings":
        label = RING_LABELS[index % 3]
        pool = [e for e in ENTRIES if e.system == label]
        return ring_pattern(pool[int(rng.integers(len(pool)))], rng)
    return spot_pattern(SPOT_LABELS[index % 5], rng)
