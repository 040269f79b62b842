"""Real vendor files committed in tests/data/em (GPL copies): run even without ../shared."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from crystalview.io import open_image, open_images

EM = "em"
# file: (shape, pixel size, unit, modality)
EXPECTED = {
    "test_loading_image_saved_with_DM.tif": ((68, 68), 168.67, "nm", "TEM"),
    "olympus_SIS.tif": ((101, 112), 0.023928, "nm", "TEM"),
    "64x64_diffraction_acquire.emi": ((64, 64), 0.101572, "1/nm", "SAED"),
    "64x64_diffraction_acquire_1.ser": ((64, 64), 0.101572, "1/nm", "SAED"),
    "16x16_STEM_BF_DF_acquire.emi": ((16, 16), 21.510044, "nm", "STEM"),
    "16x16_STEM_BF_DF_acquire_2.ser": ((16, 16), 21.510044, "nm", "STEM"),
    "test_diffraction_pattern.dm3": ((87, 87), 0.174433, "1/nm", "SAED"),
    "test_STEM_image.dm3": ((68, 68), 0.248538, "nm", "STEM"),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_committed_files(test_data, name):
    shape, size, unit, modality = EXPECTED[name]
    image = open_image(test_data / EM / name)
    assert image.shape == shape
    assert image.pixel_unit == unit
    assert image.pixel_size == pytest.approx(size, rel=1e-3)
    assert str(image.modality) == modality


def test_ser_alone_keeps_its_reciprocal_calibration(test_data, tmp_path):
    lonely = tmp_path / "64x64_diffraction_acquire_1.ser"
    shutil.copy(test_data / EM / lonely.name, lonely)
    image = open_image(lonely)
    assert image.pixel_unit == "1/nm"
    assert image.pixel_size == pytest.approx(0.101572, rel=1e-4)
    assert str(image.modality) == "SAED"


def test_ser_read_through_its_emi_gets_instrument_facts(test_data):
    image = open_image(test_data / EM / "16x16_STEM_BF_DF_acquire_1.ser")
    assert image.instrument.microscope == "Tecnai 200 kV D2267 SuperTwin"
    assert image.instrument.beam_energy_kv == 200.0
    assert image.metadata["emi_file"].endswith("16x16_STEM_BF_DF_acquire.emi")
    assert image.dataset_count == 1


def test_dm_facts(test_data):
    image = open_image(test_data / EM / "test_STEM_image.dm3")
    assert image.format == "dm3" and image.data.dtype == np.uint32
    assert image.instrument.beam_energy_kv == 200.0
    assert image.instrument.magnification == 225000.0
    assert image.instrument.camera_length_mm == 135.0
    diffraction = open_image(test_data / EM / "test_diffraction_pattern.dm3")
    assert diffraction.is_diffraction
    assert diffraction.instrument.microscope == "FEI Tecnai"
    assert diffraction.instrument.detector == "BM-UltraScan"


def test_olympus_raw_page_first_preview_kept(test_data):
    images = open_images(test_data / EM / "olympus_SIS.tif")
    assert [image.data.dtype for image in images] == [np.uint16, np.uint8]
    assert images[1].color is not None and images[1].color.shape == (101, 112, 3)
    assert images[0].instrument.magnification == 600000.0
