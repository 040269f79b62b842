"""Random crystals, cameras and whole labelled patterns for the built-in SAED classes.

Two families of classes:

- ring patterns (polycrystalline films) labelled by crystal system: `RING_CLASSES`;
- zone-axis spot patterns labelled by the 2-D Bravais lattice of the zone: `SPOT_CLASSES`.

Every sample draws from its own generator seeded by ``(seed, index)``, so sample *i* of a data
set is reproducible on its own and data sets with different seeds never share a sample.
``regime="heldout"`` draws lattice parameters from ranges partly outside the training ranges and
harder camera conditions (lower dose, larger centre offsets, beam stop more often), for honest
held-out evaluation.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, replace
from functools import cache

import numpy as np

from crystalview.core.progress import CancelToken, Progress
from crystalview.sim.camera import CameraSettings, export_8bit, expose
from crystalview.sim.crystal import Atom, Crystal, Lattice, powder_rings
from crystalview.sim.indexing import is_pseudo_hexagonal
from crystalview.sim.patterns import (
    RingSettings,
    ZoneSettings,
    ring_signal,
    spot_signal,
)
from crystalview.sim.scattering import ELEMENTS
from crystalview.sim.spacegroups import random_spacegroup_crystal
from crystalview.sim.structures import TRAINING_STRUCTURES, jittered, structures_of, to_crystal
from crystalview.sim.zones import (
    ZONE_AXES,
    crystal_reflections,
    gauss_reduce,
    zone_lattice,
    zone_net,
)

RING_CLASSES: tuple[str, ...] = ("cubic", "hexagonal", "orthorhombic")
SPOT_CLASSES: tuple[str, ...] = (
    "square",
    "hexagonal",
    "rectangular",
    "centered_rectangular",
    "oblique",
)
REGIMES = ("train", "heldout")

_QUARTERS = np.array([0.0, 0.25, 0.5, 0.75])

# Lattice ranges of the ring-pattern crystals per regime: edges in Å, c/a as a ratio (drawn
# evenly in log). c/a spans real hexagonal crystals: CaCu5-type (0.8), WC (1.0), the hcp metals
# (1.6), graphite and h-BN (2.7), 2H-MoS2 (3.9). Held-out reaches about 10 % beyond training.
RING_LATTICE_RANGES: dict[str, dict[str, tuple[float, float]]] = {
    "train": {
        "cubic_a": (2.8, 7.0),
        "hexagonal_a": (2.4, 5.0),
        "hexagonal_c_over_a": (0.7, 4.0),
        "orthorhombic_edges": (2.6, 10.5),
    },
    "heldout": {
        "cubic_a": (2.5, 8.0),
        "hexagonal_a": (2.2, 5.5),
        "hexagonal_c_over_a": (0.63, 4.4),
        "orthorhombic_edges": (2.4, 12.0),
    },
}


@dataclass
class Sample:
    """One simulated pattern, its class and the parameters that generated it."""

    image: np.ndarray
    label: str
    params: dict


def _elements(rng: np.random.Generator, n: int) -> list[str]:
    return [str(e) for e in rng.choice(ELEMENTS, size=n)]


def _special_basis(rng: np.random.Generator, n_atoms: int) -> list[tuple[float, float, float]]:
    """Distinct positions on the quarter grid (as in NaCl, CsCl, diamond, fluorite, Cu3Au)."""
    positions = {(0.0, 0.0, 0.0)}
    while len(positions) < n_atoms:
        positions.add(tuple(float(v) for v in rng.choice(_QUARTERS, 3)))
    return sorted(positions)


def _ratio_away_from_one(rng: np.random.Generator, low: float, high: float, gap: float) -> float:
    """A ratio in [low, high] that differs from 1 by at least ``gap`` (no pseudo-symmetry)."""
    while True:
        r = rng.uniform(low, high)
        if abs(r - 1.0) >= gap:
            return r


def random_ring_lattice(system: str, rng: np.random.Generator, regime: str = "train") -> Lattice:
    """A cell of the given crystal system drawn from the regime's ranges (`RING_LATTICE_RANGES`)."""
    ranges = RING_LATTICE_RANGES[regime]
    if system == "cubic":
        a = rng.uniform(*ranges["cubic_a"])
        return Lattice(a, a, a)
    if system == "hexagonal":
        a = rng.uniform(*ranges["hexagonal_a"])
        c_over_a = float(np.exp(rng.uniform(*np.log(ranges["hexagonal_c_over_a"]))))
        return Lattice(a, a, a * c_over_a, 90.0, 90.0, 120.0)
    if system == "tetragonal":
        a = rng.uniform(2.5, 7.0)
        return Lattice(a, a, a * _ratio_away_from_one(rng, 0.5, 2.2, 0.1))
    if system == "orthorhombic":
        low, high = ranges["orthorhombic_edges"]
        while True:
            a, b, c = np.sort(rng.uniform(low, high, 3))
            if b / a > 1.08 and c / b > 1.08:
                break
        return Lattice(*(float(v) for v in rng.permutation([a, b, c])))
    raise ValueError(f"unknown crystal system {system!r}")


