"""The spot-net geometry: ideal nets drawn as Gaussian spots give back their metric."""

from __future__ import annotations

import numpy as np
import pytest

from crystalview.inference.spot_lattice import (
    SPOT_FEATURE_NAMES,
    net_support,
    spot_lattice_features,
)

SIZE = 160


def _net(kind: str, length: float) -> tuple[np.ndarray, np.ndarray]:
    """Basis (y, x) in pixels of an ideal 2-D net of the given Bravais type."""
    a = np.array([0.0, length])
    angle = {
        "square": 90.0,
        "hexagonal": 120.0,
        "rectangular": 90.0,
        "centered_rectangular": 90.0,
        "oblique": 103.0,
    }[kind]
    ratio = {"rectangular": 1.45, "centered_rectangular": 2.4, "oblique": 1.3}.get(kind, 1.0)
    t = np.radians(angle)
    b = ratio * length * np.array([np.sin(t), np.cos(t)])
    if kind == "centered_rectangular":  # primitive cell of the centred net: a and (a + b) / 2
        b = (a + b) / 2
    return a, b


def draw(
    kind: str,
    length: float = 15.0,
    centre: tuple[float, float] = (SIZE / 2 - 0.3, SIZE / 2 + 0.4),
    rotation: float = 17.0,
    dose: float | None = None,
    beam_stop: bool = False,
    seed: int = 0,
) -> np.ndarray:
    """A zone-axis pattern of the net: Gaussian spots fading outwards, a bright direct beam."""
    rng = np.random.default_rng(seed)
    a, b = _net(kind, length)
    c, s = np.cos(np.radians(rotation)), np.sin(np.radians(rotation))
    turn = np.array([[c, -s], [s, c]])
    a, b = turn @ a, turn @ b
    yy, xx = np.indices((SIZE, SIZE), dtype=float)
    image = 0.05 * np.exp(-np.hypot(yy - centre[0], xx - centre[1]) / 40.0)
    span = range(-15, 16)
    for h in span:
        for k in span:
            y, x = np.asarray(centre) + h * a + k * b
            if not (-5 < y < SIZE + 5 and -5 < x < SIZE + 5):
                continue
            g = np.hypot(*(h * a + k * b))
            weight = 20.0 if g == 0 else (0.3 + 0.7 * rng.random()) * np.exp(-g / 60.0)
            image += weight * np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * 1.6**2))
    if beam_stop:
        along = (xx - centre[1]) * np.cos(0.6) + (yy - centre[0]) * np.sin(0.6)
        across = -(xx - centre[1]) * np.sin(0.6) + (yy - centre[0]) * np.cos(0.6)
        stop = (np.hypot(along, across) < 9) | ((along > 0) & (np.abs(across) < 3.5))
        image[stop] = 0.0
    if dose is not None:
        image = rng.poisson(image * dose).astype(np.uint16)
    return image


def features(image: np.ndarray) -> dict[str, float]:
    values = spot_lattice_features(image)
    assert values.dtype == np.float64
    assert values.shape == (len(SPOT_FEATURE_NAMES),)
    assert np.all(np.isfinite(values))
    return dict(zip(SPOT_FEATURE_NAMES, values, strict=True))


# The metric conditions each ideal net meets (the others fail by a wide margin).
CONDITIONS = {
    "square": {"ratio_dev", "cos_gamma", "perp_ab", "perp_rhombic"},
    "hexagonal": {"ratio_dev", "hex_dev", "cen_dev", "perp_centred", "perp_rhombic"},
    "rectangular": {"cos_gamma", "perp_ab"},
    # reduced cell a, (a + b) / 2: 2 a·b = a·a, a ⊥ 2b - a
    "centered_rectangular": {"cen_dev", "perp_centred"},
    "oblique": set(),
}
METRIC = ("ratio_dev", "cos_gamma", "hex_dev", "cen_dev", "perp_ab", "perp_centred", "perp_rhombic")


@pytest.mark.parametrize("kind", list(CONDITIONS))
@pytest.mark.parametrize(
    "condition",
    [
        {},
        {"beam_stop": True},
        {"centre": (58.0, 101.0), "rotation": 71.0},
        {"dose": 300.0, "seed": 3},
    ],
    ids=["clean", "beam stop", "off centre", "noise"],
)
def test_ideal_nets_give_their_metric(kind, condition):
    f = features(draw(kind, **condition))
    assert f["found"] == 1.0
    assert f["rms_rel"] < 0.05
    assert f["frac_indexed"] > 0.8
    assert f["a_rel"] == pytest.approx(15.0 / SIZE, rel=0.03)
    for name in METRIC:
        if name in CONDITIONS[kind]:
            assert abs(f[name]) < 0.01, name
        else:
            assert abs(f[name]) > 0.05, name


def test_oblique_metric_is_the_drawn_one():
    f = features(draw("oblique"))
    assert f["ratio_dev"] == pytest.approx(0.3, abs=0.01)
    assert f["cos_gamma"] == pytest.approx(abs(np.cos(np.radians(103.0))), abs=0.01)


