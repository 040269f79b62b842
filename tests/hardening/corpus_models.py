"""The hostile model-file corpus: every case must be refused with a `ModelBundleError`.

Model files travel by e-mail and USB stick, so each case is something a stranger (or a broken
copy) could hand a lab: pickles that run code when loaded, zips that climb out of folders or
inflate to gigabytes, safetensors headers that lie, and manifests with absurd values. The pickle
payloads create a marker folder when unpickled; the tests check the marker never appears.
"""

from __future__ import annotations

import json
import os
import pickle
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import save as save_safetensors

from crystalview.models.bundle import save_bundle
from crystalview.models.manifest import ModelManifest
from crystalview.models.registry import build_model

MARKER_NAME = "PAYLOAD_RAN"
CLASSES = ["amorphous", "polycrystalline", "single_crystal"]


@dataclass(frozen=True)
class ModelCase:
    """``build(folder) -> path`` writes a model file that must be refused."""

    name: str
    build: Callable[[Path], Path]


class Payload:
    """Unpickling this creates ``folder/PAYLOAD_RAN``: proof that a loader ran foreign code."""

    def __init__(self, folder: Path) -> None:
        self.marker = str(folder / MARKER_NAME)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


# --------------------------------------------------------------------------- pieces
def tiny_manifest(**changes) -> dict:
    manifest = ModelManifest(
        architecture="diffraction_cnn", classes=list(CLASSES), input_size=32, name="tiny"
    ).to_dict()
    manifest.update(changes)
    return manifest


def tiny_state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    model = build_model("diffraction_cnn", len(CLASSES))
    return {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}


def valid_bundle(path: Path) -> Path:
    torch.manual_seed(0)
    model = build_model("diffraction_cnn", len(CLASSES))
    return save_bundle(path, model, ModelManifest(**tiny_manifest()), "# card")


