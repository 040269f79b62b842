import math

import pytest

from crystalview.core.units import format_length, parse_unit, to_canonical


@pytest.mark.parametrize(
    ("value", "unit", "expected", "expected_unit"),
    [
        (7.70833e-09, "m", 7.70833, "nm"),
        (0.16867, "µm", 168.67, "nm"),
        (0.16867, "micron", 168.67, "nm"),
        (0.005506, "um", 5.506, "nm"),
        (56.79131, "Å", 5.679131, "nm"),
        (56.79131, "\u212b", 5.679131, "nm"),  # the Angstrom sign code point
        (2.3928e-11, "m", 0.023928, "nm"),
        (23.928, "pm", 0.023928, "nm"),
        (0.2723, "1 / nm", 0.2723, "1/nm"),
        (0.174433, "1/nm", 0.174433, "1/nm"),
        (114429680.2, "1/m", 0.1144296802, "1/nm"),
        (0.526851, "1 / µm", 0.000526851, "1/nm"),
        (1.0, "n_m", 1.0, "nm"),
        (3.0, "nm^-1", 3.0, "1/nm"),
    ],
)
def test_to_canonical_converts_vendor_units(value, unit, expected, expected_unit):
    converted, canonical_unit = to_canonical(value, unit)
    assert canonical_unit == expected_unit
    assert math.isclose(converted, expected, rel_tol=1e-9)


@pytest.mark.parametrize(
    ("value", "unit"),
    [
        (1.0, ""),
        (1.0, None),
        (1.0, "px"),
        (0.0, "nm"),
        (-2.0, "nm"),
        (float("nan"), "nm"),
        (float("inf"), "m"),
        ("abc", "nm"),
    ],
)
def test_to_canonical_refuses_unknown_or_invalid(value, unit):
    assert to_canonical(value, unit) is None


def test_parse_unit_marks_reciprocal():
    assert parse_unit("1/nm") == (1.0, True)
    assert parse_unit("nm") == (1.0, False)
    assert parse_unit("furlong") is None


@pytest.mark.parametrize(
    ("value", "reciprocal", "text"),
    [
        (500, False, "500 nm"),
        (2000, False, "2 µm"),
        (0.5, False, "500 pm"),
        (5, True, "5 1/nm"),
        (3e6, False, "3 mm"),
    ],
)
def test_format_length(value, reciprocal, text):
    assert format_length(value, reciprocal) == text


def test_format_length_rounds_to_significant_digits_in_a_human_unit():
    from crystalview.core.units import format_length

    assert format_length(18325.349807739, digits=4) == "18.33 µm"
    assert format_length(2.64e5, digits=4) == "264 µm"
    assert format_length(3372.0, digits=4) == "3.372 µm"
    assert format_length(999.96, digits=4) == "1 µm"
    assert format_length(0.0123456, digits=4) == "12.35 pm"
    assert format_length(2.5e6, digits=4) == "2.5 mm"
    assert format_length(0.027234, reciprocal=True, digits=4) == "0.02723 1/nm"
    assert format_length(200.0) == "200 nm"


def test_format_pixel_size_names_the_unit_per_pixel_or_says_uncalibrated():
    from crystalview.core.units import format_pixel_size

    assert format_pixel_size(2610.3, "nm") == "2.61 µm/px"
    assert format_pixel_size(0.0272, "1/nm") == "0.0272 1/nm/px"
    assert format_pixel_size(None, None) == "uncalibrated"
