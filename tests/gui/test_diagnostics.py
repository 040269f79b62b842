"""Copy Diagnostics and the exception hook: a bug report has what it needs, and a failing slot
shows a message instead of killing the window."""

from __future__ import annotations

import logging
import sys

from PySide6.QtWidgets import QApplication

from crystalview.diagnostics import diagnostics_text, install_recent_errors
from crystalview.gui.exceptions import install_exception_hook


def test_copy_diagnostics_puts_versions_and_recent_errors_on_the_clipboard(window):
    install_recent_errors()
    logging.getLogger("crystalview.test").error("reader failed on broken.dm3")
    window.set_device_text("cpu (1 threads, bf16)")
    text = window.copy_diagnostics()
    assert QApplication.clipboard().text() == text
    assert "CrystalView" in text and "torch" in text and "PySide6-Essentials" in text
    assert "cpu (1 threads, bf16)" in text
    assert "reader failed on broken.dm3" in text


def test_diagnostics_without_errors_says_none():
    text = diagnostics_text()
    assert "Compute device: not chosen yet" in text
    assert "Recent warnings and errors:" in text


def test_exception_in_a_slot_is_shown_and_the_window_survives(window, qtbot, monkeypatch):
    previous = sys.excepthook
    shown = []
    monkeypatch.setattr(window, "show_job_error", lambda *args: shown.append(args))
    install_exception_hook(window)
    try:
        sys.excepthook(ValueError, ValueError("slot exploded"), None)
    finally:
        sys.excepthook = previous
    assert shown and isinstance(shown[0][1], ValueError)
    assert "slot exploded" in shown[0][2]
    assert window.isVisible()
