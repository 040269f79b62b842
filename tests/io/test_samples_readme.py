"""resources/samples/README.md says what the shipped samples are: it must agree with the reader."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from crystalview.core.units import format_pixel_size
from crystalview.io import open_image

SAMPLES = Path(__file__).parents[2] / "resources" / "samples"


def _rows() -> list[tuple[str, str]]:
    text = (SAMPLES / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([^`]+)`[^|]*\| ([^|]+) \|", text, flags=re.MULTILINE)
    assert len(rows) >= 5
    return rows


@pytest.mark.parametrize(("name", "description"), _rows())
def test_readme_pixel_size_and_modality_match_the_file(name, description):
    image = open_image(SAMPLES / name)
    size = format_pixel_size(image.pixel_size, image.pixel_unit)  # "2.615 µm/px"
    value, unit = size.removesuffix("/px").split(" ", 1)
    stated = re.search(rf"{re.escape(value)} {re.escape(unit)}(/px| per pixel)", description)
    assert stated, f"{name}: README does not give {size}: {description}"
    height, width = image.shape
    assert f"{width} x {height}" in description
    assert str(image.modality) in description, description
