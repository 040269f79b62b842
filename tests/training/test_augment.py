from __future__ import annotations

import pytest
import torch

from crystalview.training.augment import (
    augment_batch,
    beam_centres,
    check_augmentation,
    default_augmentation,
)


def _pattern(cy: int, cx: int, size: int = 33) -> torch.Tensor:
    """A diffraction-like pattern: bright direct beam plus a ring of weaker spots around it."""
    image = torch.zeros(1, 1, size, size)
    image[0, 0, cy, cx] = 10.0
    for dy, dx in ((0, 6), (6, 0), (0, -6), (-6, 0)):
        image[0, 0, cy + dy, cx + dx] = 3.0
    return image


def test_defaults_per_modality():
    assert default_augmentation("SAED")["friedel"] is True
    assert "rotation_deg" in default_augmentation("SAED")
    assert default_augmentation("SEM")["flips"] is True
    with pytest.raises(ValueError, match="rotaton"):
        check_augmentation({"rotaton": 10})


def test_beam_centre_found_off_centre():
    centre = beam_centres(_pattern(12, 20))[0]
    # normalised coordinates: x = 20/32*2-1, y = 12/32*2-1
    assert torch.allclose(centre, torch.tensor([0.25, -0.25]), atol=1e-6)


def test_rotation_is_about_the_beam_not_the_image_centre():
    pattern = _pattern(12, 20)
    generator = torch.Generator().manual_seed(0)
    rotated = augment_batch(pattern.repeat(8, 1, 1, 1), {"rotation_deg": 180.0}, generator)
    for image in rotated:
        flat_index = int(image.argmax())
        assert divmod(flat_index, 33) == (12, 20)  # the direct beam did not move
        assert image.sum() > 0.5 * pattern.sum()  # spots rotated, not cropped away


def test_friedel_flip_of_a_centrosymmetric_pattern_changes_nothing():
    pattern = _pattern(16, 16)
    generator = torch.Generator().manual_seed(3)
    out = augment_batch(pattern.repeat(6, 1, 1, 1), {"friedel": True}, generator)
    assert torch.allclose(out, pattern.expand_as(out), atol=1e-5)


def test_real_space_augmentation_is_reproducible_and_keeps_the_input():
    batch = torch.randn(4, 1, 16, 16)
    original = batch.clone()
    settings = default_augmentation("TEM")
    a = augment_batch(batch, settings, torch.Generator().manual_seed(5))
    b = augment_batch(batch, settings, torch.Generator().manual_seed(5))
    assert torch.equal(a, b) and torch.equal(batch, original)
    assert a.shape == batch.shape and not torch.allclose(a, batch)


def test_dihedral_only_moves_pixels():
    batch = torch.arange(2 * 16 * 16, dtype=torch.float32).reshape(2, 1, 16, 16)
    out = augment_batch(batch, {"flips": True, "rot90": True}, torch.Generator().manual_seed(1))
    for before, after in zip(batch, out, strict=True):
        assert torch.equal(before.flatten().sort().values, after.flatten().sort().values)


def test_dose_noise_keeps_the_intensity_range():
    batch = torch.rand(3, 1, 24, 24) * 4 - 1
    out = augment_batch(batch, {"dose": [50.0, 100.0]}, torch.Generator().manual_seed(2))
    assert not torch.allclose(out, batch)
    assert abs(float(out.mean() - batch.mean())) < 0.1


def test_polar_views_rotate_by_rolling_angle_rows():
    import torch

    from crystalview.training.augment import augment_batch

    # One bright angle row: after any rotation it is still one full row, just elsewhere.
    batch = torch.zeros(6, 1, 16, 8)
    batch[:, :, 3, :] = 1.0
    generator = torch.Generator().manual_seed(0)
    out = augment_batch(batch, {"rotation_deg": 180.0}, generator, view="log_polar")
    rows = out[:, 0].sum(dim=2)
    assert torch.all(rows.max(dim=1).values == 8.0)
    assert torch.all((rows > 0).sum(dim=1) == 1)
    assert len({int(r.argmax()) for r in rows}) > 1  # different images moved differently


def test_angle_averaged_views_are_not_rotated():
    import torch

    from crystalview.training.augment import augment_batch

    batch = torch.rand(4, 1, 16, 16)
    generator = torch.Generator().manual_seed(0)
    out = augment_batch(
        batch, {"rotation_deg": 180.0, "friedel": True}, generator, view="log_polar_mean"
    )
    assert torch.equal(out, batch)
