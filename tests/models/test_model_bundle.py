"""Bundles round-trip exactly, and every kind of hostile or broken bundle is refused by name."""

from __future__ import annotations

import json
import struct
import warnings
import zipfile

import pytest
import torch
from safetensors.torch import save as save_safetensors

from crystalview.core.errors import ModelBundleError
from crystalview.models.bundle import load_bundle, save_bundle
from crystalview.models.bundle_format import read_manifest
from crystalview.models.manifest import ManifestError, ModelManifest
from crystalview.models.registry import build_model


def write_zip(path, members):
    """Write ``[(name, bytes, compression)]`` as a zip, duplicates included."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about duplicate names
        with zipfile.ZipFile(path, "w") as archive:
            for name, data, compression in members:
                archive.writestr(name, data, compression)
    return path


def bundle_members(bundle):
    with zipfile.ZipFile(bundle) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def rebuild(tmp_path, bundle, **replace):
    """The bundle's members with some replaced (value None drops the member)."""
    members = bundle_members(bundle)
    members.update(replace)
    entries = [(n, d, zipfile.ZIP_STORED) for n, d in members.items() if d is not None]
    return write_zip(tmp_path / "hostile.cvmodel", entries)


def split_safetensors(data):
    (length,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8 : 8 + length]), data[8 + length :]


def join_safetensors(header, body):
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + body


def test_round_trip_preserves_weights_manifest_and_card(tiny_bundle, tiny_model, tiny_manifest):
    loaded = load_bundle(tiny_bundle)
    assert loaded.manifest == tiny_manifest
    assert loaded.model_card.startswith("# Tiny")
    assert not loaded.model.training
    for name, tensor in tiny_model.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[name], tensor), name
    x = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        assert torch.equal(loaded.model(x), tiny_model(x))
    assert read_manifest(tiny_bundle) == tiny_manifest


def test_save_is_atomic_and_leaves_no_temporary_files(tmp_path, tiny_model, tiny_manifest):
    target = tmp_path / "models" / "m.cvmodel"
    save_bundle(target, tiny_model, tiny_manifest)
    save_bundle(target, tiny_model, tiny_manifest)  # overwrite in place
    assert [p.name for p in target.parent.iterdir()] == ["m.cvmodel"]


def test_save_refuses_a_manifest_that_does_not_describe_the_model(tmp_path, tiny_model):
    manifest = ModelManifest("diffraction_cnn", ["a", "b"], input_size=32)
    with pytest.raises(ModelBundleError, match="2 classes"):
        save_bundle(tmp_path / "m.cvmodel", tiny_model, manifest)
    assert not (tmp_path / "m.cvmodel").exists()


# ---- the zip container ---------------------------------------------------------------------


def test_not_a_zip(tmp_path):
    path = tmp_path / "x.cvmodel"
    path.write_bytes(b"\x80\x04 pickle pretending to be a model")
    with pytest.raises(ModelBundleError, match="not a zip"):
        load_bundle(path)


def test_too_many_members(tmp_path):
    members = [(f"m{i}.json", b"{}", zipfile.ZIP_STORED) for i in range(9)]
    with pytest.raises(ModelBundleError, match="holds 9 files"):
        load_bundle(write_zip(tmp_path / "x.cvmodel", members))


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("../model.json", "leave the bundle"),
        ("/etc/model.json", "absolute path"),
        ("C:/model.json", "absolute path"),
        ("sub/model.json", "in a folder"),
        ("exploit.pkl", "unexpected member"),
    ],
)
def test_odd_member_names(tmp_path, tiny_bundle, name, message):
    path = rebuild(tmp_path, tiny_bundle, **{name: b"x"})
    with pytest.raises(ModelBundleError, match=message):
        load_bundle(path)


def test_duplicate_member(tmp_path, tiny_bundle):
    members = bundle_members(tiny_bundle)
    entries = [(n, d, zipfile.ZIP_STORED) for n, d in members.items()]
    entries.append(("model.json", members["model.json"], zipfile.ZIP_STORED))
    with pytest.raises(ModelBundleError, match="appears twice"):
        load_bundle(write_zip(tmp_path / "x.cvmodel", entries))


def test_missing_weights(tmp_path, tiny_bundle):
    path = rebuild(tmp_path, tiny_bundle, **{"weights.safetensors": None})
    with pytest.raises(ModelBundleError, match=r"lacks weights\.safetensors"):
        load_bundle(path)


def test_oversized_member(tmp_path, tiny_bundle):
    huge = b"{" + b" " * (1024 * 1024 + 10) + b"}"
    path = rebuild(tmp_path, tiny_bundle, **{"model.json": huge})
    with pytest.raises(ModelBundleError, match="more than the"):
        load_bundle(path)


