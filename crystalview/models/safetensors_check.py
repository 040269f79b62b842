"""Checking a safetensors file's header ourselves before the library touches it.

The header is JSON prefixed by its length; a hostile file can lie about that length, point
tensors outside the data, overlap them, or declare shapes that do not add up. We parse and check
the header with a size cap, compare every tensor's name, dtype and shape to the architecture,
and only then let `safetensors` build tensors.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Mapping

from crystalview.core.errors import ModelBundleError

MAX_HEADER_BYTES = 4 * 1024 * 1024

# safetensors dtype code -> bytes per element
DTYPE_SIZES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1,
    "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4,
    "I64": 8, "U64": 8, "F64": 8,
}  # fmt: skip


def parse_header(data: bytes, where: str) -> dict[str, dict]:
    """Return the tensor entries of the header (metadata removed), fully bounds-checked."""
    if len(data) < 8:
        raise ModelBundleError(f"{where}: weights.safetensors is truncated (no header)")
    (header_len,) = struct.unpack("<Q", data[:8])
    if header_len > MAX_HEADER_BYTES:
        raise ModelBundleError(
            f"{where}: weights.safetensors declares a {header_len}-byte header; at most "
            f"{MAX_HEADER_BYTES} allowed"
        )
    if 8 + header_len > len(data):
        raise ModelBundleError(
            f"{where}: weights.safetensors header length points past the end of the file"
        )
    try:
        header = json.loads(data[8 : 8 + header_len].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise ModelBundleError(
            f"{where}: weights.safetensors header is not JSON ({error})"
        ) from error
    if not isinstance(header, dict):
        raise ModelBundleError(f"{where}: weights.safetensors header is not an object")
    metadata = header.pop("__metadata__", {})
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise ModelBundleError(f"{where}: weights.safetensors metadata must map text to text")
    body = len(data) - 8 - header_len
    spans = []
    for name, entry in header.items():
        spans.append(_check_entry(name, entry, body, where))
    spans.sort()
    position = 0
    for begin, end, name in spans:
        if begin != position:
            raise ModelBundleError(
                f"{where}: tensor {name!r} overlaps another or leaves a gap in the weights data"
            )
        position = end
    if position != body:
        raise ModelBundleError(f"{where}: weights.safetensors has trailing bytes after its tensors")
    return header


def _check_entry(name: str, entry: object, body: int, where: str) -> tuple[int, int, str]:
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        raise ModelBundleError(f"{where}: tensor {name!r} has a malformed header entry")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if dtype not in DTYPE_SIZES:
        raise ModelBundleError(f"{where}: tensor {name!r} has unknown dtype {dtype!r}")
    if not isinstance(shape, list) or not all(_is_count(d) for d in shape) or len(shape) > 8:
        raise ModelBundleError(f"{where}: tensor {name!r} has an invalid shape {shape!r}")
    if not isinstance(offsets, list) or len(offsets) != 2 or not all(map(_is_count, offsets)):
        raise ModelBundleError(f"{where}: tensor {name!r} has invalid data offsets")
    begin, end = offsets
    if not begin <= end <= body:
        raise ModelBundleError(f"{where}: tensor {name!r} points outside the weights data")
    if end - begin != math.prod(shape) * DTYPE_SIZES[dtype]:
        raise ModelBundleError(
            f"{where}: tensor {name!r} occupies {end - begin} bytes but its shape {shape} "
            f"and dtype {dtype} need {math.prod(shape) * DTYPE_SIZES[dtype]}"
        )
    return begin, end, name


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def check_against(
    header: Mapping[str, dict], expected: Mapping[str, tuple[str, tuple[int, ...]]], where: str
) -> None:
    """Compare header entries with ``{name: (dtype code, shape)}`` of the fresh architecture."""
    missing = sorted(set(expected) - set(header))
    if missing:
        raise ModelBundleError(
            f"{where}: the weights lack {len(missing)} tensors of the architecture "
            f"(e.g. {missing[0]!r})"
        )
    extra = sorted(set(header) - set(expected))
    if extra:
        raise ModelBundleError(
            f"{where}: the weights hold tensors the architecture does not have (e.g. {extra[0]!r})"
        )
    for name, (dtype, shape) in expected.items():
        entry = header[name]
        if entry["dtype"] != dtype:
            raise ModelBundleError(
                f"{where}: tensor {name!r} is {entry['dtype']}, the architecture needs {dtype}"
            )
        if tuple(entry["shape"]) != tuple(shape):
            raise ModelBundleError(
                f"{where}: tensor {name!r} has shape {tuple(entry['shape'])}, the architecture "
                f"needs {tuple(shape)} (do the classes and channels in model.json match?)"
            )