def random_ring_crystal(system: str, rng: np.random.Generator, regime: str = "train") -> Crystal:
    """A crystal of the given crystal system with widely varying cell, centring and basis."""
    lattice = random_ring_lattice(system, rng, regime)
    n_atoms = int(rng.integers(1, 4))
    b_factor = float(rng.uniform(0.2, 1.5))
    if system in ("cubic", "tetragonal"):
        centring = str(rng.choice(["P", "I", "F"] if system == "cubic" else ["P", "I"]))
        positions = _special_basis(rng, n_atoms)
    elif system == "hexagonal":
        centring = "P"
        hex_sites = [(0.0, 0.0), (1 / 3, 2 / 3), (2 / 3, 1 / 3)]
        positions = [(0.0, 0.0, 0.0)]
        for _ in range(n_atoms - 1):
            x, y = hex_sites[int(rng.integers(0, 3))]
            positions.append((x, y, float(rng.choice([0.25, 0.5, 0.75, rng.uniform(0, 1)]))))
    else:
        centring = str(rng.choice(["P", "I", "F", "C"]))
        positions = [(0.0, 0.0, 0.0)] + [
            tuple(float(v) for v in rng.uniform(0, 1, 3)) for _ in range(n_atoms - 1)
        ]
    elements = _elements(rng, len(positions))
    basis = tuple(Atom(e, p) for e, p in zip(elements, positions, strict=True))
    return Crystal(lattice, centring, basis, b_factor, name=system)


def ring_lattice_in_training_ranges(system: str, params: dict) -> bool:
    """Whether a ring sample's lattice (its ``params``) lies inside the training ranges.

    Held-out evaluation reports accuracy on the samples outside them separately: that part
    measures extrapolation to crystals unlike any seen in training.
    """
    ranges = RING_LATTICE_RANGES["train"]

    def inside(value: float, key: str) -> bool:
        low, high = ranges[key]
        return low <= value <= high

    if system == "cubic":
        return inside(params["a"], "cubic_a")
    if system == "hexagonal":
        return inside(params["a"], "hexagonal_a") and inside(
            params["c"] / params["a"], "hexagonal_c_over_a"
        )
    if system == "orthorhombic":
        return all(inside(params[k], "orthorhombic_edges") for k in ("a", "b", "c"))
    raise ValueError(f"no training ranges for crystal system {system!r}")


