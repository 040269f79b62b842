"""Noise-free diffraction signals: polycrystalline rings and single-crystal zone-axis spots.

Both renderers return the expected Bragg intensity per detector pixel; `camera.expose` turns it
into counts. Reciprocal lengths are handled in Å⁻¹ internally and converted with the camera's
pixel size (1/nm per pixel): radius_px = 10 g[Å⁻¹] / pixel_size, i.e. camera constant / d.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from crystalview.sim.camera import CameraSettings, detector_coordinates, distortion_matrix, splat
from crystalview.sim.crystal import (
    ABSENT_FRACTION,
    Crystal,
    allowed_reflections,
    group_rings,
    miller_indices,
    structure_factor,
)

ELECTRON_WAVELENGTH_200KV = 0.02508  # Å, relativistic, 200 kV


def radius_px(d_angstrom: np.ndarray, camera: CameraSettings) -> np.ndarray:
    """Ring radius in pixels of planes with spacing d (Å): camera constant / d."""
    return 10.0 / np.asarray(d_angstrom) / camera.pixel_size


def max_g(camera: CameraSettings) -> float:
    """Largest reciprocal length (Å⁻¹) that reaches the detector corner, with a margin."""
    cy, cx = camera.center
    corner = max(np.hypot(max(cy, camera.size - cy), max(cx, camera.size - cx)), 1.0)
    return 1.1 * corner * camera.pixel_size / 10.0 / (1.0 - abs(camera.ellipticity))


@dataclass(frozen=True)
class RingSettings:
    """Microstructure of a polycrystalline film.

    Attributes
    ----------
    width_px
        Gaussian width (sigma) of a ring: grain size broadening plus the instrument's.
    spottiness
        0 for a fine-grained film (smooth rings) to 1 for coarse grains (rings of single spots).
    grains
        Number of grains in the selected area; sets how many spots a spotty ring holds.
    texture
        Amplitude (0..1) of a two-fold azimuthal intensity modulation (weak fibre texture).
    texture_angle_deg
        Direction of the texture maximum.
    intensity_exponent
        Reflections scatter ``|F|^(2 p)``: 1 is kinematic; thicker grains approach the
        two-beam dynamical limit, where integrated intensity grows like ``|F|`` (p = 0.5), so
        weak rings gain on strong ones.
    intensity_jitter
        RMS of a log-normal factor on every ring (grain statistics, dynamical scatter, errors of
        the structure model).
    preferred_orientation
        March-Dollase parameter r (1: random orientations; r < 1 plate-like grains lying flat,
        r > 1 needles), about the reciprocal direction ``preferred_axis``.
    preferred_axis
        That direction in reciprocal-lattice units (h, k, l).
    lorentz_fraction
        Share of a Lorentzian in the ring profile (pseudo-Voigt of equal width): small grains
        give long tails.
    strain_broadening
        Extra width per pixel of radius (microstrain broadens rings in proportion to g).
    """

    width_px: float = 1.0
    spottiness: float = 0.0
    grains: int = 200
    texture: float = 0.0
    texture_angle_deg: float = 0.0
    intensity_exponent: float = 1.0
    intensity_jitter: float = 0.0
    preferred_orientation: float = 1.0
    preferred_axis: tuple[float, float, float] = (0.0, 0.0, 1.0)
    lorentz_fraction: float = 0.0
    strain_broadening: float = 0.0


def ring_intensities(crystal: Crystal, d_min: float, rings: RingSettings, rng: np.random.Generator):
    """Debye-Scherrer rings with the microstructure's intensity effects applied.

    Exponent and preferred orientation act on every reflection before the rings are summed (two
    reflections of one ring may be affected differently); the jitter acts on each ring.
    """
    refl = allowed_reflections(crystal, d_min)
    weight = refl.intensity**rings.intensity_exponent
    if rings.preferred_orientation != 1.0 and refl.d.size:
        g = crystal.lattice.g_vectors(refl.hkl)
        axis = crystal.lattice.g_vectors(np.asarray(rings.preferred_axis, dtype=float)[None])[0]
        cos2 = (g @ axis) ** 2 / np.maximum(np.sum(g * g, axis=1) * float(axis @ axis), 1e-30)
        r = rings.preferred_orientation
        weight = weight * (r * r * cos2 + (1.0 - cos2) / r) ** -1.5
    powder = group_rings(refl.d, weight)
    if rings.intensity_jitter > 0 and powder.d.size:
        powder.intensity *= rng.lognormal(0.0, rings.intensity_jitter, powder.d.size)
    return powder


def ring_signal(
    crystal: Crystal,
    camera: CameraSettings,
    rings: RingSettings,
    rng: np.random.Generator,
) -> np.ndarray:
    """Expected intensity of a polycrystalline ring pattern on the detector.

    Each Debye-Scherrer ring carries the summed |F|² of its reflections (multiplicity included)
    spread over its circumference, so its line intensity is Σ|F|² / (2π R).
    """
    powder = ring_intensities(crystal, 1.0 / max_g(camera), rings, rng)
    radius, azimuth = detector_coordinates(camera)
    r_ring = radius_px(powder.d, camera)
    line_density = powder.intensity / (2.0 * np.pi * np.maximum(r_ring, 1.0))
    sigma = rings.width_px
    eta = rings.lorentz_fraction

    # Smooth rings: a fine 1-D radial profile, interpolated at every pixel's (undistorted) radius.
    widest = sigma + rings.strain_broadening * float(r_ring.max(initial=0.0))
    r_axis = np.arange(0.0, radius.max() + 4.0 * widest + 1.0, 0.25)
    profile = np.zeros_like(r_axis)
    for r_k, w_k in zip(r_ring, line_density, strict=True):
        s_k = sigma + rings.strain_broadening * r_k
        reach = (5.0 if eta <= 0 else 25.0) * s_k
        near = np.abs(r_axis - r_k) < reach
        x = (r_axis[near] - r_k) / s_k
        shape = np.exp(-0.5 * x * x)
        if eta > 0:  # pseudo-Voigt of the same half width, both normalised to unit area
            gamma = s_k * np.sqrt(2.0 * np.log(2.0))
            lorentz = (gamma / np.pi) / ((r_axis[near] - r_k) ** 2 + gamma * gamma)
            shape = (1.0 - eta) * shape + eta * lorentz * s_k * np.sqrt(2.0 * np.pi)
        profile[near] += w_k * shape
    smooth = np.interp(radius, r_axis, profile)
    phase = np.radians(rings.texture_angle_deg)
    smooth *= 1.0 + rings.texture * np.cos(2.0 * (azimuth - phase))
    if rings.spottiness <= 0.0:
        return smooth

    # Spotty rings: each grain in Bragg condition adds one spot on its ring.
    spots_per_ring = rng.poisson(
        rings.grains * powder.multiplicity / max(powder.multiplicity.mean(), 1.0) * 0.2 + 1.0
    )
    ring_index = np.repeat(np.arange(powder.d.size), spots_per_ring)
    angles = rng.uniform(0.0, 2.0 * np.pi, ring_index.size)
    weights = (2.0 * np.pi * r_ring * line_density / np.maximum(spots_per_ring, 1))[ring_index]
    weights *= rng.exponential(1.0, ring_index.size)  # grains differ in size and excitation
    radial = r_ring[ring_index] + rng.normal(0.0, 0.3 * sigma, ring_index.size)
    offsets = np.stack([radial * np.cos(angles), radial * np.sin(angles)], axis=-1)
    offsets = offsets @ distortion_matrix(camera).T
    cy, cx = camera.center
    spotty = splat(camera.size, cy + offsets[:, 1], cx + offsets[:, 0], weights)
    # A smooth ring holds Σ|F|² · σ√(2π) in total; the blurred spots hold Σ|F|²: match them.
    spotty = ndimage.gaussian_filter(spotty, sigma) * sigma * np.sqrt(2.0 * np.pi)
    return (1.0 - rings.spottiness) * smooth + rings.spottiness * spotty


@dataclass(frozen=True)
class ZoneSettings:
    """Orientation and shape of a single crystal.

    Attributes
    ----------
    zone_axis
        Beam direction [uvw] in direct-lattice indices.
    tilt_mrad
        Small tilt of the crystal off the exact zone, (tx, ty): shifts the Laue circle.
    thickness_angstrom
        Crystal thickness; the rel-rod half-width along the beam is ~1/thickness.
    mosaic_mrad
        Bending / mosaic spread: widens rel-rods proportionally to g.
    spot_sigma_px
        Width of a spot on the detector (beam convergence, point spread).
    wavelength
        Electron wavelength in Å (Ewald-sphere curvature).
    intensity_exponent
        Spots scatter ``|F|^(2 p)`` (1: kinematic; towards 0.5 in thick crystals, where
        dynamical scattering evens out strong and weak reflections).
    """

    zone_axis: tuple[int, int, int] = (0, 0, 1)
    tilt_mrad: tuple[float, float] = (0.0, 0.0)
    thickness_angstrom: float = 300.0
    mosaic_mrad: float = 5.0
    spot_sigma_px: float = 1.0
    wavelength: float = ELECTRON_WAVELENGTH_200KV
    intensity_exponent: float = 1.0


def zone_frame(crystal: Crystal, zone_axis: tuple[int, int, int]) -> np.ndarray:
    """Orthonormal rows (e1, e2, n): n along the zone axis, e1 along the shortest g of the zone."""
    direct = crystal.lattice.direct_basis()
    n = np.asarray(zone_axis, dtype=np.float64) @ direct
    n /= np.linalg.norm(n)
    trial = np.array([1.0, 0.0, 0.0]) if abs(n[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    e1 = trial - n * (trial @ n)
    e1 /= np.linalg.norm(e1)
    return np.stack([e1, np.cross(n, e1), n])


@dataclass
class ZoneSpots:
    """Diffraction spots of one exposure: Miller indices, detector offsets (x, y) in px, weight."""

    hkl: np.ndarray
    xy_px: np.ndarray
    intensity: np.ndarray
    excitation_error: np.ndarray


def zone_spots(crystal: Crystal, camera: CameraSettings, zone: ZoneSettings) -> ZoneSpots:
    """Kinematic spot intensities |F|² · exp(-(s/σ)²) of a crystal near a zone axis.

    The excitation error s of each reflection is the exact distance of g from the Ewald sphere
    for the (tilted) incident wave vector; σ = 1/thickness + mosaic · |g|. Reflections of any Laue
    zone that come close to the sphere appear, which gives the finite extent of the zero-order
    Laue zone (the Laue circle when tilted) rather than an infinite lattice.
    """
    hkl = miller_indices(crystal, d_min=1.0 / max_g(camera))
    frame = zone_frame(crystal, zone.zone_axis)
    g = crystal.lattice.g_vectors(hkl) @ frame.T  # components along e1, e2, n
    k0 = 1.0 / zone.wavelength
    tx, ty = np.asarray(zone.tilt_mrad) * 1e-3
    k = k0 * np.array([tx, ty, 1.0]) / np.sqrt(1.0 + tx * tx + ty * ty)
    excitation = (k0**2 - np.sum((k + g) ** 2, axis=1)) / (2.0 * k0)
    g_len = np.linalg.norm(g, axis=1)
    rel_rod = 1.0 / zone.thickness_angstrom + zone.mosaic_mrad * 1e-3 * g_len
    # Only reflections near the Ewald sphere can show (exp(-3.5²) is far below the cut-off
    # below): the structure factor, the costly part, is summed for those alone.
    near = np.abs(excitation) < 3.5 * rel_rod
    hkl, g, excitation, rel_rod = hkl[near], g[near], excitation[near], rel_rod[near]
    f_squared = np.abs(structure_factor(crystal, hkl)) ** 2 if hkl.size else np.empty(0)
    present = f_squared > ABSENT_FRACTION * max(f_squared.max(initial=0.0), 1e-30)
    hkl, g, excitation, rel_rod = hkl[present], g[present], excitation[present], rel_rod[present]
    intensity = f_squared[present] ** zone.intensity_exponent * np.exp(
        -((excitation / rel_rod) ** 2)
    )
    keep = intensity > 1e-4 * max(intensity.max(initial=0.0), 1e-30)
    xy = 10.0 * g[keep, :2] / camera.pixel_size
    xy = xy @ distortion_matrix(camera).T
    return ZoneSpots(hkl[keep], xy, intensity[keep], excitation[keep])


def spot_signal(
    crystal: Crystal,
    camera: CameraSettings,
    zone: ZoneSettings,
    rng: np.random.Generator | None = None,
    intensity_jitter: float = 0.0,
) -> np.ndarray:
    """Expected intensity of a zone-axis spot pattern on the detector.

    ``intensity_jitter`` (with ``rng``) multiplies every spot by a log-normal factor of that
    rms: dynamical scattering and thickness variation move intensity between spots.
    """
    spots = zone_spots(crystal, camera, zone)
    weights = spots.intensity
    if rng is not None and intensity_jitter > 0:
        weights = weights * rng.lognormal(0.0, intensity_jitter, weights.size)
    cy, cx = camera.center
    image = splat(camera.size, cy + spots.xy_px[:, 1], cx + spots.xy_px[:, 0], weights)
    return ndimage.gaussian_filter(image, zone.spot_sigma_px)