def test_zip_bomb(tmp_path, tiny_bundle):
    members = bundle_members(tiny_bundle)
    bomb = b"\x00" * (20 * 1024 * 1024)
    entries = [
        ("model.json", members["model.json"], zipfile.ZIP_STORED),
        ("weights.safetensors", bomb, zipfile.ZIP_DEFLATED),
    ]
    with pytest.raises(ModelBundleError, match="zip bomb"):
        load_bundle(write_zip(tmp_path / "x.cvmodel", entries))


# ---- the safetensors header ----------------------------------------------------------------


def test_lying_header_length_too_large(tmp_path, tiny_bundle):
    weights = bundle_members(tiny_bundle)["weights.safetensors"]
    lying = struct.pack("<Q", 10**12) + weights[8:]
    path = rebuild(tmp_path, tiny_bundle, **{"weights.safetensors": lying})
    with pytest.raises(ModelBundleError, match="-byte header"):
        load_bundle(path)


def test_header_length_past_end_of_file(tmp_path, tiny_bundle):
    weights = bundle_members(tiny_bundle)["weights.safetensors"]
    lying = struct.pack("<Q", len(weights)) + weights[8:]
    path = rebuild(tmp_path, tiny_bundle, **{"weights.safetensors": lying})
    with pytest.raises(ModelBundleError, match="past the end"):
        load_bundle(path)


def test_tensor_offsets_outside_the_data(tmp_path, tiny_bundle):
    header, body = split_safetensors(bundle_members(tiny_bundle)["weights.safetensors"])
    entry = header["fc.bias"]
    entry["data_offsets"] = [len(body) + 4, len(body) + 16]
    path = rebuild(tmp_path, tiny_bundle, **{"weights.safetensors": join_safetensors(header, body)})
    with pytest.raises(ModelBundleError, match="points outside"):
        load_bundle(path)


def test_overlapping_tensors(tmp_path, tiny_bundle):
    header, body = split_safetensors(bundle_members(tiny_bundle)["weights.safetensors"])
    tensors = [entry for name, entry in header.items() if name != "__metadata__"]
    first = min(tensors, key=lambda entry: entry["data_offsets"][0])
    victim = header["fc.bias"]
    size = victim["data_offsets"][1] - victim["data_offsets"][0]
    victim["data_offsets"] = [first["data_offsets"][0], first["data_offsets"][0] + size]
    path = rebuild(tmp_path, tiny_bundle, **{"weights.safetensors": join_safetensors(header, body)})
    with pytest.raises(ModelBundleError, match="overlaps another"):
        load_bundle(path)


def test_header_size_disagrees_with_shape(tmp_path, tiny_bundle):
    header, body = split_safetensors(bundle_members(tiny_bundle)["weights.safetensors"])
    header["fc.bias"]["shape"] = [4]
    path = rebuild(tmp_path, tiny_bundle, **{"weights.safetensors": join_safetensors(header, body)})
    with pytest.raises(ModelBundleError, match="occupies"):
        load_bundle(path)


def test_header_not_json(tmp_path, tiny_bundle):
    raw = b"\xff\xfe not json"
    data = struct.pack("<Q", len(raw)) + raw
    path = rebuild(tmp_path, tiny_bundle, **{"weights.safetensors": data})
    with pytest.raises(ModelBundleError, match="header is not JSON"):
        load_bundle(path)


# ---- tensors against the architecture ------------------------------------------------------


def weights_of(state):
    return save_safetensors({k: v.contiguous() for k, v in state.items()})


def test_wrong_shape_for_the_classes_in_the_manifest(tmp_path, tiny_bundle):
    four_classes = build_model("diffraction_cnn", 4).state_dict()
    path = rebuild(tmp_path, tiny_bundle, **{"weights.safetensors": weights_of(four_classes)})
    with pytest.raises(ModelBundleError, match=r"'fc.weight' has shape \(4, 64\)"):
        load_bundle(path)


def test_wrong_dtype(tmp_path, tiny_bundle, tiny_model):
    state = dict(tiny_model.state_dict())
    state["block1.0.weight"] = state["block1.0.weight"].half()
    path = rebuild(tmp_path, tiny_bundle, **{"weights.safetensors": weights_of(state)})
    with pytest.raises(ModelBundleError, match="is F16, the architecture needs F32"):
        load_bundle(path)