# 2-D point-group operations (acting on x, y fractional coordinates) that give each zone lattice
# realistic intensity symmetry: 4mm, 6mm, 2mm, 2mm and 2.
def _orbit(lattice2d: str, x: float, y: float) -> list[tuple[float, float]]:
    if lattice2d == "square":
        return [(x, y), (-y, x), (-x, -y), (y, -x), (-x, y), (x, -y), (y, x), (-y, -x)]
    if lattice2d == "hexagonal":
        ops = [(x, y), (-y, x - y), (y - x, -x)]
        ops += [(-u, -v) for u, v in ops]
        return ops + [(v, u) for u, v in ops]
    if lattice2d in ("rectangular", "centered_rectangular"):
        return [(x, y), (-x, y), (x, -y), (-x, -y)]
    return [(x, y), (-x, -y)]


def _oblique_is_generic(a: float, b: float, gamma_deg: float, tol: float = 0.06) -> bool:
    """False when an 'oblique' cell is (nearly) rectangular, centred, square or hexagonal."""
    va = np.array([a, 0.0])
    vb = b * np.array([np.cos(np.radians(gamma_deg)), np.sin(np.radians(gamma_deg))])
    va, vb = gauss_reduce(va, vb)  # the shortest basis
    la, lb = np.linalg.norm(va), np.linalg.norm(vb)
    cos_g = abs(float(va @ vb)) / (la * lb)
    if cos_g < tol:  # rectangular or square
        return False
    if abs(lb - la) / la < tol:  # rhombic: centred rectangular or hexagonal
        return False
    # b projects onto a at half its length: centred rectangular
    return abs(2.0 * abs(float(va @ vb)) / (la * la) - 1.0) >= tol


def random_zone_crystal(lattice2d: str, rng: np.random.Generator, regime: str = "train") -> Crystal:
    """A crystal whose [001] zone shows the requested 2-D lattice (c is along the beam)."""
    held = regime == "heldout"
    a_low, a_high = (2.3, 9.0) if held else (2.5, 8.0)
    a = rng.uniform(a_low, a_high)
    c = rng.uniform(3.0, 12.0)
    gamma = 90.0
    centring = "P"
    if lattice2d == "square":
        b = a
    elif lattice2d == "hexagonal":
        b, gamma = a, 120.0
    elif lattice2d == "rectangular":
        b = a * _ratio_away_from_one(rng, 0.45, 2.2, 0.12)
    elif lattice2d == "centered_rectangular":
        while True:
            ratio = rng.uniform(0.35, 3.0)
            # b/a = 1 is a centred square and √3 or 1/√3 a hexagonal net: keep clear of them.
            if min(abs(ratio - 1.0), abs(ratio - 3**0.5), abs(ratio - 3**-0.5)) > 0.12:
                break
        b = a * ratio
        centring = "C"
    elif lattice2d == "oblique":
        while True:
            b = a * rng.uniform(0.5, 2.0)
            gamma = rng.uniform(60.0, 120.0)
            if _oblique_is_generic(a, b, gamma):
                break
    else:
        raise ValueError(f"unknown zone lattice {lattice2d!r}")
    lattice = Lattice(a, b, c, 90.0, 90.0, gamma)
    atoms: list[Atom] = []
    n_sites = int(rng.integers(1, 3))
    for index in range(n_sites):
        element = _elements(rng, 1)[0]
        x, y, z = (0.0, 0.0, 0.0) if index == 0 else rng.uniform(0, 1, 3)
        orbit = {(round(u % 1.0, 6), round(v % 1.0, 6)) for u, v in _orbit(lattice2d, x, y)}
        atoms += [Atom(element, (u, v, float(z))) for u, v in sorted(orbit)]
    return Crystal(lattice, centring, tuple(atoms), float(rng.uniform(0.2, 1.5)), name=lattice2d)


BEAM_STOP_SHAPES = ("disc_arm", "disc", "wedge", "partial")
_BEAM_STOP_P = (0.5, 0.2, 0.15, 0.15)


