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
    beam_stop_shape
        ``"disc_arm"`` (a disc on an arm to the edge), ``"disc"`` (a disc alone, e.g. a
        pointer tip), ``"wedge"`` (a tapering blade from the edge over the beam) or ``"partial"``
        (a straight blade from the edge whose end lies near, not on, the beam).
    beam_stop_scale
        Size of the stop relative to the default (disc radius 4.5 % of the side).
    amorphous
        Height of the amorphous-carbon support film's halos (d ≈ 2.1 Å and 1.2 Å) relative
        to the brightest Bragg feature.
    nonuniformity
        RMS of the detector's smooth gain variation (flat-field error), e.g. 0.05.
    psf_tail
        Fraction of the counts spread by the detector's long point-spread tail (scintillator
        glow, lens flare).
    blooming
        Whether charge above the full well spills along the readout columns (CCD blooming).
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
    beam_stop_shape: str = "disc_arm"
    beam_stop_scale: float = 1.0
    amorphous: float = 0.0
    nonuniformity: float = 0.0
    psf_tail: float = 0.0
    blooming: bool = False

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


def beam_stop_mask(camera: CameraSettings) -> np.ndarray:
    """True where the beam stop sits (see `CameraSettings.beam_stop_shape`)."""
    cy, cx = camera.center
    yy, xx = np.mgrid[0 : camera.size, 0 : camera.size].astype(np.float64)
    angle = np.radians(camera.beam_stop_angle_deg)
    along = (xx - cx) * np.cos(angle) + (yy - cy) * np.sin(angle)
    across = -(xx - cx) * np.sin(angle) + (yy - cy) * np.cos(angle)
    scale = camera.beam_stop_scale
    disc_radius = 0.045 * camera.size * scale
    arm_half_width = 0.015 * camera.size * scale
    disc = np.hypot(along, across) < disc_radius
    shape = camera.beam_stop_shape
    if shape == "disc":
        return disc
    if shape == "disc_arm":
        return disc | ((along > 0) & (np.abs(across) < arm_half_width))
    if shape == "wedge":
        # from a point just past the beam, widening towards the edge
        tip = -disc_radius
        return (along > tip) & (np.abs(across) < 0.35 * (along - tip) + 0.5 * arm_half_width)
    if shape == "partial":
        # a blade whose end stops short of the beam: the direct beam stays visible (attenuated
        # by nothing) and the blade hides a band of the pattern on one side
        return (along > 1.5 * disc_radius) & (np.abs(across) < 2.0 * arm_half_width)
    raise ValueError(f"unknown beam-stop shape {shape!r}")


def _amorphous_halo(camera: CameraSettings, radius: np.ndarray) -> np.ndarray:
    """Two broad rings of an amorphous carbon film (d ≈ 2.1 Å and 1.2 Å), peak height 1."""
    halo = np.zeros_like(radius)
    for d, height in ((2.13, 1.0), (1.17, 0.45)):
        r0 = 10.0 / d / camera.pixel_size
        halo += height * np.exp(-0.5 * ((radius - r0) / (0.09 * r0)) ** 2)
    return halo


def _gain_map(camera: CameraSettings, rng: np.random.Generator) -> np.ndarray:
    """A smooth random flat-field error of rms ``nonuniformity`` around 1."""
    field = ndimage.gaussian_filter(rng.normal(size=(camera.size, camera.size)), camera.size / 6)
    field /= field.std() or 1.0
    return np.clip(1.0 + camera.nonuniformity * field, 0.2, None)


def _bloom(counts: np.ndarray) -> np.ndarray:
    """Spill the charge above the full well up and down the column (CCD blooming)."""
    excess = np.maximum(counts - FULL_WELL, 0.0)
    if not excess.any():
        return counts
    length = max(3, counts.shape[0] // 6) | 1
    spread = ndimage.uniform_filter1d(excess, length, axis=0, mode="constant") * length / 4.0
    return np.minimum(counts, FULL_WELL) + spread


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
    if camera.amorphous > 0:
        electrons = electrons + camera.amorphous * _amorphous_halo(camera, radius)
    if camera.beam_stop:
        mask = beam_stop_mask(camera)
        # The stop's edge is blurred by its distance from the image plane.
        transmission = 1.0 - ndimage.gaussian_filter(mask.astype(np.float64), 1.0) * 0.98
        electrons = electrons * transmission
    expected = np.clip(electrons * camera.dose, 0.0, None)
    if camera.nonuniformity > 0:
        expected = expected * _gain_map(camera, rng)
    if camera.psf_tail > 0:
        wide = ndimage.gaussian_filter(expected, camera.size / 25.0)
        expected = (1.0 - camera.psf_tail) * expected + camera.psf_tail * wide
    counts = rng.poisson(expected).astype(np.float64) * camera.gain
    if camera.blooming:
        counts = _bloom(counts)
    counts += rng.normal(0.0, camera.read_noise, counts.shape) + 10.0 * camera.gain
    return np.clip(np.rint(counts), 0, FULL_WELL).astype(np.uint16)


def export_8bit(
    counts: np.ndarray, rng: np.random.Generator, log_scale: bool, jpeg_quality: int | None
) -> np.ndarray:
    """What a pattern becomes when saved from a viewer: 8-bit, often log-scaled, maybe JPEG.

    The display range is stretched between a low and a high percentile (clipping the direct
    beam, as a screen export does); ``log_scale`` applies the log first; ``jpeg_quality``
    compresses with that quality (blocking and ringing artefacts) and decodes again.
    """
    data = counts.astype(np.float64)
    if log_scale:
        data = np.log1p(np.maximum(data - data.min(), 0.0))
    lo = np.percentile(data, rng.uniform(0.0, 2.0))
    hi = np.percentile(data, rng.uniform(99.0, 100.0))
    out = np.clip((data - lo) / max(hi - lo, 1e-12), 0.0, 1.0)
    image = np.rint(out * 255.0).astype(np.uint8)
    if jpeg_quality is None:
        return image
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=int(jpeg_quality))
    buffer.seek(0)
    return np.asarray(Image.open(buffer).convert("L"), dtype=np.uint8)
