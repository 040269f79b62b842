"""Raw vendor metadata made JSON-safe, flattened for look-ups, and rosettasciio mappings applied.

Readers hand us nested dicts full of numpy scalars, byte strings, arrays and ordered dicts. The GUI
shows metadata as a searchable tree and the CLI prints JSON, so everything is converted once here
into plain ``dict``/``list``/``str``/``int``/``float``/``bool``/``None``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

# Arrays larger than this are summarised instead of listed (a 900 kB FEI extended header, a LUT).
_MAX_LIST_ITEMS = 64
_MAX_STRING = 4000
_MAX_DEPTH = 24


def _decode_bytes(raw: bytes) -> str:
    for encoding in ("utf-8", "latin-1"):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        if text.isprintable() or all(ch.isprintable() or ch in "\r\n\t" for ch in text):
            return text.rstrip("\x00")
    return f"<{len(raw)} bytes of binary data>"


def json_safe(value: Any, depth: int = 0) -> Any:
    """Return a copy of ``value`` made of JSON types only (non-finite floats become strings)."""
    if depth > _MAX_DEPTH:
        return "<nested too deep>"
    if isinstance(value, np.generic):
        return json_safe(value.item(), depth + 1)
    if value is None or isinstance(value, bool | str | int):
        return value[:_MAX_STRING] if isinstance(value, str) else value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, bytes | bytearray):
        return _decode_bytes(bytes(value))[:_MAX_STRING]
    if isinstance(value, Mapping):
        return {str(key): json_safe(item, depth + 1) for key, item in value.items()}
    if isinstance(value, np.ndarray):
        if value.dtype.names:  # structured records (MRC extended header)
            return f"<{value.size} records of {', '.join(value.dtype.names[:8])}…>"
        if value.ndim == 0:
            return json_safe(value.item(), depth + 1)
        if value.size > _MAX_LIST_ITEMS:
            return f"<array {value.shape} {value.dtype}>"
        return [json_safe(item, depth + 1) for item in value.tolist()]
    if isinstance(value, list | tuple | set | frozenset):
        items = list(value)
        if len(items) > _MAX_LIST_ITEMS:
            return f"<{len(items)} items>"
        return [json_safe(item, depth + 1) for item in items]
    if hasattr(value, "item") and callable(value.item):
        try:
            return json_safe(value.item(), depth + 1)
        except (TypeError, ValueError):
            pass
    return str(value)[:_MAX_STRING]


def flatten(tree: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Yield ``("a.b.c", leaf)`` pairs of a nested mapping."""
    for key, value in tree.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            yield from flatten(value, path)
        else:
            yield path, value


def get_path(tree: Mapping[str, Any], dotted: str) -> Any:
    """Value at ``"a.b.c"`` in a nested mapping, or ``None``."""
    node: Any = tree
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


MappingSpec = Mapping[str, tuple[str, Callable[[Any], Any] | None]]


def apply_mapping(original: Mapping[str, Any], mapping: MappingSpec | None) -> dict[str, Any]:
    """Apply a rosettasciio ``mapping`` (source path -> (target path, converter)) to metadata.

    rosettasciio leaves this step to HyperSpy; we do it ourselves to get the beam energy,
    magnification, microscope name and acquisition mode in its normalised units (kV, mm).
    Returns a flat ``{target_path: value}`` dict; converters that fail are skipped.
    """
    result: dict[str, Any] = {}
    for source, (target, converter) in (mapping or {}).items():
        value = get_path(original, source)
        if value is None:
            continue
        if converter is not None:
            try:
                value = converter(value)
            except Exception:  # a vendor oddity must not stop the image from opening
                continue
        if value is not None:
            result[target] = value
    return result