def random_camera(
    rng: np.random.Generator, size: int, pixel_size: float, regime: str = "train"
) -> CameraSettings:
    """Camera and optics drawn over the range met in practice (wider for held-out data).

    Besides geometry, dose and noise: beam stops of four shapes and sizes, an amorphous
    support film, flat-field errors, a long point-spread tail, blooming of saturated pixels,
    stronger projector distortion now and then, and patterns whose centre lies near the edge
    (a crop or a shifted camera).
    """
    held = regime == "heldout"
    max_offset = (0.12 if held else 0.08) * size
    offset = rng.uniform(-max_offset, max_offset, 2)
    if rng.random() < 0.12:  # partial pattern: the beam near the edge of the frame
        angle = rng.uniform(0.0, 2.0 * np.pi)
        r = rng.uniform(0.2, 0.36) * size
        offset = np.array([r * np.sin(angle), r * np.cos(angle)])
    log_dose = (
        rng.uniform(np.log(15.0), np.log(2000.0))
        if held
        else rng.uniform(np.log(30.0), np.log(3000.0))
    )
    ellipticity = rng.uniform(0.0, 0.03) if rng.random() < 0.8 else rng.uniform(0.03, 0.07)
    return CameraSettings(
        size=size,
        pixel_size=pixel_size,
        center_offset=(float(offset[0]), float(offset[1])),
        rotation_deg=float(rng.uniform(0.0, 360.0)),
        ellipticity=float(ellipticity),
        ellipse_angle_deg=float(rng.uniform(0.0, 180.0)),
        dose=float(np.exp(log_dose)),
        gain=float(rng.uniform(0.5, 4.0)),
        read_noise=float(rng.uniform(0.5, 6.0)),
        background=float(rng.uniform(0.05, 1.2 if held else 0.8)),
        direct_beam=float(rng.uniform(2.0, 30.0)),
        beam_stop=bool(rng.random() < 0.5),
        beam_stop_angle_deg=float(rng.uniform(0.0, 360.0)),
        beam_stop_shape=str(rng.choice(BEAM_STOP_SHAPES, p=_BEAM_STOP_P)),
        beam_stop_scale=float(rng.uniform(0.6, 1.8)),
        amorphous=float(rng.uniform(0.02, 0.6)) if rng.random() < 0.35 else 0.0,
        nonuniformity=float(rng.uniform(0.02, 0.12)) if rng.random() < 0.3 else 0.0,
        psf_tail=float(rng.uniform(0.05, 0.3)) if rng.random() < 0.3 else 0.0,
        blooming=bool(rng.random() < 0.3),
    )


def random_export(rng: np.random.Generator) -> dict | None:
    """How a pattern was saved: None for raw counts, else an 8-bit export (maybe JPEG)."""
    if rng.random() >= 0.25:
        return None
    return {
        "log_scale": bool(rng.random() < 0.5),
        "jpeg_quality": int(rng.integers(50, 96)) if rng.random() < 0.6 else None,
    }


def finish(
    signal: np.ndarray, camera: CameraSettings, export: dict | None, rng: np.random.Generator
) -> np.ndarray:
    """Expose the signal, then export it as the lab saved it (see `random_export`)."""
    counts = expose(signal, camera, rng)
    if export is None:
        return counts
    return export_8bit(counts, rng, export["log_scale"], export["jpeg_quality"])


def _export_params(export: dict | None) -> dict:
    if export is None:
        return {"export": "16-bit"}
    name = "8-bit log" if export["log_scale"] else "8-bit"
    if export["jpeg_quality"] is not None:
        name += f" JPEG q{export['jpeg_quality']}"
    return {"export": name}