def _zip(path: Path, members: list[tuple[str, bytes]], method: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", method) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return path


def _weights(state: dict[str, torch.Tensor] | None = None) -> bytes:
    return save_safetensors(tiny_state() if state is None else state)


def _bundle_with(
    name: str,
    manifest: dict | bytes | None = None,
    weights: bytes | None = None,
    extra: list[tuple[str, bytes]] = (),
) -> Callable[[Path], Path]:
    """A bundle with the given manifest/weights (valid ones where ``None``) and extra members."""

    def build(folder: Path) -> Path:
        text = manifest if isinstance(manifest, bytes) else json.dumps(manifest or tiny_manifest())
        members = [("model.json", text if isinstance(text, bytes) else text.encode())]
        members.append(("weights.safetensors", _weights() if weights is None else weights))
        return _zip(folder / name, [*members, *extra])

    return build


def _pickle_file(name: str) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(pickle.dumps({"state_dict": Payload(folder)}))
        return path

    return build


def _torch_save(name: str, with_payload: bool) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        path = folder / name
        obj = {"model": Payload(folder)} if with_payload else tiny_state()
        torch.save(obj, path)
        return path

    return build


def _pickle_as_weights(folder: Path) -> Path:
    payload = pickle.dumps(Payload(folder))
    return _bundle_with("hidden_pickle.cvmodel", weights=payload)(folder)


def _zip_bomb(folder: Path) -> Path:
    """50 MB of zeros deflated to 50 kB under the weights' name."""
    return _zip(
        folder / "bomb.cvmodel",
        [
            ("model.json", json.dumps(tiny_manifest()).encode()),
            ("weights.safetensors", bytes(50 * 1024**2)),
        ],
        zipfile.ZIP_DEFLATED,
    )


def _lying_member_size(folder: Path) -> Path:
    """The central directory says the weights are 100 bytes; the deflated data inflate to 1 MB."""
    path = folder / "lying_size.cvmodel"
    _zip(path, [("model.json", json.dumps(tiny_manifest()).encode()),
                ("weights.safetensors", bytes(1024**2))], zipfile.ZIP_DEFLATED)  # fmt: skip
    content = bytearray(path.read_bytes())
    # Patch the uncompressed size of the weights in both its local header and the directory.
    for signature, size_at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (at := content.find(signature, start)) >= 0:
            name_at = at + (30 if signature == b"PK\x03\x04" else 46)
            if content[name_at : name_at + 19] == b"weights.safetensors":
                struct.pack_into("<I", content, at + size_at, 100)
            start = at + 4
    path.write_bytes(bytes(content))
    return path


def _corrupt_deflated_manifest(folder: Path) -> Path:
    """A bundle as `save_bundle` writes it (deflated model.json) with its deflate data garbled."""
    path = valid_bundle(folder / "garbled.cvmodel")
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("model.json")
    content = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    for offset in range(start + 2, start + info.compress_size - 2, 3):
        content[offset] ^= 0x5A
    path.write_bytes(bytes(content))
    return path


def _truncated(folder: Path) -> Path:
    path = valid_bundle(folder / "cut.cvmodel")
    content = path.read_bytes()
    path.write_bytes(content[: len(content) // 2])
    return path


def _safetensors_header(header: dict | bytes, declared: int | None = None, body: bytes = b""):
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    length = len(raw) if declared is None else declared
    return struct.pack("<Q", length) + raw + body


def _nan_weights() -> bytes:
    state = tiny_state()
    first = next(name for name, tensor in state.items() if tensor.is_floating_point())
    state[first] = state[first].clone().fill_(float("nan"))
    return _weights(state)


def _float64_weights() -> bytes:
    state = tiny_state()
    return _weights({k: v.double() if v.is_floating_point() else v for k, v in state.items()})


def _lying_offsets() -> bytes:
    state = tiny_state()
    name, tensor = next(iter(state.items()))
    return _safetensors_header(
        {name: {"dtype": "F32", "shape": list(tensor.shape), "data_offsets": [0, 10**12]}},
        body=bytes(64),
    )


def _directory_named_cvmodel(folder: Path) -> Path:
    path = folder / "folder.cvmodel"
    path.mkdir()
    return path


def _zero_bytes(folder: Path) -> Path:
    path = folder / "empty.cvmodel"
    path.touch()
    return path


MODEL_CASES: list[ModelCase] = [
    ModelCase("pickle-payload.cvmodel", _pickle_file("payload.cvmodel")),
    ModelCase("pickle-payload.pt", _pickle_file("payload.pt")),
    ModelCase("pickle-payload.pth", _pickle_file("payload.pth")),
    ModelCase("torch-save-payload-renamed.cvmodel", _torch_save("torch_payload.cvmodel", True)),
    ModelCase("torch-save-state-dict.cvmodel", _torch_save("state_dict.cvmodel", False)),
    ModelCase("torch-save-state-dict.pth", _torch_save("state_dict.pth", False)),
    ModelCase("pickle-hidden-as-weights", _pickle_as_weights),
    ModelCase("member-dotdot", _bundle_with("dotdot.cvmodel", extra=[("../evil.py", b"x")])),
    ModelCase("member-absolute", _bundle_with("abs.cvmodel", extra=[("/tmp/evil.py", b"x")])),
    ModelCase("member-unexpected", _bundle_with("extra.cvmodel", extra=[("code.py", b"x")])),
    ModelCase("member-duplicate", _bundle_with("dup.cvmodel", extra=[("model.json", b"{}")])),
    ModelCase("zip-bomb", _zip_bomb),
    ModelCase("zip-member-lies-about-size", _lying_member_size),
    ModelCase("zip-truncated", _truncated),
    ModelCase("zip-deflate-data-garbled", _corrupt_deflated_manifest),
    ModelCase("zero-bytes", _zero_bytes),
    ModelCase("folder-named-cvmodel", _directory_named_cvmodel),
    ModelCase("safetensors-huge-header-length",
              _bundle_with("hugeheader.cvmodel", weights=_safetensors_header({}, 2**62))),
    ModelCase("safetensors-header-past-end",
              _bundle_with("pastend.cvmodel", weights=_safetensors_header({}, 5000))),
    ModelCase("safetensors-header-not-json",
              _bundle_with("notjson.cvmodel", weights=_safetensors_header(b"\xff\xfe{{{"))),
    ModelCase("safetensors-header-deeply-nested", _bundle_with(
        "nestedheader.cvmodel", weights=_safetensors_header(b"[" * 100_000 + b"]" * 100_000))),
    ModelCase("safetensors-lying-offsets",
              _bundle_with("offsets.cvmodel", weights=_lying_offsets())),
    ModelCase("wrong-shapes", _bundle_with("shapes.cvmodel", tiny_manifest(classes=["a", "b"]))),
    ModelCase("wrong-dtype-float64", _bundle_with("f64.cvmodel", weights=_float64_weights())),
    ModelCase("nan-weights", _bundle_with("nan.cvmodel", weights=_nan_weights())),
    ModelCase("missing-tensors", _bundle_with("missing.cvmodel", weights=_weights({}))),
    ModelCase("unknown-architecture",
              _bundle_with("arch.cvmodel", tiny_manifest(architecture="vgg16"))),
    ModelCase("input-size-1e9", _bundle_with("big.cvmodel", tiny_manifest(input_size=10**9))),
    ModelCase("input-size-string", _bundle_with("str.cvmodel", tiny_manifest(input_size="224"))),
    ModelCase("input-size-float", _bundle_with("flt.cvmodel", tiny_manifest(input_size=224.0))),
    ModelCase("negative-channels", _bundle_with("neg.cvmodel", tiny_manifest(in_channels=-1))),
    ModelCase("million-classes",
              _bundle_with("classes.cvmodel",
                           tiny_manifest(classes=[f"c{i}" for i in range(10**6)]))),
    ModelCase("classes-1001", _bundle_with("k1001.cvmodel",
                                           tiny_manifest(classes=[f"c{i}" for i in range(1001)]))),
    ModelCase("classes-not-strings", _bundle_with("cls.cvmodel", tiny_manifest(classes=[1, 2, 3]))),
    ModelCase("normalization-nan", _bundle_with(
        "nan_norm.cvmodel", b'{"format_version": 1, "architecture": "diffraction_cnn", '
        b'"classes": ["a", "b", "c"], "normalization": {"method": "percentile", "low": NaN, '
        b'"high": 99.5, "log": false, "mean": 0.5, "std": 0.25}}')),
    ModelCase("manifest-not-utf8", _bundle_with("latin1.cvmodel", b'{"name": "caf\xe9"}')),
    ModelCase("manifest-not-object", _bundle_with("list.cvmodel", b"[1, 2, 3]")),
    ModelCase("manifest-future-version",
              _bundle_with("future.cvmodel", tiny_manifest(format_version=99))),
    ModelCase("manifest-deeply-nested",
              _bundle_with("nested.cvmodel", b'{"provenance": ' + b"[" * 100_000 + b"]" * 100_000
                           + b"}")),
]  # fmt: skip


def bundle_bytes_for_fuzzing() -> bytes:
    """A valid bundle as `save_bundle` writes it (deflated manifest and card): the fuzz seed."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        return valid_bundle(Path(folder) / "seed.cvmodel").read_bytes()
