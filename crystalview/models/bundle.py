"""The ``.cvmodel`` bundle: a zip of ``model.json``, ``weights.safetensors`` and a model card.

Saving is atomic (temporary file, then ``os.replace``) so a crash never leaves half a model.
Loading treats the file as hostile: the zip directory and the safetensors header are checked by
our own code first (see `safe_zip` and `safetensors_check`), the architecture comes only from the
registry, every tensor must match it in name, dtype and shape, and weights must be finite.
Nothing is ever unpickled.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from crystalview.core.atomic import atomic_replace
from crystalview.core.errors import ModelBundleError, SaveError, save_failure_message
from crystalview.inference.evidence import check_evidence
from crystalview.models.base import CrystalNet
from crystalview.models.bundle_format import (
    CARD_NAME,
    MANIFEST_NAME,
    MAX_BUNDLE_BYTES,
    MEMBER_RULES,
    WEIGHTS_NAME,
    parse_manifest,
    read_card,
)
from crystalview.models.manifest import ModelManifest
from crystalview.models.registry import build_model
from crystalview.models.safe_zip import open_checked_zip, read_member
from crystalview.models.safetensors_check import check_against, parse_header

_SAFETENSORS_DTYPES = {
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.float64: "F64",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}


@dataclass
class LoadedModel:
    """A model ready for inference: in eval mode, with the manifest that describes its input."""

    model: CrystalNet
    manifest: ModelManifest
    path: Path
    model_card: str | None = None

    @property
    def name(self) -> str:
        return self.manifest.name or self.path.stem


def save_bundle(
    path: str | os.PathLike,
    model: CrystalNet,
    manifest: ModelManifest,
    model_card: str | None = None,
) -> Path:
    """Write ``model`` and ``manifest`` to ``path`` atomically; return the path.

    Raises
    ------
    ModelBundleError
        The manifest does not describe the model (architecture, classes or channels differ).
    SaveError
        The file cannot be written (disk full, no permission, a file in the way); the message
        says what to do, and any previous file at ``path`` is left as it was.
    """
    path = Path(path)
    manifest.validate()
    if manifest.architecture != model.arch:
        raise ModelBundleError(
            f"manifest says {manifest.architecture} but the model is {model.arch}"
        )
    if manifest.num_classes != model.num_classes or manifest.in_channels != model.in_channels:
        raise ModelBundleError(
            f"manifest has {manifest.num_classes} classes and {manifest.in_channels} channels, "
            f"the model {model.num_classes} and {model.in_channels}"
        )
    state = {
        name: tensor.detach().to("cpu").contiguous() for name, tensor in model.state_dict().items()
    }
    weights = save_safetensors(state, metadata={"format": "pt", "architecture": model.arch})
    write_bundle(path, manifest.to_json(), weights, model_card)
    return path


def write_bundle(path: Path, manifest_json: str, weights: bytes, card: str | None) -> None:
    """Write the bundle zip through `atomic_replace`: a kill at any moment leaves the old or the
    new file. Raises `SaveError` (disk full, permission…) with the old file kept."""
    try:
        with atomic_replace(path) as handle, zipfile.ZipFile(handle, "w") as archive:
            archive.writestr(MANIFEST_NAME, manifest_json, zipfile.ZIP_DEFLATED)
            # Float weights barely compress; storing them keeps loading fast.
            archive.writestr(WEIGHTS_NAME, weights, zipfile.ZIP_STORED)
            if card:
                archive.writestr(CARD_NAME, card, zipfile.ZIP_DEFLATED)
    except OSError as error:
        raise SaveError(save_failure_message(path, error)) from error


def load_bundle(path: str | os.PathLike, device: str | torch.device = "cpu") -> LoadedModel:
    """Load and fully validate a bundle; the model comes back in eval mode on ``device``.

    Raises
    ------
    ModelBundleError
        With a message that says exactly what is wrong with the file.
    """
    path = Path(path)
    where = str(path)
    archive, members = open_checked_zip(path, MEMBER_RULES, MAX_BUNDLE_BYTES)
    with archive:
        manifest = parse_manifest(archive, members, path)
        check_evidence(manifest, where)
        card = read_card(archive, members, path)
        data = read_member(archive, members[WEIGHTS_NAME], where)
    header = parse_header(data, where)
    model = build_model(manifest.architecture, manifest.num_classes, manifest.in_channels)
    expected = {
        name: (_dtype_code(tensor, name, where), tuple(tensor.shape))
        for name, tensor in model.state_dict().items()
    }
    check_against(header, expected, where)
    try:
        state = load_safetensors(data)
    except (SafetensorError, ValueError, RuntimeError) as error:
        raise ModelBundleError(f"{where}: weights.safetensors is damaged ({error})") from error
    del data
    for name, tensor in state.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise ModelBundleError(
                f"{where}: tensor {name!r} holds NaN or infinite values; the model is broken"
            )
    model.load_state_dict(state, strict=True)
    model.eval()
    model.to(device)
    return LoadedModel(model=model, manifest=manifest, path=path, model_card=card)


def _dtype_code(tensor: torch.Tensor, name: str, where: str) -> str:
    try:
        return _SAFETENSORS_DTYPES[tensor.dtype]
    except KeyError:
        raise ModelBundleError(f"{where}: tensor {name!r} has an unsupported dtype") from None