def random_ring_settings(rng: np.random.Generator, size: int) -> RingSettings:
    """Microstructure of a film: grain size (ring width and shape), texture, intensity effects."""
    scale = max(size / 256.0, 0.5)
    width = rng.uniform(0.5, 1.6) if rng.random() < 0.7 else rng.uniform(1.6, 3.5)
    axes = ((0, 0, 1), (1, 0, 0), (0, 1, 0), (1, 1, 0), (1, 1, 1))
    return RingSettings(
        width_px=float(width * scale),
        spottiness=float(rng.choice([0.0, rng.uniform(0.2, 1.0)])),
        grains=int(rng.integers(100, 1000)),
        texture=float(rng.uniform(0.0, 0.4)),
        texture_angle_deg=float(rng.uniform(0.0, 180.0)),
        intensity_exponent=float(rng.uniform(0.5, 1.0)) if rng.random() < 0.5 else 1.0,
        intensity_jitter=float(rng.uniform(0.0, 0.35)),
        preferred_orientation=(
            float(np.exp(rng.uniform(np.log(0.5), np.log(2.0)))) if rng.random() < 0.3 else 1.0
        ),
        preferred_axis=tuple(float(v) for v in axes[int(rng.integers(len(axes)))]),
        lorentz_fraction=float(rng.uniform(0.0, 0.7)) if rng.random() < 0.4 else 0.0,
        strain_broadening=float(rng.uniform(0.0, 0.01)) if rng.random() < 0.3 else 0.0,
    )


# Share of patterns drawn from the real structures of `crystalview.sim.structures`.
REAL_STRUCTURE_FRACTION = 0.45
# Share of the other (random) ring crystals built in a random space group
# (`crystalview.sim.spacegroups`) rather than from a centring and a few atoms.
SPACE_GROUP_FRACTION = 0.6
# A real structure's free coordinates move by up to this (fractional) in ring patterns, so the
# weak rings of a prototype's distortion are seen at more than one strength. The spot
# generator keeps the library's coordinates: the shipped zone model learnt from those.
RING_SITE_DISPLACEMENT = 0.02


def _first_ring_d(crystal: Crystal) -> float:
    """d (Å) of the innermost ring holding at least 2 % of the strongest ring's intensity."""
    rings = powder_rings(crystal, d_min=0.6)
    strong = rings.d[rings.intensity > 0.02 * rings.intensity.max()]
    return float(strong.max())


def simulate_ring_sample(
    system: str,
    size: int,
    rng: np.random.Generator,
    regime: str = "train",
    camera_overrides: dict | None = None,
    keep_pseudo_hexagonal: bool = False,
    ring_overrides: dict | None = None,
) -> Sample:
    """One polycrystalline ring pattern of the given crystal system.

    The crystal is a real structure (`REAL_STRUCTURE_FRACTION` of the time, cell scaled and
    strained by a few per cent) or a random one. ``camera_overrides`` fixes chosen
    `CameraSettings` fields (e.g. ``dose``) after the random draw, for robustness curves. A
    random orthorhombic crystal whose visible rings a hexagonal cell indexes with no more lines
    (`is_pseudo_hexagonal`) shows a hexagonal pattern, so it is redrawn with its camera, as
    pseudo-tetragonal cells are; ``keep_pseudo_hexagonal`` keeps it (to measure what those
    patterns cost a model). ``ring_overrides`` fixes chosen `RingSettings` fields the same way
    (e.g. few coarse grains for very spotty rings).
    """
    while True:
        real = rng.random() < REAL_STRUCTURE_FRACTION
        if real:
            choices = structures_of(system)
            structure = choices[int(rng.integers(len(choices)))]
            crystal, origin = jittered(structure, rng, displacement=RING_SITE_DISPLACEMENT)
        elif rng.random() < SPACE_GROUP_FRACTION:
            lattice = random_ring_lattice(system, rng, regime)
            elements = _elements(rng, int(rng.integers(1, 4)))
            crystal, symbol = random_spacegroup_crystal(system, lattice, rng, elements)
            origin = {
                "structure": "random",
                "family": f"random {system} space group",
                "spacegroup": symbol,
            }
        else:
            crystal = random_ring_crystal(system, rng, regime)
            origin = {"structure": "random", "family": f"random {system}"}
        # Calibration varies freely: the first strong ring lands at 9-22 % of the image width.
        first_radius = rng.uniform(0.09, 0.22) * size
        pixel_size = 10.0 / _first_ring_d(crystal) / first_radius
        camera = replace(random_camera(rng, size, pixel_size, regime), **(camera_overrides or {}))
        rings = replace(random_ring_settings(rng, size), **(ring_overrides or {}))
        if (
            real
            or keep_pseudo_hexagonal
            or system != "orthorhombic"
            or not is_pseudo_hexagonal(crystal, camera, rings.width_px)
        ):
            break
    export = random_export(rng)
    image = finish(ring_signal(crystal, camera, rings, rng), camera, export, rng)
    params = (
        _lattice_centring(_crystal_params(crystal) | origin)
        | camera.as_dict()
        | {
            "ring_width_px": rings.width_px,
            "spottiness": rings.spottiness,
            "grains": rings.grains,
            "texture": rings.texture,
            "intensity_exponent": rings.intensity_exponent,
            "preferred_orientation": rings.preferred_orientation,
            "regime": regime,
        }
        | _export_params(export)
    )
    return Sample(image, system, params)


