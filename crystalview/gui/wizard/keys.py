"""Enter in a wizard's text field does that field's job, never the wizard's Next or Finish.

A `QLineEdit` emits ``returnPressed`` and then lets the key travel on to the dialog, which
clicks its default button: in the wizard that is Next, so typing a class name and pressing
Enter added the class *and* left the page (the next name was typed into nothing). The filter
here consumes Enter on the field after running the field's own action.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QLineEdit

_ENTER_KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter)


class _EnterActsHere(QObject):
    def __init__(self, edit: QLineEdit, action: Callable[[], None] | None):
        super().__init__(edit)
        self._action = action

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.KeyPress and event.key() in _ENTER_KEYS:
            if self._action is not None:
                self._action()
            return True  # the wizard never sees it
        return False


def enter_acts_here(edit: QLineEdit, action: Callable[[], None] | None = None) -> None:
    """Make Enter in ``edit`` run ``action`` (or nothing) instead of the dialog's default button."""
    edit.installEventFilter(_EnterActsHere(edit, action))
