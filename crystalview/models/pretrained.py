"""ImageNet weights for the ResNets, through torchvision's weights API and its cache.

torchvision keeps downloaded weights in ``<torch hub dir>/checkpoints/<file name from the URL>``.
We use the same place, so a file fetched once (or imported on an offline machine with
``crystalview models import-weights``) serves every later run. Weight files are pickle-based
torch files; they are only ever opened with ``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import urllib.error
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

import torch
from torchvision import models as tvm

from crystalview.core.atomic import give_default_mode
from crystalview.core.errors import CrystalViewError
from crystalview.core.progress import Progress

_WEIGHTS = {
    "resnet18": tvm.ResNet18_Weights.DEFAULT,
    "resnet34": tvm.ResNet34_Weights.DEFAULT,
    "resnet50": tvm.ResNet50_Weights.DEFAULT,
}


class PretrainedWeightsUnavailable(CrystalViewError):
    """ImageNet weights are neither in torchvision's cache nor downloadable."""


def has_pretrained(arch: str) -> bool:
    """True when the architecture has ImageNet weights in torchvision."""
    return arch in _WEIGHTS


def weights_url(arch: str) -> str:
    return _WEIGHTS[arch].url


def cached_weights_path(arch: str) -> Path:
    """Where torchvision keeps (or would keep) the ImageNet weights of ``arch``."""
    file_name = os.path.basename(urlparse(weights_url(arch)).path)
    return Path(torch.hub.get_dir()) / "checkpoints" / file_name


def _expected_hash_prefix(path: Path) -> str | None:
    # torchvision names files "<arch>-<first hex digits of the SHA-256>.pth".
    match = re.search(r"-([0-9a-f]{6,})\.", path.name)
    return match.group(1) if match else None


def _how_to_import(arch: str) -> str:
    return (
        f"Download {weights_url(arch)} on a machine with internet access and run "
        f"'crystalview models import-weights {arch} FILE' here, or train from scratch "
        f"(pretrained off)."
    )


def load_imagenet_state(
    arch: str, progress: Callable[[Progress], None] | None = None
) -> dict[str, torch.Tensor]:
    """ImageNet state dict for ``arch``, from the cache or downloaded into it.

    Raises
    ------
    PretrainedWeightsUnavailable
        Offline and not cached, or the cached file is not a valid weights file.
    """
    if not has_pretrained(arch):
        raise PretrainedWeightsUnavailable(f"{arch} has no ImageNet weights; train it from scratch")
    path = cached_weights_path(arch)
    if not path.is_file():
        _download(arch, path, progress)
    try:
        return read_weights_file(arch, path)
    except CrystalViewError as error:
        raise PretrainedWeightsUnavailable(
            f"cached ImageNet weights {path} are unusable ({error}). {_how_to_import(arch)}"
        ) from error


def _download(arch: str, path: Path, progress: Callable[[Progress], None] | None) -> None:
    if progress is not None:
        progress(Progress(0, 1, f"Downloading ImageNet weights for {arch}…"))
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        torch.hub.download_url_to_file(
            weights_url(arch), str(path), hash_prefix=_expected_hash_prefix(path), progress=False
        )
    except (urllib.error.URLError, OSError, TimeoutError, RuntimeError) as error:
        raise PretrainedWeightsUnavailable(
            f"ImageNet weights for {arch} are not on this computer and could not be "
            f"downloaded ({error}). {_how_to_import(arch)}"
        ) from error
    if progress is not None:
        progress(Progress(1, 1, f"Downloaded ImageNet weights for {arch}"))


def read_weights_file(arch: str, path: Path) -> dict[str, torch.Tensor]:
    """Load a torchvision weights file safely and check it against the architecture.

    Raises
    ------
    CrystalViewError
        Not a torch weights file, or its tensors do not fit ``arch``.
    """
    from crystalview.models.resnet import torchvision_reference

    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as error:  # any failure means "not a safe weights file"
        raise CrystalViewError(
            f"{path} is not a torchvision weights file that can be loaded safely ({error})"
        ) from error
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise CrystalViewError(f"{path} does not hold a state dict of named tensors")
    expected = torchvision_reference(arch).state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise CrystalViewError(
            f"{path} does not match {arch}: missing {missing[:3]}, unexpected {unexpected[:3]}"
        )
    for name, tensor in expected.items():
        if tuple(state[name].shape) != tuple(tensor.shape):
            raise CrystalViewError(
                f"{path} does not match {arch}: {name} has shape {tuple(state[name].shape)}, "
                f"expected {tuple(tensor.shape)}"
            )
    return state


def import_weights_file(arch: str, source: Path) -> tuple[Path, bool]:
    """Validate a torchvision weights file and copy it into torchvision's cache.

    Returns
    -------
    (destination, official)
        Where it went, and whether its SHA-256 matches the official file's published prefix.
    """
    source = Path(source)
    if not has_pretrained(arch):
        raise CrystalViewError(f"{arch} takes no ImageNet weights (choose one of {list(_WEIGHTS)})")
    if not source.is_file():
        raise CrystalViewError(f"{source}: no such file")
    read_weights_file(arch, source)
    destination = cached_weights_path(arch)
    destination.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    prefix = _expected_hash_prefix(destination)
    official = prefix is not None and digest.startswith(prefix)
    fd, tmp = tempfile.mkstemp(dir=destination.parent, suffix=".part")
    os.close(fd)
    try:
        shutil.copyfile(source, tmp)
        give_default_mode(tmp)
        os.replace(tmp, destination)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return destination, official
