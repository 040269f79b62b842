"""The image-kind detector's weights file: checked like a model bundle, never unpickled."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from crystalview.core.errors import ModelBundleError
from crystalview.inference.image_kind import measure_image_kind, stretched_copy
from crystalview.inference.kind_net import (
    INPUT_SIDE,
    POLAR_REACH,
    WEIGHTS_PATH,
    ImageKindNet,
    kind_probabilities,
    load_detector,
    network_input,
    polar_view,
    shipped_detector,
)

THRESHOLDS = {"other_above": "0.5", "spots_above": "0.6", "rings_above": "0.7"}


def write_detector(path, net=None, metadata=THRESHOLDS):
    net = net or ImageKindNet()
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path), metadata)
    return path


def test_the_shipped_detector_loads_with_its_thresholds():
    detector = shipped_detector()
    limits = detector.thresholds
    assert 0.5 <= limits.other_above < 1 and 0.5 <= limits.spots_above < 1
    assert 0.5 <= limits.rings_above < 1
    assert not detector.net.training
    assert WEIGHTS_PATH.stat().st_size < 1_000_000


def test_a_detector_file_round_trips_and_its_thresholds_are_read(tmp_path):
    torch.manual_seed(3)
    net = ImageKindNet()
    detector = load_detector(write_detector(tmp_path / "d.safetensors", net))
    assert detector.thresholds.spots_above == pytest.approx(0.6)
    x = torch.rand(1, 1, INPUT_SIDE, INPUT_SIDE)
    centre = torch.tensor([[60.0, 70.0]])
    net.eval()
    with torch.inference_mode():
        assert torch.allclose(detector.net(x, centre), net(x, centre))


def test_a_detector_without_thresholds_is_refused(tmp_path):
    path = write_detector(tmp_path / "d.safetensors", metadata={"other_above": "0.5"})
    with pytest.raises(ModelBundleError, match="thresholds"):
        load_detector(path)


def test_a_detector_of_another_shape_is_refused(tmp_path):
    path = tmp_path / "d.safetensors"
    save_file({"features.0.weight": torch.zeros(4, 1, 5, 5)}, str(path), THRESHOLDS)
    with pytest.raises(ModelBundleError, match=r"lack|shape"):
        load_detector(path)


def test_a_truncated_or_lying_detector_file_is_refused(tmp_path):
    good = write_detector(tmp_path / "good.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(good[: len(good) // 2])
    with pytest.raises(ModelBundleError):
        load_detector(tmp_path / "cut.safetensors")
    header = json.dumps({"__metadata__": THRESHOLDS, "x": {"dtype": "F32", "shape": [9**9],
                         "data_offsets": [0, 4 * 9**9]}}).encode()  # fmt: skip
    (tmp_path / "lie.safetensors").write_bytes(struct.pack("<Q", len(header)) + header)
    with pytest.raises(ModelBundleError):
        load_detector(tmp_path / "lie.safetensors")
    with pytest.raises(ModelBundleError, match="cannot be read"):
        load_detector(tmp_path / "missing.safetensors")


def test_network_input_is_square_whatever_the_image_shape():
    stretched = stretched_copy(np.random.default_rng(0).poisson(5, (300, 700)))
    x = network_input(stretched)
    assert x.shape == (INPUT_SIDE, INPUT_SIDE) and x.dtype == np.float32
    assert x.min() >= 0 and x.max() <= 1
    p = kind_probabilities(x)
    assert p.shape == (3,) and p.sum() == pytest.approx(1.0)


def test_the_polar_view_turns_a_ring_about_the_centre_into_a_row():
    yy, xx = np.indices((INPUT_SIDE, INPUT_SIDE))
    centre = (50.0, 75.0)
    ring = (np.abs(np.hypot(yy - centre[0], xx - centre[1]) - 30) < 1.5).astype(np.float32)
    view = polar_view(torch.from_numpy(ring)[None, None], torch.tensor([centre]))[0, 0].numpy()
    row = round(30 / (POLAR_REACH * INPUT_SIDE) * (view.shape[0] - 1))
    assert view.mean(axis=1).argmax() == row
    assert view[row].min() > 0.5  # bright at every angle
    off_centre = polar_view(torch.from_numpy(ring)[None, None], torch.tensor([[64.0, 64.0]]))
    assert off_centre[0, 0, row].min() < 0.1


def test_the_look_follows_the_detector_it_is_given(tmp_path):
    """A detector that always says "other" makes every pattern not a pattern."""
    net = ImageKindNet()
    with torch.no_grad():
        net.head.weight.zero_()
        net.head.bias.copy_(torch.tensor([-5.0, -5.0, 5.0]))
    detector = load_detector(write_detector(tmp_path / "d.safetensors", net))
    yy, xx = np.indices((128, 128))
    rings = 1000 * np.exp(-np.hypot(yy - 64, xx - 64) / 10) + 50 * (
        np.hypot(yy - 64, xx - 64) % 20 < 2
    )
    look = measure_image_kind(rings, detector)
    assert look.kind == "real-space" and look.p_other > 0.99
    assert not look.is_diffraction


def undecided_detector(tmp_path):
    """A detector that always says "a pattern, rings or spots: even odds"."""
    net = ImageKindNet()
    with torch.no_grad():
        net.head.weight.zero_()
        net.head.bias.copy_(torch.tensor([0.0, 0.0, -5.0]))
    return load_detector(write_detector(tmp_path / "undecided.safetensors", net))


def test_a_pattern_the_network_leaves_open_is_spots_when_one_net_indexes_it(tmp_path):
    from test_spot_lattice import draw, spotty_rings

    detector = undecided_detector(tmp_path)
    crystal = measure_image_kind(draw("hexagonal", dose=200.0, beam_stop=True), detector)
    assert crystal.kind == "spots"
    assert "2-D net indexes" in crystal.reason
    assert crystal.net is not None and crystal.net.n_indexed >= 10
    grains = measure_image_kind(spotty_rings(1), detector)
    assert grains.kind == "diffraction"  # no net: left open, never pushed to rings
    assert grains.net is not None and grains.net.indexed_share < 0.4
