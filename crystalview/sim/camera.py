"""The diffraction camera: geometry (centre, rotation, ellipticity) and the detector response.

A pattern is first built as an expected, noise-free intensity per pixel (in arbitrary units) by
the ring or spot renderers; `expose` then adds the direct beam, diffuse background, beam stop,
shot noise at the chosen dose, gain, read noise and saturation, and returns 16-bit counts as a
real camera would.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage

FULL_WELL = 65535


@dataclass(frozen=True)
class CameraSettings:
    """Everything about the camera and the projector optics of one exposure.

    Attributes
    ----------
    size
        Image side in pixels (square detector).
    pixel_size
        Reciprocal-space size of one pixel in 1/nm (camera constant / detector pixel pitch).
    center_offset
        Shift of the direct beam from the image centre, (dy, dx) in pixels.
    rotation_deg
        In-plane rotation of the pattern (projector rotation / specimen orientation).
    ellipticity
        Relative difference of the two principal magnifications (projector astigmatism), ~0.01.
    ellipse_angle_deg
        Orientation of the long axis of that distortion.
    dose
        Detected electrons per pixel at the brightest Bragg features (the signal's 99.9th
        percentile): sets the shot noise.
    gain
        Counts per detected electron.
    read_noise
        Gaussian read noise in counts (rms).
    background
        Diffuse (inelastic + thermal) background as a fraction of the Bragg signal.
    direct_beam
        Peak of the unscattered beam relative to the brightest Bragg feature.
    beam_stop
        Whether a beam stop (a disc on an arm) hides the direct beam.
    beam_stop_angle_deg
        Direction of the beam-stop arm.
    """

    size: int = 128
    pixel_size: float = 0.05
    center_offset: tuple[float, float] = (0.0, 0.0)
    rotation_deg: float = 0.0
    ellipticity: float = 0.0
    ellipse_angle_deg: float = 0.0
    dose: float = 200.0
    gain: float = 1.0
    read_noise: float = 2.0
    background: float = 0.3
    direct_beam: float = 5.0
    beam_stop: bool = False
    beam_stop_angle_deg: float = 0.0

    @property
    def center(self) -> tuple[float, float]:
        """Direct-beam position (y, x) in pixels."""
        half = (self.size - 1) / 2.0
        return half + self.center_offset[0], half + self.center_offset[1]

    def as_dict(self) -> dict:
        return asdict(self)


def distortion_matrix(camera: CameraSettings) -> np.ndarray:
    """2x2 map from undistorted detector offsets (x, y) to distorted ones, rotation included."""
    t = np.radians(camera.ellipse_angle_deg)
    r = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    scale = np.diag([1.0 + camera.ellipticity / 2, 1.0 - camera.ellipticity / 2])
    p = np.radians(camera.rotation_deg)
    rot = np.array([[np.cos(p), -np.sin(p)], [np.sin(p), np.cos(p)]])
    return r @ scale @ r.T @ rot


def detector_coordinates(camera: CameraSettings) -> tuple[np.ndarray, np.ndarray]:
    """Undistorted radius (px) and azimuth (rad) of every pixel, for the radial renderers.

    The inverse of `distortion_matrix` is applied to the pixel offsets so that a circle in
    reciprocal space lands on the slightly elliptical, rotated ring the camera records.
    """
    cy, cx = camera.center
    yy, xx = np.mgrid[0 : camera.size, 0 : camera.size].astype(np.float64)
    offsets = np.stack([xx - cx, yy - cy], axis=-1)
    undistorted = offsets @ np.linalg.inv(distortion_matrix(camera)).T
    radius = np.hypot(undistorted[..., 0], undistorted[..., 1])
    azimuth = np.arctan2(undistorted[..., 1], undistorted[..., 0])
    return radius, azimuth


def splat(size: int, ys: np.ndarray, xs: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Deposit point intensities at sub-pixel positions by bilinear weights (vectorised)."""
    image = np.zeros((size, size), dtype=np.float64)
    y0 = np.floor(ys).astype(int)
    x0 = np.floor(xs).astype(int)
    fy = ys - y0
    fx = xs - x0
    for dy, dx, w in (
        (0, 0, (1 - fy) * (1 - fx)),
        (0, 1, (1 - fy) * fx),
        (1, 0, fy * (1 - fx)),
        (1, 1, fy * fx),
    ):
        yi = y0 + dy
        xi = x0 + dx
        inside = (yi >= 0) & (yi < size) & (xi >= 0) & (xi < size)
        np.add.at(image, (yi[inside], xi[inside]), (weights * w)[inside])
    return image


def _beam_stop_mask(camera: CameraSettings, radius: np.ndarray) -> np.ndarray:
    """True where the beam stop (a disc over the direct beam plus an arm to the edge) sits."""
    cy, cx = camera.center
    yy, xx = np.mgrid[0 : camera.size, 0 : camera.size].astype(np.float64)
    angle = np.radians(camera.beam_stop_angle_deg)
    along = (xx - cx) * np.cos(angle) + (yy - cy) * np.sin(angle)
    across = -(xx - cx) * np.sin(angle) + (yy - cy) * np.cos(angle)
    disc_radius = 0.045 * camera.size
    arm_half_width = 0.015 * camera.size
    return (radius < disc_radius) | ((along > 0) & (np.abs(across) < arm_half_width))


def expose(signal: np.ndarray, camera: CameraSettings, rng: np.random.Generator) -> np.ndarray:
    """Turn a noise-free Bragg signal into 16-bit camera counts.

    ``signal`` is scaled so that its 99.9th percentile corresponds to ``dose`` electrons; the
    direct beam and a diffuse background falling off with radius are added; the beam stop blocks
    what lies under it; Poisson shot noise, gain, Gaussian read noise and clipping at the full
    well follow.
    """
    radius, _ = detector_coordinates(camera)
    reference = float(np.percentile(signal, 99.9)) or float(signal.max()) or 1.0
    electrons = signal / reference
    beam_width = 0.012 * camera.size + 0.8
    electrons = electrons + camera.direct_beam * np.exp(-0.5 * (radius / beam_width) ** 2)
    falloff = 0.08 * camera.size
    diffuse = 1.0 / (1.0 + (radius / falloff) ** 2) + 0.15 * np.exp(-radius / (0.5 * camera.size))
    electrons = electrons + camera.background * diffuse
    if camera.beam_stop:
        mask = _beam_stop_mask(camera, radius)
        # The stop's edge is blurred by its distance from the image plane.
        transmission = 1.0 - ndimage.gaussian_filter(mask.astype(np.float64), 1.0) * 0.98
        electrons = electrons * transmission
    expected = np.clip(electrons * camera.dose, 0.0, None)
    counts = rng.poisson(expected).astype(np.float64) * camera.gain
    counts += rng.normal(0.0, camera.read_noise, counts.shape) + 10.0 * camera.gain
    return np.clip(np.rint(counts), 0, FULL_WELL).astype(np.uint16)
