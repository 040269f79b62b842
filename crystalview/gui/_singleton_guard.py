"""Work-around: keep ``None``, ``True`` and ``False`` alive under a PySide6 refcount bug.

PySide6 6.12 returns ``None`` from void C++ methods (every ``QPainter.drawLine``,
``setPen`` …) without taking a new reference, which is harmless on Python 3.12+ where these
singletons are immortal, but on Python 3.11 each call steals one reference. pyqtgraph paints
through such calls many times a second, so after a while CPython aborts with "Fatal Python
error: none_dealloc: deallocating None" (or ``bool_dealloc``). Measured here: 100 calls to
``QPainter.setPen`` lower ``sys.getrefcount(None)`` by 100.

The fix gives the three singletons a very large extra reference count once, which makes them
immortal in practice, exactly as Python 3.12 does by design. It touches nothing else and does
nothing on Python 3.12 or later.
"""

from __future__ import annotations

import ctypes
import sys

# 2**50 references: at a million stolen references per second this lasts over 35 years, and it
# is far below the 2**63 limit of the counter.
_EXTRA_REFERENCES = 2**50
_protected = False


def protect_singletons() -> None:
    """Raise the reference counts of None, True and False once (Python < 3.12 only)."""
    global _protected
    if _protected or sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return
    for singleton in (None, True, False):
        # ob_refcnt is the first field of every CPython object header.
        ctypes.c_ssize_t.from_address(id(singleton)).value += _EXTRA_REFERENCES
    _protected = True
