"""Choosing where models run, and how many CPU threads torch may use.

Threads are set once per process: torch's thread pool cannot be resized safely while work runs,
and in the window one core is left free so the event loop stays responsive.
"""

from __future__ import annotations

import logging
import os
from functools import lru_cache

import torch

from crystalview.core.errors import CrystalViewError
from crystalview.inference.settings import DEVICES

log = logging.getLogger(__name__)

_threads_configured = False


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def select_device(preference: str = "auto") -> torch.device:
    """``auto``: CUDA, then Apple MPS, then CPU; or the named device if it exists.

    Raises
    ------
    CrystalViewError
        A named accelerator was asked for but is not present.
    """
    preference = (preference or "auto").lower()
    if preference not in DEVICES:
        raise CrystalViewError(f"unknown device {preference!r}; choose {', '.join(DEVICES)}")
    if preference == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if preference == "cuda" and not torch.cuda.is_available():
        raise CrystalViewError("no CUDA GPU is available here; use --device cpu or auto")
    if preference == "mps" and not _mps_available():
        raise CrystalViewError("Apple MPS is not available here; use --device cpu or auto")
    return torch.device(preference)


def available_cores() -> int:
    """CPU cores this process may use (respects affinity masks and container limits)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def configure_threads(reserve: int = 1) -> int:
    """Set torch's intra-op threads once, leaving ``reserve`` cores free; return the count.

    An explicit ``OMP_NUM_THREADS`` from the user wins. Later calls change nothing.
    """
    global _threads_configured
    if not _threads_configured:
        _threads_configured = True
        if "OMP_NUM_THREADS" not in os.environ:
            torch.set_num_threads(max(1, available_cores() - max(0, reserve)))
        log.debug("torch uses %d CPU threads", torch.get_num_threads())
    return torch.get_num_threads()


@lru_cache(maxsize=1)
def cpu_has_fast_bf16() -> bool:
    """True when the CPU has AMX tile units for bfloat16, the only case where bf16 pays.

    AVX512-BF16 alone is not enough: on a 2-core Xeon (model 207) with AVX512-BF16 but no AMX,
    a ResNet-18 batch under bf16 autocast took 0.95-1.11 s against 0.71-0.79 s for the same
    folded channels-last copy in fp32, and the small diffraction CNNs tied, so bf16 there only
    costs precision. Without AMX the fast path stays in fp32.
    """
    try:
        if not torch.ops.mkldnn._is_mkldnn_bf16_supported():
            return False
    except (AttributeError, RuntimeError):
        return False
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="ignore") as handle:
            flags = handle.read()
    except OSError:
        # Not Linux: oneDNN's check above already says the ISA is there.
        return True
    return cpu_flags_have_amx(flags)


def cpu_flags_have_amx(cpuinfo: str) -> bool:
    """Whether ``/proc/cpuinfo`` text lists the AMX bfloat16 unit (``amx_bf16``)."""
    return any(
        "amx_bf16" in line.split() for line in cpuinfo.splitlines() if line.startswith("flags")
    )


def describe_device(device: torch.device) -> str:
    """A human name for the device, e.g. ``cuda (NVIDIA H100)`` or ``cpu (2 threads, bf16)``."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        mode = "bf16" if cpu_has_fast_bf16() else "fp32"
        return f"cpu ({torch.get_num_threads()} threads, {mode})"
    return device.type
