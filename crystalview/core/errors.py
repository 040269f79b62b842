"""Every failure a user can meet is a `CrystalViewError` whose message is fit to show them.

The message names the file (or model) and says what is wrong in a microscopist's words; the GUI
shows it in a dialog and the CLI prints it on one line, never as a traceback.
"""

from __future__ import annotations


class CrystalViewError(Exception):
    """Base class of the errors we expect and explain to the user."""


class UnsupportedFormatError(CrystalViewError):
    """The file is not an image format CrystalView can read (or not an image at all)."""


class CorruptFileError(CrystalViewError):
    """The file claims a known format but its content is damaged or truncated."""


class FileTooLargeError(CrystalViewError):
    """Decoding the file would exceed the configured memory budget."""


class MissingCodecError(CrystalViewError):
    """The file uses a compression for which no decoder is installed."""


class ReadTimeoutError(CrystalViewError):
    """A reader took longer than allowed and was cut off."""


class ModelBundleError(CrystalViewError):
    """A model file is invalid, unsafe, or does not match its declared architecture."""


class Cancelled(CrystalViewError):
    """The user cancelled a long-running job."""


class SaveError(CrystalViewError):
    """A file could not be written (disk full, no permission, read-only medium ...)."""


def save_failure_message(path, error: OSError) -> str:
    """One line that says which file could not be written, why, and what the user can do.

    Shared by every writer (label projects, model bundles, exports) so the advice is the same
    wherever a save fails; the previous version of the file is always left in place.
    """
    import errno

    reasons = {
        errno.ENOSPC: ("the disk is full", "Free some space or choose another folder."),
        errno.EDQUOT: ("the disk quota is used up", "Free some space or choose another folder."),
        errno.EACCES: ("permission denied", "Choose another folder, or ask for write permission."),
        errno.EPERM: ("permission denied", "Choose another folder, or ask for write permission."),
        errno.EROFS: ("the medium is read-only", "Choose another folder on a writable disk."),
        errno.ENOTDIR: (
            "part of the path is a file, not a folder",
            "Choose another folder.",
        ),
        errno.ENOENT: ("the folder does not exist", "Choose another folder."),
    }
    reason, advice = reasons.get(
        error.errno, (error.strerror or str(error), "Choose another folder, or free some space.")
    )
    name = getattr(path, "name", None) or str(path)
    return f"Could not save {name} ({path}): {reason}. {advice} The previous file is unchanged."


def about(path: object, message: str) -> str:
    """``message`` as a line about ``path``: prefixed with the path unless it already names it.

    Our readers' messages start with the file they are about (they are shown alone in dialogs);
    places that list failures per file use this so the path is never printed twice.
    """
    name = str(path)
    return message if message.startswith(name) else f"{name}: {message}"


def without_path(path: object, message: str) -> str:
    """``message`` without a leading ``"<path>: "``, for lists that show the file name already."""
    prefix = f"{path}: "
    return message[len(prefix) :] if message.startswith(prefix) else message
