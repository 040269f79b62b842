"""Reading a model zip from a stranger without trusting its directory.

A zip's directory can lie: member names can climb out of a folder, repeat, or declare small
sizes that inflate to gigabytes. We check the directory against a fixed list of expected members
and caps before reading anything, and then read each member with a hard byte limit.
"""

from __future__ import annotations

import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from crystalview.core.errors import ModelBundleError

MAX_MEMBERS = 8
MAX_RATIO = 200  # uncompressed / compressed; model weights compress barely, text maybe 10x


@dataclass(frozen=True)
class MemberRule:
    """An allowed member: its name, whether it must be present, and its size cap in bytes."""

    name: str
    required: bool
    max_bytes: int


def check_member_name(name: str, where: str) -> None:
    """Refuse names that could escape a folder or hide in one if the zip were ever extracted."""
    if not name or "\x00" in name:
        raise ModelBundleError(f"{where}: a member has an empty or invalid name")
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise ModelBundleError(f"{where}: member {name!r} has an absolute path")
    parts = name.replace("\\", "/").split("/")
    if ".." in parts:
        raise ModelBundleError(f"{where}: member {name!r} tries to leave the bundle (path '..')")
    if "/" in name or "\\" in name:
        raise ModelBundleError(f"{where}: member {name!r} is in a folder; bundles are flat")


def open_checked_zip(
    path: Path, rules: tuple[MemberRule, ...], max_file_bytes: int
) -> tuple[zipfile.ZipFile, dict[str, zipfile.ZipInfo]]:
    """Open ``path`` as a zip whose members all satisfy ``rules``; return it and its members.

    Raises
    ------
    ModelBundleError
        One message per kind of problem: not a zip, too big, too many members, odd or duplicate
        or unexpected names, missing members, encryption, unknown compression, oversized or
        suspiciously compressed members.
    """
    where = str(path)
    if not path.is_file():
        raise ModelBundleError(f"{where}: no such model file")
    size = path.stat().st_size
    if size > max_file_bytes:
        raise ModelBundleError(
            f"{where}: model file is {size / 1e6:.0f} MB, more than the {max_file_bytes / 1e6:.0f}"
            " MB a CrystalView model may have"
        )
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise ModelBundleError(
            f"{where}: not a CrystalView model file (not a zip: {error})"
        ) from error
    try:
        members = _check_directory(archive, rules, where)
    except BaseException:
        archive.close()
        raise
    return archive, members


def _check_directory(
    archive: zipfile.ZipFile, rules: tuple[MemberRule, ...], where: str
) -> dict[str, zipfile.ZipInfo]:
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        raise ModelBundleError(
            f"{where}: the bundle holds {len(infos)} files; at most {MAX_MEMBERS}"
        )
    allowed = {rule.name: rule for rule in rules}
    members: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        check_member_name(info.filename, where)
        if info.filename in members:
            raise ModelBundleError(f"{where}: member {info.filename!r} appears twice")
        if info.filename not in allowed:
            raise ModelBundleError(
                f"{where}: unexpected member {info.filename!r} (a model holds only "
                f"{', '.join(allowed)})"
            )
        if info.flag_bits & 0x1:
            raise ModelBundleError(f"{where}: member {info.filename!r} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ModelBundleError(
                f"{where}: member {info.filename!r} uses an unsupported compression method"
            )
        rule = allowed[info.filename]
        if info.file_size > rule.max_bytes:
            raise ModelBundleError(
                f"{where}: member {info.filename!r} is {info.file_size} bytes, more than the "
                f"{rule.max_bytes} allowed"
            )
        if info.file_size > 1_000_000 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise ModelBundleError(
                f"{where}: member {info.filename!r} expands {info.file_size} bytes from "
                f"{info.compress_size}: refused as a zip bomb"
            )
        members[info.filename] = info
    for rule in rules:
        if rule.required and rule.name not in members:
            raise ModelBundleError(f"{where}: the bundle lacks {rule.name}")
    return members


def read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, where: str) -> bytes:
    """Read a member, never more bytes than its declared size (a lying size cannot inflate)."""
    try:
        with archive.open(info) as stream:
            data = stream.read(info.file_size + 1)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError) as error:
        raise ModelBundleError(f"{where}: member {info.filename!r} is damaged ({error})") from error
    if len(data) != info.file_size:
        raise ModelBundleError(
            f"{where}: member {info.filename!r} does not have the size its directory declares"
        )
    return data
