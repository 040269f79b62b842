"""The memory budget that readers check before decoding anything.

A header can claim any size; we compare that claim against the budget before allocating, so a
lying or enormous file is refused with a message rather than exhausting the machine.
"""

from __future__ import annotations

import os

_ENV_VAR = "CRYSTALVIEW_MEMORY_BUDGET_MB"
_DEFAULT_FRACTION = 0.5


def total_ram_bytes() -> int:
    """Physical memory of this machine, or 8 GiB when it cannot be determined."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        try:
            import psutil

            return int(psutil.virtual_memory().total)
        except Exception:
            return 8 * 1024**3


_override_bytes: int | None = None


def memory_budget_bytes() -> int:
    """Largest decoded image we accept, in bytes.

    Order of precedence: `set_memory_budget`, the ``CRYSTALVIEW_MEMORY_BUDGET_MB`` environment
    variable, then half of physical RAM.
    """
    if _override_bytes is not None:
        return _override_bytes
    env = os.environ.get(_ENV_VAR)
    if env:
        try:
            return max(1, int(float(env) * 1024**2))
        except ValueError:
            pass
    return int(total_ram_bytes() * _DEFAULT_FRACTION)


def set_memory_budget(n_bytes: int | None) -> None:
    """Override the budget for this process (``None`` restores the default)."""
    global _override_bytes
    _override_bytes = None if n_bytes is None else max(1, int(n_bytes))


def format_bytes(n_bytes: float) -> str:
    """``1536`` → ``"1.5 KiB"``; for messages."""
    value = float(n_bytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"
