"""Device choice, thread set-up, and the out-of-memory fallback (with an injected OOM)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from crystalview.core.errors import CrystalViewError
from crystalview.core.progress import run_to_completion
from crystalview.inference import device as device_module
from crystalview.inference.device import select_device
from crystalview.inference.predict import InferenceSettings, make_runner, predict_image
from crystalview.inference.runner import BatchRunner

EXACT = InferenceSettings(batch_size=8, device="cpu", fast=False)


def test_auto_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(device_module, "_mps_available", lambda: False)
    assert select_device("auto") == torch.device("cpu")
    monkeypatch.setattr(device_module, "_mps_available", lambda: True)
    assert select_device("auto") == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert select_device("auto") == torch.device("cuda")
    assert select_device("cpu") == torch.device("cpu")


def test_missing_or_unknown_devices_are_explained(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(CrystalViewError, match="no CUDA GPU"):
        select_device("cuda")
    with pytest.raises(CrystalViewError, match="unknown device"):
        select_device("tpu")


def test_threads_are_configured_once_leaving_a_core(monkeypatch):
    previous = torch.get_num_threads()
    monkeypatch.setattr(device_module, "_threads_configured", False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(device_module, "available_cores", lambda: 4)
    try:
        assert device_module.configure_threads() == 3
        torch.set_num_threads(2)
        assert device_module.configure_threads() == 2  # second call changes nothing
    finally:
        torch.set_num_threads(previous)


def fake_oom(runner, monkeypatch, fails):
    """Make ``runner._forward`` raise a CUDA OOM while ``fails(batch, device)`` is true."""
    real = runner._forward
    seen = []

    def forward(batch):
        seen.append((len(batch), runner.device.type))
        if fails(len(batch), runner.device.type):
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(batch)

    monkeypatch.setattr(runner, "_forward", forward)
    return seen


def test_oom_halves_the_batch_and_keeps_results_identical(tiny_loaded, monkeypatch):
    batch = np.random.default_rng(0).standard_normal((16, 32, 32)).astype(np.float32)
    expected = BatchRunner(tiny_loaded.model, torch.device("cpu"), fast=False).probabilities(batch)
    runner = BatchRunner(tiny_loaded.model, torch.device("cpu"), fast=False, max_batch=16)
    seen = fake_oom(runner, monkeypatch, lambda n, _: n > 4)
    np.testing.assert_allclose(runner.probabilities(batch), expected, atol=1e-6)
    assert runner.max_batch == 4
    assert [n for n, _ in seen] == [16, 8, 4, 4, 4, 4]
    assert "retrying with batches of 4" in runner.notes[-1]


def test_gpu_oom_falls_back_to_cpu_and_says_so(tiny_loaded, textured, monkeypatch):
    runner = make_runner(tiny_loaded, EXACT)
    # Pretend the model sits on a GPU; the fake forward fails there whatever the batch size.
    runner.device = torch.device("cuda")
    fake_oom(runner, monkeypatch, lambda n, device: device == "cuda")
    events = []
    result = run_to_completion(
        predict_image(tiny_loaded, textured((80, 80)), EXACT, runner=runner), events.append
    )
    assert result.device == "cpu"
    assert any("continuing on the CPU" in e.message for e in events)
    assert any("continuing on the CPU" in note for note in result.notes)
    assert np.all(np.isfinite(result.tile_probabilities))


def test_oom_on_cpu_with_one_tile_is_a_clear_error(tiny_loaded, monkeypatch):
    runner = BatchRunner(tiny_loaded.model, torch.device("cpu"), fast=False, max_batch=1)
    fake_oom(runner, monkeypatch, lambda n, d: True)
    with pytest.raises(CrystalViewError, match="not enough memory"):
        runner.probabilities(np.zeros((2, 32, 32), np.float32))


def test_oom_recovery_frees_the_failed_batch_without_a_garbage_collection(tiny_loaded, monkeypatch):
    """The runner works in GUI worker threads, where a cyclic collection can deadlock Qt."""
    import gc
    import weakref

    runner = BatchRunner(tiny_loaded.model, torch.device("cpu"), fast=False, max_batch=8)
    held = []

    def forward(batch):
        if len(batch) > 4:
            activations = torch.zeros(len(batch), 64)  # what a real failed forward leaves behind
            held.append(weakref.ref(activations))
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return np.zeros((len(batch), 2), np.float32), np.zeros((len(batch), 3), np.float32)

    alive_when_freeing = []
    real_free = runner._free_device_memory

    def free_device_memory():
        alive_when_freeing.append(held[-1]() is not None)
        real_free()

    def no_collection(*_args):
        raise AssertionError("the runner must not run the cyclic garbage collector")

    monkeypatch.setattr(runner, "_forward", forward)
    monkeypatch.setattr(runner, "_free_device_memory", free_device_memory)
    monkeypatch.setattr(gc, "collect", no_collection)
    logits, _ = runner.outputs(np.zeros((8, 16, 16), np.float32))
    assert logits.shape == (8, 2) and runner.max_batch == 4
    assert alive_when_freeing == [False]


def test_bf16_is_used_only_with_amx():
    """AVX512-BF16 without AMX measured slower than fp32, so only ``amx_bf16`` turns bf16 on."""
    avx_only = "processor\t: 0\nflags\t\t: fpu sse2 avx512bw avx512_bf16\n"
    amx = "processor\t: 0\nflags\t\t: fpu sse2 avx512_bf16 amx_bf16 amx_tile\n"
    assert not device_module.cpu_flags_have_amx(avx_only)
    assert device_module.cpu_flags_have_amx(amx)
    assert not device_module.cpu_flags_have_amx("model name\t: amx_bf16 lookalike\n")