@cache
def real_zone_table() -> dict[str, tuple[tuple[int, tuple[int, int, int]], ...]]:
    """For each 2-D lattice, the (structure index, zone axis) pairs of real crystals showing it."""
    table: dict[str, list] = {name: [] for name in SPOT_CLASSES}
    for index, structure in enumerate(TRAINING_STRUCTURES):
        crystal = to_crystal(structure)
        reflections = crystal_reflections(crystal)
        for axis in ZONE_AXES:
            label = zone_lattice(crystal, axis, reflections)
            if label is not None:
                table[label].append((index, axis))
    return {name: tuple(pairs) for name, pairs in table.items()}


def _real_zone_crystal(
    lattice2d: str, rng: np.random.Generator
) -> tuple[Crystal, tuple[int, int, int], dict] | None:
    """A jittered real crystal and a zone showing ``lattice2d``; None if none keeps the label."""
    pairs = real_zone_table()[lattice2d]
    if not pairs:
        return None
    for _ in range(4):
        index, axis = pairs[int(rng.integers(len(pairs)))]
        structure = TRAINING_STRUCTURES[index]
        crystal, origin = jittered(structure, rng)
        if zone_lattice(crystal, axis) == lattice2d:
            return crystal, axis, origin | {"zone_axis": " ".join(str(v) for v in axis)}
    return None


def simulate_spot_sample(
    lattice2d: str,
    size: int,
    rng: np.random.Generator,
    regime: str = "train",
    camera_overrides: dict | None = None,
) -> Sample:
    """One zone-axis spot pattern whose zone shows the given 2-D lattice (see ring sample).

    `REAL_STRUCTURE_FRACTION` of the patterns show a zone of a real structure whose net has
    that lattice (`crystalview.sim.zones`); the others a random crystal's [001] zone.
    """
    real = _real_zone_crystal(lattice2d, rng) if rng.random() < REAL_STRUCTURE_FRACTION else None
    if real is not None:
        crystal, axis, origin = real
        spacing = float(np.linalg.norm(zone_net(crystal, axis), axis=1).min())
    else:
        crystal = random_zone_crystal(lattice2d, rng, regime)
        axis = (0, 0, 1)
        origin = {"structure": "random", "family": f"random {lattice2d}", "zone_axis": "0 0 1"}
        a_star = np.linalg.norm(crystal.lattice.reciprocal_basis()[:2], axis=1)
        if crystal.centring == "C":
            a_star = np.array([min(2 * a_star.min(), np.hypot(*a_star))])
        spacing = float(a_star.min())
    # Shortest spacing of the spot net lands at 7-16 % of the image width.
    spacing_px = rng.uniform(0.07, 0.16) * size
    pixel_size = 10.0 * spacing / spacing_px
    camera = replace(random_camera(rng, size, pixel_size, regime), **(camera_overrides or {}))
    held = regime == "heldout"
    zone = ZoneSettings(
        zone_axis=axis,
        tilt_mrad=tuple(float(v) for v in rng.normal(0.0, 1.0 if held else 0.6, 2)),
        thickness_angstrom=float(rng.uniform(80.0, 800.0)),
        mosaic_mrad=float(rng.uniform(10.0, 40.0)),
        spot_sigma_px=float(rng.uniform(0.008, 0.016) * size),
        intensity_exponent=float(rng.uniform(0.5, 1.0)) if rng.random() < 0.5 else 1.0,
    )
    jitter = float(rng.uniform(0.0, 0.4))
    export = random_export(rng)
    image = finish(spot_signal(crystal, camera, zone, rng, jitter), camera, export, rng)
    params = (
        _lattice_centring(_crystal_params(crystal) | origin)
        | camera.as_dict()
        | {
            "tilt_mrad_x": zone.tilt_mrad[0],
            "tilt_mrad_y": zone.tilt_mrad[1],
            "thickness_angstrom": zone.thickness_angstrom,
            "mosaic_mrad": zone.mosaic_mrad,
            "spot_sigma_px": zone.spot_sigma_px,
            "intensity_exponent": zone.intensity_exponent,
            "regime": regime,
        }
        | _export_params(export)
    )
    return Sample(image, lattice2d, params)