def test_intensity_symmetry_of_a_square_net():
    """Spots of a 4mm intensity pattern correlate under the 4-fold and the mirrors."""
    a, b = _net("square", 16.0)
    yy, xx = np.indices((SIZE, SIZE), dtype=float)
    centre = np.array([79.6, 80.3])
    rng = np.random.default_rng(5)
    orbit_weight: dict[tuple[int, int], float] = {}
    image = np.zeros((SIZE, SIZE))
    for h in range(-6, 7):
        for k in range(-6, 7):
            key = tuple(sorted((abs(h), abs(k))))
            weight = orbit_weight.setdefault(key, rng.uniform(0.05, 1.0))
            y, x = centre + h * a + k * b
            image += weight * np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * 1.5**2))
    f = features(image)
    assert f["found"] == 1.0
    for name in ("corr_2", "corr_4", "corr_mirror_ab", "corr_mirror_rhombic"):
        assert f[name] > 0.9, name
    assert f["evidence_square"] > 0.8
    assert f["evidence_square"] > f["evidence_hexagonal"] + 0.5


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((128, 128), dtype=np.uint8),
        np.full((200, 200), 7.0),
        np.random.default_rng(1).poisson(20.0, (256, 256)).astype(np.uint16),
        np.random.default_rng(2).normal(0.0, 1.0, (160, 160)),
    ],
    ids=["black", "constant", "poisson noise", "gaussian noise"],
)
def test_no_lattice_in_blank_or_noise_frames(image):
    f = features(image)
    assert f["found"] == 0.0
    assert f["ratio_dev"] == 0.5 and f["cen_dev"] == 0.5


def test_deterministic_and_any_dtype():
    image = draw("hexagonal", dose=100.0)
    first = spot_lattice_features(image)
    assert np.array_equal(first, spot_lattice_features(image.copy()))
    as_float = spot_lattice_features(image.astype(np.float32))
    assert np.allclose(first, as_float, atol=1e-6)


def test_rejects_non_2d():
    with pytest.raises(ValueError, match="2-D"):
        spot_lattice_features(np.zeros((4, 4, 3)))


@pytest.mark.parametrize("weak", [0.0, 0.05])
def test_weak_centring_spots_are_found_on_average(weak):
    """Centring spots too faint to detect one by one still make the net centred."""
    a, b = np.array([0.0, 15.0]), np.array([33.0, 0.0])  # conventional cell, C-centred
    yy, xx = np.indices((SIZE, SIZE), dtype=float)
    centre = np.array([80.2, 79.7])
    rng = np.random.default_rng(0)
    image = np.full((SIZE, SIZE), 0.05)
    for h in range(-8, 9):
        for k in range(-8, 9):
            for shift, weight in ((0.0, 1.0), (0.5, weak)):
                y, x = centre + (h + shift) * a + (k + shift) * b
                spot = np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * 1.5**2))
                image += weight * (0.5 + 0.5 * rng.random()) * spot
    f = features(rng.poisson(image * 300).astype(np.uint16))
    if weak:
        assert f["perp_centred"] < 0.01 and f["perp_ab"] > 0.1  # centred: a ⊥ 2b - a
    else:
        assert f["perp_ab"] < 0.01 and f["perp_centred"] > 0.1  # primitive rectangular


def spotty_rings(seed: int = 0) -> np.ndarray:
    """A film of few coarse grains: spots at random angles on five ring radii."""
    rng = np.random.default_rng(seed)
    yy, xx = np.indices((SIZE, SIZE), dtype=float)
    centre = np.array([SIZE / 2 - 0.3, SIZE / 2 + 0.4])
    image = 20.0 * np.exp(-np.hypot(yy - centre[0], xx - centre[1]) / 6.0)
    for radius in (21.0, 34.0, 40.0, 55.0, 63.0):
        for angle in rng.uniform(0, 2 * np.pi, int(rng.integers(8, 14))):
            y, x = centre + radius * np.array([np.sin(angle), np.cos(angle)])
            image += rng.uniform(0.3, 1.0) * np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / 5.0)
    return image


@pytest.mark.parametrize("kind", ["square", "hexagonal", "oblique"])
def test_one_net_indexes_most_spots_of_a_single_crystal(kind):
    net = net_support(draw(kind, dose=200.0, beam_stop=True))
    assert net.n_spots >= 20
    assert net.indexed_share > 0.8
    assert net.occupancy > 0.35  # a disc of spots in the skewed index box of a hexagonal net


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_no_net_indexes_the_grains_of_a_spotty_ring_pattern(seed):
    net = net_support(spotty_rings(seed))
    assert net.n_spots >= 20  # the grains are seen as spots ...
    assert net.indexed_share < 0.4  # ... but they sit on rings, not on one net


def test_noise_has_no_net():
    noise = np.random.default_rng(3).poisson(50.0, (SIZE, SIZE))
    assert net_support(noise).indexed_share == 0.0
