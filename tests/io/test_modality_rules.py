"""Modality rules that metadata decides: an SEM is never a STEM; chamber cameras are optical."""

from __future__ import annotations

import numpy as np
import tifffile

from crystalview.core.micrograph import Modality
from crystalview.io import open_image
from crystalview.io.modality import modality_from_metadata

# What rosettasciio and our raw-key lookups give for a Gatan DigiScan DM4 recorded on a Zeiss
# SEM's cathodoluminescence detector (Gatan MonoCL): DigiScan tags, an SEM, 3 kV, signal CL.
CL_ON_SEM = [
    ("ImageList.TagGroup0.ImageTags.DigiScan.Sample Time", 10.0),
    ("ImageList.TagGroup0.ImageTags.Microscope Info.Name", "Zeiss Merlin"),
    ("ImageList.TagGroup0.ImageTags.Meta Data.Signal", "CL"),
]


def test_a_cl_map_from_an_sem_is_sem_not_stem():
    # Gatan software files everything under the TEM family; before, DigiScan alone said STEM
    assert modality_from_metadata(CL_ON_SEM, "nm", Modality.TEM) is Modality.SEM
    assert (
        modality_from_metadata(CL_ON_SEM[:1], "nm", Modality.TEM, microscope="Zeiss Merlin")
        is Modality.SEM
    )
    assert modality_from_metadata(CL_ON_SEM[:1], "nm", Modality.TEM, beam_energy_kv=3.0) is (
        Modality.SEM
    )


def test_scans_on_a_tem_are_still_stem():
    assert modality_from_metadata(CL_ON_SEM[:1], "nm", Modality.TEM, beam_energy_kv=200.0) is (
        Modality.STEM
    )
    assert modality_from_metadata([], "nm", Modality.TEM, detector="HAADF", microscope="Titan") is (
        Modality.STEM
    )


def _fei_tiff(path, detector: str, hv: float):
    text = (
        "[User]\r\nDate=01/02/2024\r\n[System]\r\nType=SEM\r\nSystemType=Quanta FEG 250\r\n"
        f"[Beam]\r\nHV={hv}\r\n[EBeam]\r\nHV={hv}\r\n[Detectors]\r\nNumber=1\r\nName={detector}\r\n"
        "Mode=\r\n[Scan]\r\nPixelWidth=1e-08\r\nPixelHeight=1e-08\r\n"
    )
    tifffile.imwrite(path, np.zeros((16, 16), np.uint8), extratags=[(34682, "s", 0, text, True)])
    return path


def test_fei_chamber_and_navigation_cameras_are_optical(tmp_path):
    assert open_image(_fei_tiff(tmp_path / "chamber.tif", "CCD", 0)).modality is Modality.OPTICAL
    assert open_image(_fei_tiff(tmp_path / "nav.tif", "Nav-Cam", 0)).modality is Modality.OPTICAL
    assert open_image(_fei_tiff(tmp_path / "se.tif", "ETD", 5000)).modality is Modality.SEM


def test_optical_images_are_not_offered_to_electron_image_models():
    from crystalview.models.manifest import MODALITIES

    assert "optical" not in MODALITIES  # a model never declares it, so none runs on them
