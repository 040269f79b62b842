import numpy as np
import pytest

from crystalview.core.micrograph import Micrograph, Modality


def test_stack_exposes_first_frame_and_shape():
    data = np.arange(2 * 3 * 4, dtype=np.uint16).reshape(2, 3, 4)
    micrograph = Micrograph(data=data, pixel_size=0.5, pixel_unit="nm", path="/tmp/a.tif")
    assert micrograph.n_frames == 2
    assert micrograph.shape == (3, 4)
    assert np.array_equal(micrograph.image, data[0])
    assert micrograph.title == "a"
    assert micrograph.data.dtype == np.uint16


def test_pixel_size_and_unit_must_come_together():
    with pytest.raises(ValueError):
        Micrograph(data=np.zeros((2, 2)), pixel_size=1.0)
    with pytest.raises(ValueError):
        Micrograph(data=np.zeros((2, 2)), pixel_size=-1.0, pixel_unit="nm")


def test_diffraction_flag_from_modality_or_unit():
    assert Micrograph(data=np.zeros((2, 2)), modality=Modality.SAED).is_diffraction
    assert Micrograph(data=np.zeros((2, 2)), pixel_size=0.1, pixel_unit="1/nm").is_diffraction
    assert not Micrograph(data=np.zeros((2, 2)), pixel_size=0.1, pixel_unit="nm").is_diffraction


def test_summary_is_json_ready():
    import json

    micrograph = Micrograph(data=np.zeros((5, 6), np.float32), modality=Modality.SEM)
    summary = micrograph.summary()
    json.dumps(summary)
    assert summary["shape"] == [5, 6]
    assert summary["pixel_size"] is None
    assert summary["modality"] == "SEM"


def test_multi_dataset_display_name():
    micrograph = Micrograph(
        data=np.zeros((2, 2)), path="/x/f.emi", title="DF", dataset_index=1, dataset_count=2
    )
    assert micrograph.display_name == "f.emi [DF]"
