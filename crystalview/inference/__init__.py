"""Running models on images: device choice, preprocessing, batched tiled prediction.

`predict.predict_micrograph` is the entry point; it is a generator yielding progress per batch.
`settings.InferenceSettings` and `plan.plan_input` are torch-free, so the window can build and
draw them without loading torch; this package imports torch only when a name that needs it is
first used (``configure_threads``, ``select_device``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crystalview.inference.device import configure_threads, select_device

__all__ = ["configure_threads", "select_device"]

_LAZY = {name: "crystalview.inference.device" for name in __all__}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
