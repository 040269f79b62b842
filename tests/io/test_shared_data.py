"""Conformance with the real microscope files in ../shared/data (facts from its MANIFEST.md)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from crystalview.io import open_image, open_images, read_thumbnail

# relative path: (shape, pixel size in canonical unit or None, unit, modality family)
# Pixel sizes are the MANIFEST's, converted: 0.16867 µm = 168.67 nm, 3.3724 µm, 2.614514 µm,
# 7.70833e-09 m, 2.3928e-11 m, 0.005506 µm, 0.001249 µm, 5.3024e-09 m, 2.7115e-08 m.
EXPECTED = {
    "tiff_plain/test_loading_image_saved_with_imageJ.tif": ((68, 68), 168.67, "nm", "TEM"),
    "tiff_plain/test_loading_image_saved_with_DM.tif": ((68, 68), 168.67, "nm", "TEM"),
    "tiff_plain/olympus_SIS.tif": ((101, 112), 0.023928, "nm", "TEM"),
    "tiff_fei/fei-sem-rbc.tif": ((1094, 1536), 7.70833, "nm", "SEM"),
    "tiff_fei/FEI-Helios-Ebeam-16bits.tif": ((471, 512), 3372.4, "nm", "SEM"),
    "tiff_zeiss/test_tiff_Zeiss_SEM_1k.tif": ((768, 1024), 2614.514, "nm", "SEM"),
    "tiff_hitachi/hitachi_TM4000_pollen_x200.tif": ((960, 1280), 496.0938, "nm", "SEM"),
    "tiff_jeol/JEOL-SightX-SAED-dummy.tif": ((556, 556), 0.2723, "1/nm", "SAED"),
    "dm3/test_diffraction_pattern.dm3": ((87, 87), 0.174433, "1/nm", "SAED"),
    "dm3/test_STEM_image.dm3": ((68, 68), 0.248538, "nm", "TEM"),
    "dm3/multi_signal.dm3": ((512, 512), 0.017752, "nm", "TEM"),
    "dm3/Fei HAADF-DE_location.dm3": ((4, 16), 5.506, "nm", "TEM"),
    "dm3/dd020.dm3": ((256, 256), None, None, "SAED"),
    "dm4/JEOL_HAADF_Image.dm4": ((112, 112), 1.249, "nm", "TEM"),
    "dm4/dmTest_float32_nonSquare_diffPixelSize.dm4": ((64, 128), 1.0, "nm", None),
    "emd_velox/EMDReader_Image_FEI.emd": ((512, 512), 5.30241, "nm", "TEM"),
    "emd_velox/FFTComplexEven.emd": ((128, 128), 27.115, "nm", "TEM"),
    "emd_velox/Camera Ceta Diffraction Micro.emd": ((512, 512), 0.11443, "1/nm", "SAED"),
    "mrc/HAADFscan.mrc": ((16, 16), 5.679131, "nm", "TEM"),
    "ser_emi/64x64_diffraction_acquire.emi": ((64, 64), 0.101572, "1/nm", "SAED"),
    "ser_emi/64x64_diffraction_acquire_1.ser": ((64, 64), 0.101572, "1/nm", "SAED"),
    "ser_emi/16x16_STEM_BF_DF_acquire.emi": ((16, 16), 21.510044, "nm", "TEM"),
    "ser_emi/16x16_STEM_BF_DF_acquire_1.ser": ((16, 16), 21.510044, "nm", "TEM"),
    "ser_emi/16x16_STEM_BF_DF_acquire_2.ser": ((16, 16), 21.510044, "nm", "TEM"),
    "ser_emi/16_STOimage.emi": ((1024, 1024), 0.010013, "nm", "TEM"),
    "ser_emi/16_STOimage_1.ser": ((1024, 1024), 0.010013, "nm", "TEM"),
    "jpeg/NFFA_SEM_L6_0a6f18702a4a32677c74ed390f3af7af.jpg": ((768, 1024), None, None, None),
}
# TEM and STEM are one family (transmission); the MANIFEST names HAADF images "STEM".
FAMILY = {"TEM": "TEM", "STEM": "TEM", "SEM": "SEM", "SAED": "SAED", "unknown": None}
# Tolerance: the MANIFEST rounds to 4-6 significant digits; 0.1 % covers that.
RTOL = 1e-3


@pytest.mark.parametrize("relative", sorted(EXPECTED))
def test_reads_manifest_facts(shared_data, relative):
    shape, size, unit, family = EXPECTED[relative]
    image = open_image(shared_data / relative)
    assert image.shape == shape
    assert image.pixel_unit == unit
    if size is None:
        assert image.pixel_size is None
    else:
        assert image.pixel_size == pytest.approx(size, rel=RTOL)
    if family is not None:
        assert FAMILY[str(image.modality)] == family, image.modality


def test_multi_dataset_files_put_the_real_space_image_first(shared_data):
    fft = open_images(shared_data / "emd_velox/FFTComplexEven.emd")
    assert [image.title for image in fft] == ["HAADF", "Half FFT"]
    assert fft[1].data.dtype == np.complex64 and fft[1].pixel_unit == "1/nm"
    assert [image.dataset_index for image in fft] == [0, 1]
    assert all(image.dataset_count == 2 for image in fft)
    detectors = open_images(shared_data / "ser_emi/16x16_STEM_BF_DF_acquire.emi")
    assert len(detectors) == 2
    olympus = open_images(shared_data / "tiff_plain/olympus_SIS.tif")
    assert olympus[0].data.dtype == np.uint16 and olympus[1].color is not None
    plot_file = open_images(shared_data / "dm3/multi_signal.dm3")
    assert len(plot_file) == 1 and int(plot_file[0].data.sum()) == 949490255


def test_instrument_facts(shared_data):
    zeiss = open_image(shared_data / "tiff_zeiss/test_tiff_Zeiss_SEM_1k.tif").instrument
    assert (zeiss.microscope, zeiss.beam_energy_kv, zeiss.magnification, zeiss.detector) == (
        "Merlin-61-08",
        25.0,
        105.0,
        "HE-SE2",
    )
    velox = open_image(shared_data / "emd_velox/EMDReader_Image_FEI.emd").instrument
    assert velox.microscope == "Talos" and velox.beam_energy_kv == 200.0
    assert velox.magnification == 40000.0 and velox.camera_length_mm == pytest.approx(98.0)
    stem = open_image(shared_data / "dm3/test_STEM_image.dm3").instrument
    assert stem.beam_energy_kv == 200.0 and stem.magnification == 225000.0
    tia = open_image(shared_data / "ser_emi/16x16_STEM_BF_DF_acquire.emi").instrument
    assert tia.microscope == "Tecnai 200 kV D2267 SuperTwin" and tia.beam_energy_kv == 200.0
    hitachi = open_image(shared_data / "tiff_hitachi/hitachi_TM4000_pollen_x200.tif").instrument
    assert (hitachi.microscope, hitachi.beam_energy_kv, hitachi.magnification) == (
        "TM4000",
        15.0,
        200.0,
    )


def test_metadata_is_json_serialisable(shared_data):
    for relative in EXPECTED:
        for image in open_images(shared_data / relative):
            json.dumps(image.metadata, allow_nan=False)


def test_thumbnails_of_every_file(shared_data):
    for relative in EXPECTED:
        thumb = read_thumbnail(shared_data / relative, max_size=64)
        assert thumb.dtype == np.float32 and thumb.ndim == 2
        assert max(thumb.shape) <= 64
        assert thumb.min() >= 0.0 and thumb.max() <= 1.0


def test_info_json_over_shared_data(shared_data):
    paths = [str(shared_data / relative) for relative in sorted(EXPECTED)]
    folder = shared_data / "labelled"  # a folder stands for the images under it, as in classify
    result = subprocess.run(
        [sys.executable, "-m", "crystalview", "info", "--json", *paths, str(folder)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0
    records = json.loads(result.stdout)
    assert [record["path"] for record in records[: len(paths)]] == paths
    in_folder = records[len(paths) :]
    assert len(in_folder) == sum(1 for p in folder.rglob("*") if p.is_file())
    assert all(record["path"].startswith(str(folder)) for record in in_folder)
    assert all(record["ok"] for record in records)
    assert "Traceback" not in result.stderr
    for record, relative in zip(records, sorted(EXPECTED), strict=False):
        shape, size, unit, _ = EXPECTED[relative]
        assert record["shape"] == list(shape)
        assert record["pixel_unit"] == unit
        if size is not None:
            assert record["pixel_size"] == pytest.approx(size, rel=RTOL)
