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
