"""The desktop window (PySide6 + pyqtgraph): the only package that imports Qt.

Importing it applies `_singleton_guard`, a work-around for a reference-counting bug of the
PySide6 build in use on Python 3.11 (see that module).
"""

from crystalview.gui import _singleton_guard

_singleton_guard.protect_singletons()
