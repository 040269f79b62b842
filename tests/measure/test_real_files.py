"""The measuring maths on real microscope files, checked against crystallography rather than
against our own numbers: a cubic lattice's spacings and angles do not depend on calibration."""

from __future__ import annotations

import math

import pytest

from crystalview.measure.fft import angle_between_spots, diffractogram, strongest_spots


def test_srtio3_hrtem_fft_shows_a_cubic_lattice(shared_data):
    from crystalview.io import open_image

    m = open_image(shared_data / "ser_emi" / "16_STOimage.emi")
    assert m.pixel_unit == "nm"
    gram = diffractogram(m.image[256:768, 256:768], m.pixel_size)
    spots = strongest_spots(gram, count=6)
    by_g = sorted(spots, key=lambda s: s.g)
    first = [s for s in by_g if s.g < 2.7]  # {100}: 1/0.39 nm
    second = [s for s in by_g if 3.2 < s.g < 3.8]  # {110}
    assert len(first) == 2 and len(second) == 2
    # cubic: |g110| / |g100| = sqrt(2); (100) ⊥ (010); (110) at 45° to (100)
    ratio = (second[0].g + second[1].g) / (first[0].g + first[1].g)
    assert ratio == pytest.approx(math.sqrt(2), rel=0.01)
    assert angle_between_spots(*first) == pytest.approx(90.0, abs=1.5)
    assert min(angle_between_spots(first[0], s) for s in second) == pytest.approx(45.0, abs=1.5)
    # on the file's nominal calibration the (100) period reads 0.40 nm (SrTiO3: a = 0.3905 nm)
    assert 1 / first[0].g == pytest.approx(0.3905, rel=0.05)
