"""Fixture generators for the IO tests: small TIFFs of every variant, written on the fly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


@pytest.fixture
def gradient() -> np.ndarray:
    """A 32 x 48 uint16 ramp: distinct values so reading errors show."""
    return (np.arange(32 * 48, dtype=np.uint32).reshape(32, 48) * 7 % 65536).astype(np.uint16)


@pytest.fixture
def write_tiff(tmp_path: Path):
    """``write_tiff(name, data, **tifffile_kwargs) -> Path`` into a temporary folder."""
    import tifffile

    def write(name: str, data: np.ndarray, **kwargs) -> Path:
        path = tmp_path / name
        tifffile.imwrite(path, data, **kwargs)
        return path

    return write
