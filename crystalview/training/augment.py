"""Augmentation per modality, applied to batches of already-preprocessed network inputs.

Diffraction patterns and real-space micrographs have different symmetries, so they get
different augmentations:

* diffraction (SAED): rotation about the beam centre (the crystal's in-plane orientation is
  arbitrary), Friedel symmetry (I(q) = I(-q): a 180° rotation about the centre shows the same
  physics) and dose, i.e. Poisson counting noise at a random exposure;
* real space (SEM, TEM, STEM): flips and 90° rotations (no preferred orientation), contrast and
  brightness changes (detector gain and offset) and Gaussian noise.

Augmentation runs on torch tensors ``(N, C, H, W)`` after preprocessing, so training and inference
share the exact preprocessing and only training adds variation. A ``torch.Generator`` drives every
random choice, which makes runs reproducible for a given seed.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from crystalview.training.config import AUGMENTATION_KEYS, default_augmentation

__all__ = ["augment_batch", "beam_centres", "check_augmentation", "default_augmentation"]

# Share of the brightest pixels whose centroid locates the direct beam.
_BEAM_QUANTILE = 0.999


def check_augmentation(settings: dict[str, Any]) -> dict[str, Any]:
    """Return ``settings`` after refusing unknown keys (a typo must not silently disable one)."""
    unknown = set(settings) - AUGMENTATION_KEYS
    if unknown:
        raise ValueError(
            f"unknown augmentation setting(s): {', '.join(sorted(unknown))}; "
            f"known: {', '.join(sorted(AUGMENTATION_KEYS))}"
        )
    return settings


def is_active(settings: dict[str, Any] | None) -> bool:
    """Whether the settings change anything at all."""
    return bool(settings) and any(bool(v) for v in settings.values())


# Views (manifest ``normalization["transform"]``) whose rows are angles about the beam centre:
# there a rotation of the pattern is a cyclic shift of the rows.
_POLAR_VIEWS = frozenset({"log_polar", "polar_autocorrelation"})
# Views that already averaged over angle: rotation and Friedel symmetry change nothing.
_ROTATION_FREE_VIEWS = frozenset({"log_polar_mean"})


def augment_batch(
    batch: torch.Tensor,
    settings: dict[str, Any],
    generator: torch.Generator,
    view: str = "none",
) -> torch.Tensor:
    """A randomly augmented copy of ``batch`` ``(N, C, H, W)``; the input is not modified.

    ``view`` is the model's input transform: rotation about the beam must act on the pattern,
    so for polar views it becomes a cyclic shift of the angle rows, and for angle-averaged
    views it is skipped.
    """
    out = batch
    rotates = settings.get("rotation_deg") or settings.get("friedel")
    if rotates and view in _POLAR_VIEWS:
        out = _roll_angles(
            out,
            float(settings.get("rotation_deg") or 0.0),
            bool(settings.get("friedel")),
            generator,
        )
    elif rotates and view not in _ROTATION_FREE_VIEWS:
        out = _rotate_about_beam(
            out,
            float(settings.get("rotation_deg") or 0.0),
            bool(settings.get("friedel")),
            generator,
        )
    if settings.get("flips") or settings.get("rot90"):
        out = _dihedral(out, bool(settings.get("flips")), bool(settings.get("rot90")), generator)
    if settings.get("dose"):
        low, high = (float(v) for v in settings["dose"])
        out = _poisson_dose(out, low, high, generator)
    if settings.get("contrast"):
        out = _contrast(out, float(settings["contrast"]), generator)
    if settings.get("noise"):
        out = _gaussian_noise(out, float(settings["noise"]), generator)
    return out if out is not batch else batch.clone()


def _uniform(n: int, low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=generator)


def beam_centres(batch: torch.Tensor) -> torch.Tensor:
    """``(N, 2)`` beam centre (x, y) of each pattern in normalised [-1, 1] coordinates.

    The direct beam is the brightest feature of a diffraction pattern, so the centroid of the
    brightest 0.1 % of pixels finds it even when the pattern is off-centre.
    """
    n, _, h, w = batch.shape
    grey = batch.float().mean(dim=1).reshape(n, -1)
    threshold = torch.quantile(grey, _BEAM_QUANTILE, dim=1, keepdim=True)
    weights = (grey >= threshold).float()
    ys = torch.linspace(-1.0, 1.0, h, device=batch.device)
    xs = torch.linspace(-1.0, 1.0, w, device=batch.device)
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    total = weights.sum(dim=1)
    cx = (weights * grid_x.reshape(1, -1)).sum(dim=1) / total
    cy = (weights * grid_y.reshape(1, -1)).sum(dim=1) / total
    return torch.stack([cx, cy], dim=1)


def _rotate_about_beam(
    batch: torch.Tensor, max_deg: float, friedel: bool, generator: torch.Generator
) -> torch.Tensor:
    n = batch.shape[0]
    angles = _uniform(n, -max_deg, max_deg, generator) * (math.pi / 180.0)
    if friedel:
        angles = angles + math.pi * (torch.rand(n, generator=generator) < 0.5).float()
    angles = angles.to(batch.device)
    centre = beam_centres(batch)
    cos, sin = torch.cos(angles), torch.sin(angles)
    rotation = torch.stack([torch.stack([cos, -sin], 1), torch.stack([sin, cos], 1)], 1)
    # Output pixel p samples the input at R (p - c) + c: a rotation about the beam centre c.
    shift = centre - torch.einsum("nij,nj->ni", rotation, centre)
    theta = torch.cat([rotation, shift.unsqueeze(2)], dim=2).to(batch.dtype)
    grid = F.affine_grid(theta, list(batch.shape), align_corners=True)
    return F.grid_sample(batch, grid, mode="bilinear", padding_mode="border", align_corners=True)


def _roll_angles(
    batch: torch.Tensor, max_deg: float, friedel: bool, generator: torch.Generator
) -> torch.Tensor:
    """Rotate polar views (rows = angles over 360°) by whole rows, with wrap-around."""
    n, n_angles = batch.shape[0], batch.shape[2]
    max_rows = round(max_deg / 360.0 * n_angles)
    shifts = torch.randint(-max_rows, max_rows + 1, (n,), generator=generator)
    if friedel:
        shifts = shifts + (n_angles // 2) * (torch.rand(n, generator=generator) < 0.5).long()
    return torch.stack([torch.roll(batch[i], int(shifts[i]), dims=1) for i in range(n)])


def _dihedral(
    batch: torch.Tensor, flips: bool, rot90: bool, generator: torch.Generator
) -> torch.Tensor:
    n = batch.shape[0]
    turns = torch.randint(0, 4, (n,), generator=generator) if rot90 else torch.zeros(n, dtype=int)
    mirror = torch.rand(n, generator=generator) < 0.5 if flips else torch.zeros(n, dtype=bool)
    images = []
    for i in range(n):
        image = batch[i]
        if mirror[i]:
            image = torch.flip(image, dims=(2,))
        if turns[i]:
            image = torch.rot90(image, int(turns[i]), dims=(1, 2))
        images.append(image)
    return torch.stack(images)


def _poisson_dose(
    batch: torch.Tensor, low: float, high: float, generator: torch.Generator
) -> torch.Tensor:
    """Counting noise as if the brightest pixel had received a random dose in [low, high]."""
    n = batch.shape[0]
    dose = torch.exp(_uniform(n, math.log(low), math.log(high), generator)).to(batch.device)
    dose = dose.view(n, 1, 1, 1)
    floor = batch.amin(dim=(1, 2, 3), keepdim=True)
    span = (batch.amax(dim=(1, 2, 3), keepdim=True) - floor).clamp_min(1e-8)
    counts = (batch - floor) / span * dose
    noisy = torch.poisson(counts.cpu(), generator=generator).to(batch.device)
    return noisy / dose * span + floor


def _contrast(batch: torch.Tensor, amount: float, generator: torch.Generator) -> torch.Tensor:
    n = batch.shape[0]
    gain = _uniform(n, 1.0 - amount, 1.0 + amount, generator).view(n, 1, 1, 1).to(batch.device)
    offset = _uniform(n, -amount, amount, generator).view(n, 1, 1, 1).to(batch.device)
    mean = batch.mean(dim=(1, 2, 3), keepdim=True)
    std = batch.std(dim=(1, 2, 3), keepdim=True)
    return mean + (batch - mean) * gain + offset * std


def _gaussian_noise(batch: torch.Tensor, amount: float, generator: torch.Generator) -> torch.Tensor:
    n = batch.shape[0]
    sigma = _uniform(n, 0.0, amount, generator).view(n, 1, 1, 1).to(batch.device)
    std = batch.std(dim=(1, 2, 3), keepdim=True)
    noise = torch.randn(batch.shape, generator=generator).to(batch.device)
    return batch + noise * sigma * std