def usable_zones(crystal: Crystal) -> tuple[tuple[int, int, int], ...]:
    """Zone axes (of `ZONE_AXES`) along which the crystal shows a net of at least six spots."""
    reflections = crystal_reflections(crystal)
    return tuple(axis for axis in ZONE_AXES if len(zone_net(crystal, axis, reflections)) >= 6)


def simulate_structure_sample(
    crystal: Crystal,
    label: str,
    kind: str,
    size: int,
    rng: np.random.Generator,
    zones: tuple[tuple[int, int, int], ...] = (),
) -> Sample:
    """A ring or spot pattern of one given crystal, with the training camera randomisation.

    For a lab's own phases (`crystalview simulate saed --cif`): the cell is strained by up to
    2 % (solid solution, thermal expansion), and the camera, microstructure, beam stop and
    export are drawn exactly as for the built-in models' training data. Spot patterns look
    down one of ``zones`` (default: every zone of `usable_zones`).
    """
    crystal = _strained(crystal, rng, 0.02)
    if kind == "rings":
        first_radius = rng.uniform(0.09, 0.22) * size
        pixel_size = 10.0 / _first_ring_d(crystal) / first_radius
        camera = random_camera(rng, size, pixel_size)
        rings = random_ring_settings(rng, size)
        export = random_export(rng)
        image = finish(ring_signal(crystal, camera, rings, rng), camera, export, rng)
        extra = {"ring_width_px": rings.width_px, "spottiness": rings.spottiness}
    elif kind == "spots":
        zones = zones or usable_zones(crystal)
        if not zones:
            raise ValueError(f"{crystal.name or 'the crystal'} shows no zone with six spots")
        axis = zones[int(rng.integers(len(zones)))]
        spacing = float(np.linalg.norm(zone_net(crystal, axis), axis=1).min())
        pixel_size = 10.0 * spacing / (rng.uniform(0.07, 0.16) * size)
        camera = random_camera(rng, size, pixel_size)
        zone = ZoneSettings(
            zone_axis=axis,
            tilt_mrad=tuple(float(v) for v in rng.normal(0.0, 0.6, 2)),
            thickness_angstrom=float(rng.uniform(80.0, 800.0)),
            mosaic_mrad=float(rng.uniform(10.0, 40.0)),
            spot_sigma_px=float(rng.uniform(0.008, 0.016) * size),
            intensity_exponent=float(rng.uniform(0.5, 1.0)) if rng.random() < 0.5 else 1.0,
        )
        export = random_export(rng)
        signal = spot_signal(crystal, camera, zone, rng, float(rng.uniform(0.0, 0.4)))
        image = finish(signal, camera, export, rng)
        extra = {"zone_axis": " ".join(str(v) for v in axis)}
    else:
        raise ValueError(f"unknown pattern kind {kind!r}; use 'rings' or 'spots'")
    structure = _lattice_centring(_crystal_params(crystal) | crystal.extra)
    params = structure | camera.as_dict() | extra | _export_params(export)
    return Sample(image, label, params)


