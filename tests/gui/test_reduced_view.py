"""A mosaic larger than the memory budget opens in the window at reduced resolution, and says so."""

from __future__ import annotations

import numpy as np
import pytest

from crystalview.core.memory import set_memory_budget
from crystalview.io.reduced import reduction_step

BUDGET = 64 * 1024


@pytest.fixture
def small_budget():
    set_memory_budget(BUDGET)
    yield BUDGET
    set_memory_budget(None)


def test_a_huge_mosaic_is_shown_reduced_with_a_notice_and_the_right_scale(
    qtbot, window, tmp_path, make_tiff, small_budget
):
    xx = np.mgrid[:300, :410][1]
    mosaic = make_tiff(
        tmp_path / "mosaic.tif", (np.sin(xx / 5.0) * 20000 + 30000).astype(np.uint16), 2.0
    )
    small = make_tiff(tmp_path / "small.tif", np.arange(400, dtype=np.uint16).reshape(20, 20))
    window.open_paths([mosaic, small])
    qtbot.waitUntil(
        lambda: window.gallery_model.rowCount() == 2 and not window.pool.active(), timeout=60_000
    )
    assert window.last_report is None or not window.last_report.failures
    by_name = {e.path.name: e for e in window.gallery_model.entries}
    window.select_entry(by_name["mosaic.tif"])
    viewer = window.viewer
    step = reduction_step((300, 410), 2, BUDGET)
    assert viewer.micrograph.shape == (-(-300 // step), -(-410 // step))
    assert viewer.reduced_notice.isVisible()
    assert "reduced resolution" in viewer.reduced_notice.text()
    assert "410 × 300" in viewer.reduced_notice.text()
    # the scale bar measures reduced pixels: each spans `step` file pixels of 2 nm
    assert viewer.micrograph.pixel_size == pytest.approx(2.0 * step)
    assert viewer.scale_bar.text.endswith("nm")
    assert viewer.readout_text(3, 2).startswith(f"x {3 * step}  y {2 * step}")

    window.select_entry(by_name["small.tif"])
    assert not viewer.reduced_notice.isVisible()
