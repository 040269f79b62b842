"""Persistent GUI state and lab preferences (QSettings in an INI file under the user data folder).

One INI file on every platform (rather than the Windows registry or macOS plists) keeps the
state in the same place as models and logs, and lets tests redirect it with CRYSTALVIEW_HOME.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QSettings

from crystalview.inference.settings import DEVICES
from crystalview.paths import user_data_dir

SETTINGS_FILE = "crystalview.ini"
MAX_RECENT = 12


def make_settings() -> QSettings:
    """The application's QSettings (INI format, under `crystalview.paths.user_data_dir`)."""
    folder = user_data_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return QSettings(str(folder / SETTINGS_FILE), QSettings.Format.IniFormat)


@dataclass
class Preferences:
    """Defaults a lab changes: compute device, CPU threads, memory budget, colour map."""

    device: str = "auto"
    threads: int = 0
    """Threads for computation (0: all cores but one, leaving one to the window)."""
    memory_budget_mb: int = 0
    """Largest image the readers accept (0: half of the RAM)."""
    color_map: str = "grey"

    @classmethod
    def load(cls, settings: QSettings | None = None) -> Preferences:
        settings = settings or make_settings()
        defaults = cls()

        def number(key: str, default: int) -> int:
            try:
                return int(settings.value(key, default))
            except (TypeError, ValueError):
                return default

        device = str(settings.value("preferences/device", defaults.device))
        return cls(
            device=device if device in DEVICES else defaults.device,
            threads=max(0, number("preferences/threads", defaults.threads)),
            memory_budget_mb=max(0, number("preferences/memory_budget_mb", 0)),
            color_map=str(settings.value("preferences/color_map", defaults.color_map)),
        )

    def save(self, settings: QSettings | None = None) -> None:
        settings = settings or make_settings()
        settings.setValue("preferences/device", self.device)
        settings.setValue("preferences/threads", self.threads)
        settings.setValue("preferences/memory_budget_mb", self.memory_budget_mb)
        settings.setValue("preferences/color_map", self.color_map)
        settings.sync()

    def apply(self) -> None:
        """Make the preferences take effect in this process (memory budget for the readers)."""
        from crystalview.core.memory import set_memory_budget

        set_memory_budget(self.memory_budget_mb * 1024**2 if self.memory_budget_mb else None)


def recent_paths(settings: QSettings) -> list[Path]:
    """Recently opened files and folders, newest first."""
    value = settings.value("recent/paths", [])
    if isinstance(value, str):  # QSettings returns a bare string for a one-item list in INI
        value = [value]
    return [Path(p) for p in (value or []) if p]


def add_recent_paths(settings: QSettings, paths: list[Path]) -> None:
    """Put ``paths`` at the front of the recent list (no duplicates, at most MAX_RECENT)."""
    new = [str(Path(p).resolve()) for p in paths]
    old = [str(p) for p in recent_paths(settings) if str(p) not in new]
    settings.setValue("recent/paths", (new + old)[:MAX_RECENT])
    settings.sync()
