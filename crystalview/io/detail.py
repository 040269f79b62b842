"""Which pixels of a huge TIFF to read for what the screen shows: pyramid level and window.

A mosaic larger than the memory budget is shown reduced (`crystalview.io.reduced`). Zoomed
in far enough, one reduced pixel covers several screen pixels and the picture turns blocky,
although the file holds the detail. `plan_detail` decides, from the part of the file in view
and the screen pixels it covers, whether a finer picture is worth reading and at which
resolution: the coarsest pyramid level (`choose_level`) whose pixels are still at least as
fine as the screen's, read every n-th pixel when even that is finer than needed, and only the
window in view (plus a margin, so a small pan stays sharp). `read_detail` reads it through the
region readers; the window's viewer (`crystalview.gui.detail`) runs it on a worker thread and
draws the patch over the reduced picture. Nothing here knows about Qt.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from crystalview.core.progress import CancelToken
from crystalview.io.tiff_regions import RegionImage

MARGIN = 0.25
"""Share of the view's size read beyond each edge, so a small pan needs no new read."""
MAX_DETAIL_PIXELS = 16 << 20
"""Most pixels one patch may hold (about four 4K screens), whatever the window's size."""


def level_step(levels: list[RegionImage], level: int) -> float:
    """How many full-resolution pixels one pixel of ``level`` spans (along the width).

    Pyramid writers halve with rounding up (410 → 205 → 103), so a level whose width is the
    full width divided by a whole number and rounded up spans exactly that number: its pixel
    ``i`` starts at file pixel ``n·i``, like every n-th pixel of a strided read.
    """
    full, width = levels[0].shape[1], levels[level].shape[1]
    whole = round(full / width)
    if whole >= 1 and -(-full // whole) == width:
        return float(whole)
    return full / width


def choose_level(levels: list[RegionImage], wanted_step: float) -> int:
    """The coarsest level whose pixels span at most ``wanted_step`` file pixels (0 if none)."""
    best = 0
    for index in range(1, len(levels)):
        if level_step(levels, index) <= wanted_step * (1 + 1e-9):
            best = index if level_step(levels, index) > level_step(levels, best) else best
    return best


@dataclass(frozen=True)
class DetailPlan:
    """A window of one pyramid level to read, every ``step``-th pixel.

    ``top … right`` are in that level's pixels; `file_rect` is where the patch lies in
    full-resolution file pixels.
    """

    level: int
    step: int
    top: int
    bottom: int
    left: int
    right: int
    level_scale: float
    """Full-resolution pixels per pixel of the level."""

    @property
    def file_rect(self) -> tuple[float, float, float, float]:
        """``(x, y, width, height)`` of the patch in full-resolution file pixels."""
        rows = -(-(self.bottom - self.top) // self.step)
        cols = -(-(self.right - self.left) // self.step)
        scale = self.level_scale
        return (
            self.left * scale,
            self.top * scale,
            cols * self.step * scale,
            rows * self.step * scale,
        )


def plan_detail(
    levels: list[RegionImage],
    view: tuple[float, float, float, float],
    screen: tuple[int, int],
    shown_step: float,
) -> DetailPlan | None:
    """What to read for ``view`` (``x0, y0, x1, y1`` in file pixels) drawn on ``screen``
    (``width, height`` in device pixels), over a picture already shown every
    ``shown_step``-th file pixel; None when that picture is as fine as the screen can show
    (or nothing of the file is in view)."""
    full_height, full_width = levels[0].shape
    x0, y0 = max(0.0, view[0]), max(0.0, view[1])
    x1, y1 = min(float(full_width), view[2]), min(float(full_height), view[3])
    if x1 <= x0 or y1 <= y0 or screen[0] <= 0 or screen[1] <= 0:
        return None
    file_per_screen = max((view[2] - view[0]) / screen[0], (view[3] - view[1]) / screen[1])
    wanted = max(1.0, file_per_screen)
    if shown_step <= wanted * (1 + 1e-9):
        return None  # the shown picture's pixels are no coarser than the screen's
    level = choose_level(levels, wanted)
    scale = level_step(levels, level)
    step = max(1, math.floor(wanted / scale + 1e-9))
    margin_x, margin_y = MARGIN * (x1 - x0), MARGIN * (y1 - y0)
    height, width = levels[level].shape
    left = max(0, math.floor((x0 - margin_x) / scale))
    top = max(0, math.floor((y0 - margin_y) / scale))
    right = min(width, math.ceil((x1 + margin_x) / scale))
    bottom = min(height, math.ceil((y1 + margin_y) / scale))
    while -(-(right - left) // step) * -(-(bottom - top) // step) > MAX_DETAIL_PIXELS:
        step += 1
    if step * scale >= shown_step:
        return None  # the budget allows nothing finer than what is shown
    left, top = left // step * step, top // step * step  # on the step's grid
    return DetailPlan(level, step, top, bottom, left, right, scale)


def read_detail(
    levels: list[RegionImage], plan: DetailPlan, cancel: CancelToken | None = None
) -> np.ndarray:
    """The pixels of ``plan`` from the file (native byte order)."""
    image = levels[plan.level]
    data = image.read_window(plan.top, plan.bottom, plan.left, plan.right, plan.step, cancel)
    return data.astype(data.dtype.newbyteorder("="), copy=False)
