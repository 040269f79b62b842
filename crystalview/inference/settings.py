"""How a model is run: the one settings object prediction, heat maps and the tile overlay share.

Torch-free on purpose: the window's docks build and validate it without loading the
deep-learning stack, and the same object travels unchanged from the model dock to `tile_grid`.
"""

from __future__ import annotations

from dataclasses import dataclass

from crystalview.core.errors import CrystalViewError

DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda", "mps")
"""Device preferences a user can choose: ``auto`` is CUDA, then Apple MPS, then the CPU."""

MIN_TILE_SIZE = 8
"""Smallest tile side (model pixels) worth sending through a network."""


@dataclass(frozen=True)
class InferenceSettings:
    """How to run a model (validated on construction; frozen, so it can key a cache).

    Attributes
    ----------
    tile_size
        Tile side in model pixels (image pixels unless the image is resampled to the model's
        pixel size); ``None`` uses the model's input size. Tiles are scaled to the input size.
    overlap
        Minimum fraction by which neighbouring tiles overlap, in [0, 1).
    batch_size
        Tiles per forward pass.
    device
        One of `DEVICES`: ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"mps"``.
    fast
        Channels-last and reduced precision where the device does it natively.
    probability_map
        Also compute the stitched per-class map (skip it for batch runs that only need labels).
    """

    tile_size: int | None = None
    overlap: float = 0.25
    batch_size: int = 32
    device: str = "auto"
    fast: bool = True
    probability_map: bool = True

    def __post_init__(self) -> None:
        if self.tile_size is not None and int(self.tile_size) < MIN_TILE_SIZE:
            raise CrystalViewError(
                f"tile size {self.tile_size} px is too small (at least {MIN_TILE_SIZE})"
            )
        if not 0.0 <= float(self.overlap) < 1.0:
            raise CrystalViewError(f"overlap must be in [0, 1), got {self.overlap}")
        if int(self.batch_size) < 1:
            raise CrystalViewError(f"batch size must be at least 1, got {self.batch_size}")
        if self.device not in DEVICES:
            raise CrystalViewError(f"unknown device {self.device!r}; choose {', '.join(DEVICES)}")
