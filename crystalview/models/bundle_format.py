"""The `.cvmodel` container without torch: names, limits, and reading the manifest and card.

Listing models (the catalog, the GUI's model list, ``crystalview models list``) needs only the
manifest; keeping this part free of torch lets the window list models without loading torch at
start-up. Loading the weights lives in `crystalview.models.bundle`.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from crystalview.core.errors import ModelBundleError
from crystalview.models.manifest import ModelManifest
from crystalview.models.safe_zip import MemberRule, open_checked_zip, read_member

BUNDLE_SUFFIX = ".cvmodel"
MANIFEST_NAME = "model.json"
WEIGHTS_NAME = "weights.safetensors"
CARD_NAME = "README.md"
MAX_BUNDLE_BYTES = 1024 * 1024 * 1024
MEMBER_RULES = (
    MemberRule(MANIFEST_NAME, required=True, max_bytes=1024 * 1024),
    MemberRule(WEIGHTS_NAME, required=True, max_bytes=MAX_BUNDLE_BYTES),
    MemberRule(CARD_NAME, required=False, max_bytes=1024 * 1024),
)


def read_manifest(path: str | os.PathLike) -> ModelManifest:
    """Only the manifest of a bundle (cheap: the weights are not read); checks the zip first."""
    path = Path(path)
    archive, members = open_checked_zip(path, MEMBER_RULES, MAX_BUNDLE_BYTES)
    with archive:
        return parse_manifest(archive, members, path)


def read_model_card(path: str | os.PathLike) -> str | None:
    """The bundle's ``README.md`` model card, or None when it has none."""
    path = Path(path)
    archive, members = open_checked_zip(path, MEMBER_RULES, MAX_BUNDLE_BYTES)
    with archive:
        return read_card(archive, members, path)


def parse_manifest(archive: zipfile.ZipFile, members: dict, path: Path) -> ModelManifest:
    raw = read_member(archive, members[MANIFEST_NAME], str(path))
    try:
        return ModelManifest.from_json(raw.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise ModelBundleError(f"{path}: model.json is not UTF-8 text") from error
    except ModelBundleError as error:
        raise type(error)(f"{path}: {error}") from error
    except TypeError as error:
        raise ModelBundleError(f"{path}: model.json is malformed ({error})") from error


def read_card(archive: zipfile.ZipFile, members: dict, path: Path) -> str | None:
    if CARD_NAME not in members:
        return None
    raw = read_member(archive, members[CARD_NAME], str(path))
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ModelBundleError(f"{path}: README.md is not UTF-8 text") from error
