"""Running batches through a model as fast as the device allows, and surviving GPU memory limits.

The fast path runs an inference copy of the model with every batch norm folded into the
convolution before it (one pass over memory less per layer, a large win for small networks),
every ReLU that feeds a max-pool moved behind it (the two commute, and the ReLU then touches a
quarter of the values: on the diffraction CNN ReLU and pooling were half the time), and, on the
CPU, 2 x 2 max-pools computed as the maximum of four strided views (the CPU kernel behind
``nn.MaxPool2d`` also writes an int64 index per output, which made it a quarter of the small
CNN's time), in
channels-last layout (oneDNN's preferred layout for convolutions), under bf16 autocast where the
CPU has native bfloat16 units (about twice as fast again, same top-1 answers) and float16
autocast with pinned host memory on CUDA. The copy is cached per model and rebuilt when its
weights change.

Every forward pass also returns the global average of the last feature map, the input of the
out-of-distribution score (`crystalview.inference.calibration`): it costs one mean per batch.

When the GPU runs out of memory the runner frees its cache, halves the batch and retries, and as
a last resort moves the model to the CPU; each step is recorded in ``notes`` so the user is told.
"""

from __future__ import annotations

import contextlib
import copy
import gc
import logging
import weakref

import numpy as np
import torch

from crystalview.core.errors import CrystalViewError
from crystalview.inference.device import cpu_has_fast_bf16
from crystalview.models.base import CrystalNet

log = logging.getLogger(__name__)

# model -> (signature of weights and device, fused inference copy)
_INFERENCE_COPIES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _weights_signature(model: torch.nn.Module) -> tuple:
    # In-place updates (optimiser steps, load_state_dict) bump a tensor's version counter.
    return tuple((t.data_ptr(), t._version) for t in model.state_dict().values())


def _is_relu(graph_module: torch.fx.GraphModule, node: torch.fx.Node) -> bool:
    if node.op == "call_module":
        return isinstance(graph_module.get_submodule(node.target), torch.nn.ReLU)
    return node.op == "call_function" and node.target in (torch.relu, torch.nn.functional.relu)


def pool_before_relu(graph_module: torch.fx.GraphModule) -> int:
    """Rewrite every ``relu -> max_pool`` into ``max_pool -> relu``; return how many moved.

    ``max(relu(x)) == relu(max(x))`` because ReLU is monotonic (padding counts as -inf and every
    window holds a real value), so the result is identical while the ReLU runs on the pooled,
    smaller tensor. Only a ReLU whose one user is the pool is moved.
    """
    moved = 0
    for pool in list(graph_module.graph.nodes):
        if pool.op != "call_module":
            continue
        module = graph_module.get_submodule(pool.target)
        if not isinstance(module, torch.nn.MaxPool2d) or module.return_indices:
            continue
        relu = pool.args[0]
        if not isinstance(relu, torch.fx.Node) or not _is_relu(graph_module, relu):
            continue
        if len(relu.users) != 1 or len(pool.args) != 1 or pool.kwargs:
            continue
        pool.replace_all_uses_with(relu)
        pool.args = (relu.args[0],)
        relu.args = (pool, *relu.args[1:])
        pool.append(relu)  # the graph must stay in execution order
        moved += 1
    if moved:
        graph_module.graph.lint()
        graph_module.recompile()
    return moved


class MaxPool2x2(torch.nn.Module):
    """``nn.MaxPool2d(2)`` as the maximum of the four pixels of each 2 x 2 block.

    Same values (an odd last row or column is dropped, as the floor-mode pool does); no index
    tensor is computed, which the CPU pooling kernel always does.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2] // 2 * 2, x.shape[-1] // 2 * 2
        x = x[..., :height, :width]
        top = torch.maximum(x[..., 0::2, 0::2], x[..., 0::2, 1::2])
        return torch.maximum(top, torch.maximum(x[..., 1::2, 0::2], x[..., 1::2, 1::2]))


def _is_plain_2x2_pool(module: torch.nn.Module) -> bool:
    if not isinstance(module, torch.nn.MaxPool2d) or module.return_indices or module.ceil_mode:
        return False
    plain = {"kernel_size": 2, "stride": 2, "padding": 0, "dilation": 1}
    for name, wanted in plain.items():
        value = getattr(module, name)
        pair = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
        if pair != (wanted, wanted):
            return False
    return True


def replace_2x2_pools(network: torch.nn.Module) -> int:
    """Swap every plain ``nn.MaxPool2d(2)`` in ``network`` for `MaxPool2x2`; return the count."""
    swapped = 0
    for parent in list(network.modules()):
        for name, child in list(parent.named_children()):
            if _is_plain_2x2_pool(child):
                setattr(parent, name, MaxPool2x2())
                swapped += 1
    return swapped


class LogitsAndFeatures(torch.nn.Module):
    """``model`` returning ``(logits, pooled features)``: the features are the global average
    of the last feature map, ``(N, C)``."""

    def __init__(self, model: CrystalNet) -> None:
        super().__init__()
        self.net = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        fmap = self.net.forward_features(x)
        return self.net.forward_head(fmap), fmap.mean(dim=(2, 3))


def inference_copy(
    model: CrystalNet, device: torch.device, channels_last: bool, features: bool = False
) -> torch.nn.Module:
    """An eval-mode copy of ``model`` with batch norms folded into convolutions, on ``device``.

    ReLUs before max-pools are also moved behind them (`pool_before_relu`), and on the CPU
    2 x 2 max-pools become `MaxPool2x2`. Falls back to a plain copy when the architecture
    cannot be traced by torch.fx. With ``features`` the copy is of `LogitsAndFeatures`.
    """
    key = (str(device), channels_last, features, _weights_signature(model))
    cached = _INFERENCE_COPIES.get(model)
    if cached is not None and cached[0] == key:
        return cached[1]
    from torch.fx.experimental.optimization import fuse

    was_training = model.training
    model.eval()
    source = LogitsAndFeatures(model) if features else model
    try:
        fused = fuse(source)  # works on a deep copy
        pool_before_relu(fused)
    except Exception as error:  # tracing is an optimisation only; any failure keeps eager
        log.debug("batch-norm folding unavailable for %s: %s", model.arch, error)
        fused = copy.deepcopy(source)
    finally:
        model.train(was_training)
    fused.eval().to(device)
    if device.type == "cpu":
        replace_2x2_pools(fused)
    if channels_last:
        fused.to(memory_format=torch.channels_last)
    _INFERENCE_COPIES[model] = (key, fused)
    return fused


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
        gc.collect()
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
                self._recover_from_oom(error)
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
