"""Fuzzing the readers and the bundle loader: mutated files give a `CrystalViewError` or open.

Hypothesis mutates small valid files (overwritten bytes, overwritten 32-bit words with
boundary values, truncation), biased to the first bytes where headers and tag tables live. The
only outcomes allowed are a successful open (with displayable levels) or a `CrystalViewError`
subclass; any other exception is a reader bug. The budget is small and derandomised so CI is
deterministic; ``benchmarks/fuzz_readers.py`` and ``benchmarks/fuzz_bundles.py`` run the same
idea for as long as you like.
"""

from __future__ import annotations

import io
import struct
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crystalview.core.errors import CrystalViewError, ModelBundleError
from crystalview.io import open_images
from crystalview.io.display import auto_levels

TEST_DATA = Path(__file__).resolve().parent.parent / "data" / "em"
FUZZ_BUDGET = 256 * 1024**2
BOUNDARY_WORDS = (0, 1, 0x7F, 0xFF, 0x100, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF)
FUZZ_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _tiff_seed() -> bytes:
    import tifffile

    buffer = io.BytesIO()
    data = (np.arange(12 * 10) * 97 % 65536).astype(np.uint16).reshape(12, 10)
    tifffile.imwrite(buffer, data, compression="zlib", resolution=(2.0, 2.0), description="fuzz")
    return buffer.getvalue()


def _png_seed() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray((np.arange(64) * 3).astype(np.uint8).reshape(8, 8)).save(buffer, "PNG")
    return buffer.getvalue()


@st.composite
def mutated(draw, seed: bytes) -> bytes:
    """``seed`` with 1-6 mutations; half the positions fall in the first 512 bytes (headers)."""
    content = bytearray(seed)
    for _ in range(draw(st.integers(1, 6))):
        size = len(content)
        if size < 8:
            break
        limit = draw(st.sampled_from([min(size, 512), size])) - 1
        at = draw(st.integers(0, limit))
        kind = draw(st.sampled_from(["byte", "word", "cut"]))
        if kind == "byte":
            content[at] = draw(st.integers(0, 255))
        elif kind == "word":
            at = min(at, size - 4)
            order = draw(st.sampled_from("<>"))
            content[at : at + 4] = struct.pack(order + "I", draw(st.sampled_from(BOUNDARY_WORDS)))
        else:
            del content[max(at, 1) :]
    return bytes(content)


def _open_or_refuse(content: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"fuzzed{suffix}"
        path.write_bytes(content)
        try:
            images = open_images(path, memory_budget=FUZZ_BUDGET, timeout_s=10)
        except CrystalViewError:
            return
        for image in images:
            lo, hi = auto_levels(image.image, image.modality)
            assert np.isfinite(lo) and np.isfinite(hi) and lo < hi


@pytest.mark.timeout(300)
@FUZZ_SETTINGS
@given(content=mutated(_tiff_seed()))
def test_fuzz_tiff(content):
    _open_or_refuse(content, ".tif")


@pytest.mark.timeout(300)
@FUZZ_SETTINGS
@given(content=mutated(_png_seed()))
def test_fuzz_png(content):
    _open_or_refuse(content, ".png")


@pytest.mark.timeout(300)
@FUZZ_SETTINGS
@given(content=mutated((TEST_DATA / "test_diffraction_pattern.dm3").read_bytes()))
def test_fuzz_dm3(content):
    _open_or_refuse(content, ".dm3")


@pytest.mark.timeout(300)
@FUZZ_SETTINGS
@given(content=mutated((TEST_DATA / "64x64_diffraction_acquire_1.ser").read_bytes()))
def test_fuzz_ser(content):
    _open_or_refuse(content, ".ser")


def _bundle_seed() -> bytes:
    from corpus_models import bundle_bytes_for_fuzzing

    return bundle_bytes_for_fuzzing()


@pytest.mark.timeout(300)
@FUZZ_SETTINGS
@given(content=mutated(_bundle_seed()))
def test_fuzz_bundle(content):
    from crystalview.models.bundle import load_bundle

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzzed.cvmodel"
        path.write_bytes(content)
        try:
            loaded = load_bundle(path)
        except ModelBundleError:
            return
        assert not loaded.model.training
