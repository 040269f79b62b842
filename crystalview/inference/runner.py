"""Running batches through a model as fast as the device allows, and surviving GPU memory limits.

The fast path runs the model's fused inference copy (`crystalview.inference.fused`: batch norms
folded into convolutions, ReLUs moved behind max-pools, index-free 2 x 2 pools on the CPU), in
channels-last layout (oneDNN's preferred layout for convolutions), under bf16 autocast where the
CPU has native bfloat16 units (about twice as fast again, same top-1 answers) and float16
autocast with pinned host memory on CUDA.

Every forward pass also returns the global average of the last feature map, the input of the
out-of-distribution score (`crystalview.inference.calibration`): it costs one mean per batch.

When the GPU runs out of memory the runner frees its cache, halves the batch and retries, and as
a last resort moves the model to the CPU; each step is recorded in ``notes`` so the user is told.
It never runs the cyclic garbage collector: the runner works in the GUI's worker threads, and a
collection there can free Qt objects off the GUI thread and deadlock the app
(`crystalview.gui.garbage`). The failed batch's tensors are freed by reference counting once the
error's traceback, which holds the failed call's frames, is dropped.
"""

from __future__ import annotations

import contextlib
import logging

import numpy as np
import torch

from crystalview.core.errors import CrystalViewError
from crystalview.inference.device import cpu_has_fast_bf16
from crystalview.inference.fused import LogitsAndFeatures, inference_copy
from crystalview.models.base import CrystalNet

log = logging.getLogger(__name__)


def softmax_rows(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of ``logits / temperature`` as float32."""
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    scaled -= scaled.max(axis=1, keepdims=True)
    exp = np.exp(scaled)
    return (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)


def is_out_of_memory(error: BaseException) -> bool:
    """True for CUDA (and MPS) out-of-memory errors, which are worth a smaller retry."""
    if isinstance(error, torch.cuda.OutOfMemoryError):
        return True
    return isinstance(error, RuntimeError) and "out of memory" in str(error).lower()


class BatchRunner:
    """Turns float32 batches ``(B, H, W)`` into logits ``(B, k)`` and pooled features ``(B, C)``.

    Parameters
    ----------
    model
        Put in eval mode and moved to ``device`` (channels-last when ``fast``); with ``fast``
        the forward passes run on its folded copy.
    fast
        Use the folded, channels-last, reduced-precision copy described in the module docstring.
    max_batch
        Largest batch sent to the device at once; halves on out-of-memory.
    """

    def __init__(
        self, model: CrystalNet, device: torch.device, fast: bool = True, max_batch: int = 32
    ) -> None:
        self.model = model
        self.fast = fast
        self.max_batch = max(1, int(max_batch))
        self.notes: list[str] = []
        self.device = torch.device("cpu")
        self._use_device(torch.device(device))

    @property
    def precision(self) -> str:
        """``"bf16"``, ``"fp16"`` or ``"fp32"``: what the convolutions compute in."""
        if self._autocast_dtype is torch.bfloat16:
            return "bf16"
        if self._autocast_dtype is torch.float16:
            return "fp16"
        return "fp32"

    def _use_device(self, device: torch.device) -> None:
        self.device = device
        self._channels_last = self.fast and device.type in ("cpu", "cuda")
        # The model itself also moves (and takes the layout) so that CAM, which needs its
        # unfused layers, runs on the same device as the runner it asks for.
        self.model.eval().to(device)
        if self._channels_last:
            self.model.to(memory_format=torch.channels_last)
        if self.fast:
            self._net = inference_copy(self.model, device, self._channels_last, features=True)
        else:
            self._net = LogitsAndFeatures(self.model)
        self._autocast_dtype: torch.dtype | None = None
        if self.fast and device.type == "cuda":
            self._autocast_dtype = torch.float16
        elif self.fast and device.type == "cpu" and cpu_has_fast_bf16():
            self._autocast_dtype = torch.bfloat16

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self._autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self._autocast_dtype)

    def _forward(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Logits and pooled features of a batch that must fit the device (no splitting)."""
        x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32))[:, None]
        if self.device.type == "cuda":
            x = x.pin_memory().to(self.device, non_blocking=True)
        elif self.device.type != "cpu":
            x = x.to(self.device)
        if self.model.in_channels > 1:
            x = x.expand(-1, self.model.in_channels, -1, -1)
        if self._channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode(), self._autocast():
            logits, features = self._net(x)
        return logits.float().cpu().numpy(), features.float().cpu().numpy()

    def _free_device_memory(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        elif self.device.type == "mps":
            torch.mps.empty_cache()

    def probabilities(self, batch: np.ndarray) -> np.ndarray:
        """Softmax probabilities ``(B, k)`` for ``batch`` ``(B, H, W)``, splitting it as needed."""
        logits, _ = self.outputs(batch)
        return softmax_rows(logits)

    def outputs(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Logits ``(B, k)`` and pooled features ``(B, C)``, splitting the batch as needed."""
        logits, features = [], []
        start = 0
        while start < len(batch):
            chunk = batch[start : start + self.max_batch]
            try:
                chunk_logits, chunk_features = self._forward(chunk)
            except Exception as error:
                if not is_out_of_memory(error):
                    raise
                out_of_memory = error.with_traceback(None)  # frees the failed call's tensors
            else:
                out_of_memory = None
            if out_of_memory is not None:
                self._recover_from_oom(out_of_memory)
                continue
            logits.append(chunk_logits)
            features.append(chunk_features)
            start += len(chunk)
        if not logits:
            empty = np.zeros((0, self.model.num_classes), dtype=np.float32)
            return empty, np.zeros((0, 0), dtype=np.float32)
        return np.concatenate(logits, axis=0), np.concatenate(features, axis=0)

    def _recover_from_oom(self, error: BaseException) -> None:
        self._free_device_memory()
        if self.max_batch > 1:
            self.max_batch //= 2
            self._note(
                f"{self.device.type} out of memory: retrying with batches of {self.max_batch}"
            )
        elif self.device.type != "cpu":
            failed = self.device.type
            self._use_device(torch.device("cpu"))
            self._note(f"{failed} out of memory even for one tile: continuing on the CPU")
        else:
            raise CrystalViewError(
                "not enough memory to run the model even on one tile; close other programs "
                "or use a smaller model"
            ) from error

    def _note(self, message: str) -> None:
        log.warning(message)
        self.notes.append(message)
