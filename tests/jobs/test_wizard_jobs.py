"""The wizard's compute jobs run headless: ranking by uncertainty, heat maps of mistakes."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from crystalview.core.progress import CancelToken, run_to_completion
from crystalview.jobs.mistakes import HEATMAP_THUMB, explain_mistakes
from crystalview.jobs.ranking import predict_probabilities
from crystalview.models.catalog import load_model
from crystalview.training.config import ValPrediction


@pytest.fixture
def images(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for i, shape in enumerate([(40, 40), (300, 200)]):
        path = tmp_path / f"img{i}.tif"
        tifffile.imwrite(path, rng.integers(0, 4000, shape).astype(np.uint16))
        paths.append(path)
    broken = tmp_path / "broken.tif"
    broken.write_bytes(b"not a tiff")
    return [*paths, broken]


def test_ranking_skips_unreadable_images(tiny_bundle, images):
    events = []
    job = predict_probabilities(load_model(tiny_bundle), images, CancelToken())
    found = run_to_completion(job, events.append)
    assert list(found) == images[:2]
    for row in found.values():
        assert len(row) == 2 and sum(row) == pytest.approx(1.0, abs=1e-5)
    assert events[-1].done == events[-1].total == 3
    assert all(e.message.startswith("Ranking ") for e in events)


def test_mistakes_are_drawn_with_their_heat_map(tiny_bundle, images):
    mistakes = [
        ValPrediction(images[1], 0, true=0, predicted=1, probabilities=[0.3, 0.7]),
        ValPrediction(images[2], 1, true=1, predicted=0, probabilities=[0.6, 0.4]),
    ]
    job = explain_mistakes(load_model(tiny_bundle), mistakes, ["spots", "rings"], CancelToken())
    good, bad = run_to_completion(job)
    assert good.predicted_name == "rings" and good.confidence == pytest.approx(0.7)
    assert good.rgb.dtype == np.uint8 and max(good.rgb.shape[:2]) <= HEATMAP_THUMB
    assert bad.rgb is None and bad.error
