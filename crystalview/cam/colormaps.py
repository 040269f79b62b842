"""Colour maps for heat-map overlays, rendered without matplotlib or Qt.

Each map is a handful of anchor colours interpolated linearly into a 256-entry lookup table. The
anchors approximate the perceptually uniform maps microscopists know from matplotlib (inferno,
viridis, magma), close enough that an exported PNG looks like the window's overlay.
"""

from __future__ import annotations

import numpy as np

# Evenly spaced anchors from 0 to 1, as 8-bit RGB.
_ANCHORS: dict[str, tuple[tuple[int, int, int], ...]] = {
    "inferno": (
        (0, 0, 4),
        (31, 12, 72),
        (85, 15, 109),
        (136, 34, 106),
        (186, 54, 85),
        (227, 89, 51),
        (249, 140, 10),
        (249, 201, 50),
        (252, 255, 164),
    ),
    "magma": (
        (0, 0, 4),
        (28, 16, 68),
        (79, 18, 123),
        (129, 37, 129),
        (181, 54, 122),
        (229, 80, 100),
        (251, 135, 97),
        (254, 194, 135),
        (252, 253, 191),
    ),
    "viridis": (
        (68, 1, 84),
        (71, 44, 122),
        (59, 81, 139),
        (44, 113, 142),
        (33, 144, 141),
        (39, 173, 129),
        (92, 200, 99),
        (170, 220, 50),
        (253, 231, 37),
    ),
    # The rainbow map many older papers use; offered because users compare with them.
    "jet": (
        (0, 0, 143),
        (0, 0, 255),
        (0, 127, 255),
        (0, 255, 255),
        (127, 255, 127),
        (255, 255, 0),
        (255, 127, 0),
        (255, 0, 0),
        (128, 0, 0),
    ),
    "gray": ((0, 0, 0), (255, 255, 255)),
}

COLORMAPS: tuple[str, ...] = tuple(_ANCHORS)


def colormap_lut(name: str = "inferno", n: int = 256) -> np.ndarray:
    """Lookup table ``(n, 3)`` uint8 for the colour map ``name``.

    Raises
    ------
    ValueError
        For an unknown name; the message lists the available maps.
    """
    try:
        anchors = np.asarray(_ANCHORS[name], dtype=np.float64)
    except KeyError:
        raise ValueError(
            f"unknown colour map {name!r}; choose one of {', '.join(COLORMAPS)}"
        ) from None
    positions = np.linspace(0.0, 1.0, len(anchors))
    samples = np.linspace(0.0, 1.0, n)
    channels = [np.interp(samples, positions, anchors[:, c]) for c in range(3)]
    return np.clip(np.rint(np.stack(channels, axis=1)), 0, 255).astype(np.uint8)


def apply_colormap(values: np.ndarray, name: str = "inferno") -> np.ndarray:
    """Map values in 0..1 (clipped; NaN as 0) to RGB uint8 of shape ``values.shape + (3,)``."""
    lut = colormap_lut(name)
    clean = np.nan_to_num(np.asarray(values, dtype=np.float32), nan=0.0)
    index = np.rint(np.clip(clean, 0.0, 1.0) * (len(lut) - 1)).astype(np.intp)
    return lut[index]


def blend_heatmap(
    grey: np.ndarray, heatmap: np.ndarray, colormap: str = "inferno", opacity: float = 0.5
) -> np.ndarray:
    """``grey`` (display values 0..1) under ``heatmap`` (0..1) at ``opacity``, as RGB uint8.

    The one blend of a heat map over its image: a uniform opacity, as the viewer's heat-map layer
    composes it, so the exported PNG and the wizard's mistakes look like the window.
    """
    alpha = float(np.clip(opacity, 0.0, 1.0))
    colour = apply_colormap(heatmap, colormap).astype(np.float32)
    blended = (1.0 - alpha) * np.asarray(grey, dtype=np.float32)[..., None] * 255.0 + alpha * colour
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)
