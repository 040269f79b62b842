"""The small network that tells ring patterns, spot patterns and everything else apart.

Hand-made measures of "is this a diffraction pattern" (radial share, Friedel symmetry …) were
fitted to our own simulator and flagged one independent pattern in six as not a diffraction
pattern, while letting a third of the particle and fibre images through. A 200 k-parameter
CNN learns the look instead, from a 128 x 128 log-scaled copy of the image and from its polar
view about the beam centre (a ring is a straight row there, a spot stays a dot; the
difference between a film of coarse grains and a single crystal is easier to see so). It is
trained by ``recipes/train_image_kind.py`` on `crystalview.sim` patterns and on the training
look-alikes of ``recipes/lookalikes.py``; the test suite's wrong-kind images, the independent
simulator's patterns and the real files of ``../shared/data`` are kept out, so they check it
(``benchmarks/image_kind/check_detector.py``). The file the recipe writes,
``image_kind_net.safetensors`` beside this module, carries the decision thresholds in its
metadata, so weights and thresholds cannot drift apart. Inference takes a few milliseconds on
a CPU.
"""

from __future__ import annotations

import functools
import itertools
import json
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load as load_safetensors
from torch import nn

from crystalview.core.errors import ModelBundleError
from crystalview.inference.diffraction import find_beam_centre
from crystalview.models.safetensors_check import check_against, parse_header

INPUT_SIDE = 128
CLASSES = ("rings", "spots", "other")
WEIGHTS_PATH = Path(__file__).with_name("image_kind_net.safetensors")
THRESHOLD_KEYS = ("other_above", "spots_above", "rings_above")


POLAR_RADII = 96
POLAR_ANGLES = 128
# The polar view reaches the corners of the image even from an off-centre beam.
POLAR_REACH = 0.75


def polar_view(x: torch.Tensor, centre: torch.Tensor) -> torch.Tensor:
    """``(N, 1, POLAR_RADII, POLAR_ANGLES)`` resampling of ``x`` about ``centre`` ((y, x) px).

    Rows are radii from the centre out to `POLAR_REACH` x the side, columns angles: a ring is
    a row of constant brightness, a spot a dot, whatever their radius. Outside the image is 0.
    """
    h, w = x.shape[-2:]
    radii = torch.linspace(0, POLAR_REACH * max(h, w), POLAR_RADII, device=x.device)
    angles = torch.arange(POLAR_ANGLES, device=x.device) * (2 * torch.pi / POLAR_ANGLES)
    ys = centre[:, 0, None, None] + radii[None, :, None] * torch.sin(angles)[None, None, :]
    xs = centre[:, 1, None, None] + radii[None, :, None] * torch.cos(angles)[None, None, :]
    grid = torch.stack([(2 * xs + 1) / w - 1, (2 * ys + 1) / h - 1], dim=-1)
    return torch.nn.functional.grid_sample(x, grid.to(x.dtype), align_corners=False)


def _trunk(widths: tuple[int, ...]) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(1, widths[0], 5, stride=2, padding=2, bias=False),
        nn.BatchNorm2d(widths[0]),
        nn.ReLU(inplace=True),
    ]
    for before, after in itertools.pairwise(widths):
        layers += [
            nn.Conv2d(before, after, 3, padding=1, bias=False),
            nn.BatchNorm2d(after),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        ]
    return nn.Sequential(*layers)


class ImageKindNet(nn.Module):
    """Two small conv trunks, one on the image and one on its polar view about the beam
    centre (where rings are straight lines and spots stay dots), mean- and max-pooled."""

    WIDTHS = (8, 16, 32, 64, 128)

    def __init__(self) -> None:
        super().__init__()
        self.image_trunk = _trunk(self.WIDTHS)
        self.polar_trunk = _trunk(self.WIDTHS)
        self.head = nn.Linear(4 * self.WIDTHS[-1], len(CLASSES))

    def forward(self, x: torch.Tensor, centre: torch.Tensor) -> torch.Tensor:
        pooled = []
        for trunk, view in ((self.image_trunk, x), (self.polar_trunk, polar_view(x, centre))):
            f = trunk(view)
            pooled += [f.mean(dim=(2, 3)), f.amax(dim=(2, 3))]
        return self.head(torch.cat(pooled, dim=1))


@dataclass(frozen=True)
class KindThresholds:
    """Probabilities above which the detector calls an image other, spots or rings."""

    other_above: float
    spots_above: float
    rings_above: float


@dataclass(frozen=True)
class Detector:
    net: ImageKindNet
    thresholds: KindThresholds


def _metadata(data: bytes) -> dict[str, str]:
    (length,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8 : 8 + length].decode("utf-8")).get("__metadata__", {})


def load_detector(path: Path = WEIGHTS_PATH) -> Detector:
    """Load and check the detector's weights and thresholds (safetensors, never a pickle)."""
    where = str(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ModelBundleError(
            f"{where}: the image-kind detector cannot be read ({error})"
        ) from None
    header = parse_header(data, where)
    net = ImageKindNet()
    expected = {
        name: ("F32" if t.is_floating_point() else "I64", tuple(t.shape))
        for name, t in net.state_dict().items()
    }
    check_against(header, expected, where)
    metadata = _metadata(data)
    try:
        thresholds = KindThresholds(**{key: float(metadata[key]) for key in THRESHOLD_KEYS})
    except (KeyError, ValueError) as error:
        raise ModelBundleError(
            f"{where}: the detector's thresholds are missing ({error})"
        ) from None
    net.load_state_dict(load_safetensors(data), strict=True)
    net.eval()
    return Detector(net, thresholds)


@functools.cache
def shipped_detector() -> Detector:
    """The detector shipped with CrystalView, loaded once per process."""
    return load_detector()


def network_input(stretched: np.ndarray) -> np.ndarray:
    """The log-stretched image resized to `INPUT_SIDE` square (antialiased), as float32."""
    x = torch.from_numpy(np.ascontiguousarray(stretched, dtype=np.float32))[None, None]
    resized = torch.nn.functional.interpolate(
        x, size=(INPUT_SIDE, INPUT_SIDE), mode="bilinear", antialias=True, align_corners=False
    )
    return resized[0, 0].numpy()


def input_centre(work: np.ndarray) -> tuple[float, float]:
    """The beam centre the polar view is taken about: the centre of inversion symmetry of
    the network's input (`crystalview.inference.diffraction.find_beam_centre`)."""
    return find_beam_centre(work, log=False)


def kind_probabilities(work: np.ndarray, detector: Detector | None = None) -> np.ndarray:
    """``(p_rings, p_spots, p_other)`` of a `INPUT_SIDE`-square log-stretched image."""
    detector = detector or shipped_detector()
    x = torch.from_numpy(np.ascontiguousarray(work, dtype=np.float32))[None, None]
    centre = torch.tensor([input_centre(work)], dtype=torch.float32)
    with torch.inference_mode():
        logits = detector.net(x, centre)
    return torch.softmax(logits, dim=1)[0].numpy().astype(np.float64)
