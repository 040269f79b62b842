"""Tiny synthetic labelled data for the training tests: three classes of distinct textures."""

from __future__ import annotations

import numpy as np
import pytest
import torch

CLASSES = ["horizontal", "vertical", "checker"]


def synthetic_images(
    n_per_class: int, size: int = 40, seed: int = 0
) -> list[tuple[np.ndarray, int]]:
    """Stripes along y, stripes along x, and a checkerboard, with random frequency, phase, noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    samples = []
    for _ in range(n_per_class):
        for label in range(3):
            frequency, phase = rng.uniform(0.5, 0.8), rng.uniform(0, 2 * np.pi)
            if label == 0:
                image = np.sin(frequency * yy + phase)
            elif label == 1:
                image = np.sin(frequency * xx + phase)
            else:
                image = np.sin(frequency * xx / 2 + phase) * np.sin(frequency * yy / 2)
            image = image + 0.3 * rng.standard_normal((size, size))
            samples.append(((image * 1000 + 5000).astype(np.uint16), label))
    return samples


@pytest.fixture(autouse=True)
def _one_thread():
    """Keep the 2-core test machine usable for everyone else."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def easy_samples() -> list[tuple[np.ndarray, int]]:
    return synthetic_images(20)