def test_missing_tensor(tmp_path, tiny_bundle, tiny_model):
    state = dict(tiny_model.state_dict())
    del state["block2.1.running_var"]
    path = rebuild(tmp_path, tiny_bundle, **{"weights.safetensors": weights_of(state)})
    with pytest.raises(ModelBundleError, match="lack 1 tensors"):
        load_bundle(path)


def test_extra_tensor(tmp_path, tiny_bundle, tiny_model):
    state = dict(tiny_model.state_dict())
    state["backdoor.weight"] = torch.zeros(3)
    path = rebuild(tmp_path, tiny_bundle, **{"weights.safetensors": weights_of(state)})
    with pytest.raises(ModelBundleError, match="does not have"):
        load_bundle(path)


def test_non_finite_weights(tmp_path, tiny_bundle, tiny_model):
    state = {k: v.clone() for k, v in tiny_model.state_dict().items()}
    state["block3.0.weight"][0, 0, 0, 0] = float("nan")
    path = rebuild(tmp_path, tiny_bundle, **{"weights.safetensors": weights_of(state)})
    with pytest.raises(ModelBundleError, match="NaN or infinite"):
        load_bundle(path)


# ---- model.json ----------------------------------------------------------------------------


def manifest_with(tiny_manifest, **changes):
    data = tiny_manifest.to_dict()
    data.update(changes)
    return json.dumps(data).encode()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"architecture": "evil_net"}, "unknown architecture"),
        ({"classes": []}, "classes must be a list"),
        ({"classes": ["a", "a", "b"]}, "unique"),
        ({"classes": ["a", ""]}, "non-empty name"),
        ({"classes": "ab"}, "classes must be a list"),
        ({"input_size": 0}, "input_size must be an integer"),
        ({"input_size": 10**6}, "input_size must be an integer"),
        ({"input_size": 64.5}, "input_size must be an integer"),
        ({"in_channels": True}, "in_channels must be an integer"),
        ({"modality": "XRAY"}, "modality must be one of"),
        ({"input_mode": "crop"}, "input_mode must be one of"),
        ({"pixel_size": -1.0}, "pixel_size must be a positive number"),
        ({"pixel_unit": None}, "both be set or null"),
        ({"format_version": 99}, "newer|Update CrystalView"),
        ({"normalization": {"method": "percentile"}}, "normalization must have exactly"),
        ({"provenance": []}, "provenance must be an object"),
        ({"shell": "rm -rf /"}, "unknown fields"),
    ],
)
def test_invalid_manifest_fields(tmp_path, tiny_bundle, tiny_manifest, changes, message):
    path = rebuild(tmp_path, tiny_bundle, **{"model.json": manifest_with(tiny_manifest, **changes)})
    with pytest.raises(ManifestError, match=message):
        load_bundle(path)


def test_manifest_not_json_or_with_nan(tmp_path, tiny_bundle, tiny_manifest):
    path = rebuild(tmp_path, tiny_bundle, **{"model.json": b"{not json"})
    with pytest.raises(ManifestError, match="not valid JSON"):
        load_bundle(path)
    text = manifest_with(tiny_manifest).replace(b'"mean": 0.5', b'"mean": NaN')
    path = rebuild(tmp_path, tiny_bundle, **{"model.json": text})
    with pytest.raises(ManifestError, match="not valid JSON"):
        load_bundle(path)


def test_manifest_missing_required_field(tmp_path, tiny_bundle, tiny_manifest):
    data = tiny_manifest.to_dict()
    del data["classes"]
    path = rebuild(tmp_path, tiny_bundle, **{"model.json": json.dumps(data).encode()})
    with pytest.raises(ManifestError, match="lacks the required field 'classes'"):
        load_bundle(path)


def test_garbled_deflate_stream(tmp_path, tiny_bundle):
    members = bundle_members(tiny_bundle)
    path = write_zip(
        tmp_path / "x.cvmodel",
        [
            ("model.json", members["model.json"], zipfile.ZIP_DEFLATED),
            ("weights.safetensors", members["weights.safetensors"], zipfile.ZIP_STORED),
        ],
    )
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("model.json")
    data_start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    raw[data_start : data_start + 8] = b"\xff" * 8  # invalid deflate block header
    path.write_bytes(bytes(raw))
    with pytest.raises(ModelBundleError, match="is damaged"):
        load_bundle(path)


def test_deeply_nested_safetensors_header(tmp_path, tiny_bundle):
    raw = b"[" * 100_000 + b"]" * 100_000
    path = rebuild(
        tmp_path, tiny_bundle, **{"weights.safetensors": struct.pack("<Q", len(raw)) + raw}
    )
    with pytest.raises(ModelBundleError, match="header is not JSON"):
        load_bundle(path)