def _strained(crystal: Crystal, rng: np.random.Generator, strain: float) -> Crystal:
    """The crystal with its cell edges scaled together by up to ``strain`` (angles kept)."""
    k = 1.0 + rng.uniform(-strain, strain)
    lat = crystal.lattice
    lattice = Lattice(lat.a * k, lat.b * k, lat.c * k, lat.alpha, lat.beta, lat.gamma)
    return replace(crystal, lattice=lattice)


def _lattice_centring(params: dict) -> dict:
    """``params`` whose ``centring`` is the lattice's own (F for copper), not the cell's.

    A crystal built from a space group holds every atom in a primitive cell (centring P), so
    for real structures and random space-group crystals the centring a crystallographer means
    is the space group symbol's lattice letter."""
    if "spacegroup" not in params:
        return params
    return params | {"centring": str(params["spacegroup"]).strip()[0]}


def _crystal_params(crystal: Crystal) -> dict:
    lat = crystal.lattice
    return {
        "a": lat.a,
        "b": lat.b,
        "c": lat.c,
        "alpha": lat.alpha,
        "beta": lat.beta,
        "gamma": lat.gamma,
        "centring": crystal.centring,
        "elements": " ".join(sorted({atom.element for atom in crystal.basis})),
        "n_atoms": len(crystal.basis),
        "debye_waller_b": crystal.debye_waller_b,
    }


def class_names(kind: str) -> tuple[str, ...]:
    """Class names of a pattern kind, ``"rings"`` or ``"spots"``."""
    if kind == "rings":
        return RING_CLASSES
    if kind == "spots":
        return SPOT_CLASSES
    raise ValueError(f"unknown pattern kind {kind!r}; use 'rings' or 'spots'")


def simulate_one(
    kind: str,
    index: int,
    size: int,
    seed: int,
    regime: str = "train",
    classes: tuple[str, ...] | None = None,
    camera_overrides: dict | None = None,
    keep_pseudo_hexagonal: bool = False,
    ring_overrides: dict | None = None,
) -> Sample:
    """Sample ``index`` of data set ``(kind, seed)``; classes cycle so every class is balanced.

    ``keep_pseudo_hexagonal`` and ``ring_overrides`` apply to ring patterns (see
    `simulate_ring_sample`).
    """
    names = classes or class_names(kind)
    rng = np.random.default_rng([seed, index, REGIMES.index(regime)])
    label = names[index % len(names)]
    if kind == "rings":
        return simulate_ring_sample(
            label, size, rng, regime, camera_overrides, keep_pseudo_hexagonal, ring_overrides
        )
    return simulate_spot_sample(label, size, rng, regime, camera_overrides)


def simulate_dataset(
    kind: str,
    n: int,
    size: int,
    seed: int,
    regime: str = "train",
    classes: tuple[str, ...] | None = None,
    cancel: CancelToken | None = None,
) -> Generator[Progress, None, list[Sample]]:
    """Simulate ``n`` labelled patterns, yielding progress every few samples."""
    samples: list[Sample] = []
    for index in range(n):
        if cancel is not None:
            cancel.raise_if_cancelled()
        samples.append(simulate_one(kind, index, size, seed, regime, classes))
        if index % 16 == 15 or index == n - 1:
            yield Progress(index + 1, n, f"simulated {index + 1}/{n} {kind} patterns")
    return samples
