"""Every way a heat-map job ends releases the dock; no request is lost or stuck behind another.

Defect 1 of issue 16: the heat-map dock stayed on "Computing …" for good and Compute did nothing.
These tests pin the queue's invariants on real worker threads: a background load never
displaces the user's waiting request, a job that ignores its cancel token is abandoned when the
user asks again, a job cancelled from the window (Esc) leaves the dock saying so, and the
issue's scenario (heat map, feature browser, close, next image) ends with the next map shown.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PySide6.QtCore import Qt

import crystalview.gui.cam.serial as serial
from crystalview.core.progress import Progress
from crystalview.gui.cam.serial import SerialJobs
from crystalview.gui.workers import WorkerPool


@pytest.fixture
def pool(qtbot):
    pool = WorkerPool(max_threads=2)
    yield pool
    assert pool.shutdown(5000)


def _polling(release: threading.Event):
    """A job that waits for ``release`` but stops within 10 ms when cancelled."""

    def job(cancel):
        while not release.wait(0.01):
            cancel.raise_if_cancelled()
        return "polled"

    return job


def test_a_background_load_never_displaces_the_users_waiting_request(qtbot, pool):
    jobs = SerialJobs(pool)
    release = threading.Event()
    results = []
    jobs.submit(_polling(release), "background A", results.append, preempt=False)
    # the user asks while A runs, then another background load is queued behind it
    jobs.submit(lambda _c: "map", "heat map", results.append, preempt=False)
    jobs.submit(lambda _c: "classes", "classes", results.append, preempt=False)
    assert jobs.pending_titles == ["heat map", "classes"]
    with qtbot.waitSignal(jobs.busy_changed, timeout=5000, check_params_cb=lambda b: not b):
        release.set()
    assert results == ["polled", "map", "classes"]


def test_a_user_request_waits_only_behind_a_running_job_not_a_queued_load(qtbot, pool):
    jobs = SerialJobs(pool)
    release = threading.Event()
    results = []
    jobs.submit(_polling(release), "running", results.append, preempt=False)
    jobs.submit(lambda _c: "classes", "classes", results.append, preempt=False)
    jobs.submit(lambda _c: "map", "heat map", results.append)  # preempts the running job
    assert jobs.pending_titles == ["heat map", "classes"]
    with qtbot.waitSignal(jobs.busy_changed, timeout=5000, check_params_cb=lambda b: not b):
        pass
    assert results == ["map", "classes"]  # "running" was cancelled, nothing was lost


def test_a_job_that_ignores_cancel_is_abandoned_when_the_user_asks_again(qtbot, pool, monkeypatch):
    monkeypatch.setattr(serial, "STUCK_AFTER_S", 0.2)
    jobs = SerialJobs(pool)
    started, stuck_release = threading.Event(), threading.Event()
    results = []

    def stuck(_cancel):
        started.set()
        return stuck_release.wait(10) and "late"  # never looks at its cancel token

    jobs.submit(stuck, "stuck", results.append)
    assert started.wait(5)
    jobs.submit(lambda _c: "first try", "map", results.append)  # cancels; the job ignores it
    qtbot.wait(300)
    assert results == [] and jobs.busy
    with qtbot.waitSignal(jobs.abandoned, timeout=1000):
        jobs.submit(lambda _c: "second try", "map", results.append)
    qtbot.waitUntil(lambda: results == ["second try"], timeout=5000)
    assert not jobs.busy
    stuck_release.set()
    qtbot.wait(200)
    assert results == ["second try"]  # the abandoned job's late result is ignored


def test_a_worker_that_vanishes_releases_the_queue(qtbot, pool):
    jobs = SerialJobs(pool)
    release = threading.Event()
    jobs.submit(_polling(release), "job", lambda _r: None)
    worker = jobs.worker
    worker.finished.disconnect()  # its end is never heard of
    release.set()
    qtbot.waitUntil(lambda: worker.is_done, timeout=5000)
    assert not jobs.busy  # asking is enough to notice the job is over
    done = []
    jobs.submit(lambda _c: "next", "next", done.append)
    qtbot.waitUntil(lambda: done == ["next"], timeout=5000)


def save_tiny_bundle(path):
    import torch

    from crystalview.models.bundle import save_bundle
    from crystalview.models.manifest import ModelManifest
    from crystalview.models.registry import build_model

    torch.manual_seed(0)
    model = build_model("diffraction_cnn", num_classes=2)
    manifest = ModelManifest(
        architecture="diffraction_cnn", classes=["spots", "rings"], input_size=32, name="tiny"
    )
    return save_bundle(path, model, manifest)


@pytest.fixture
def two_images(qtbot, window, make_tiff, tmp_path):
    rng = np.random.default_rng(3)
    paths = [
        make_tiff(tmp_path / f"img{i}.tif", rng.integers(0, 4000, (40, 56)).astype(np.uint16))
        for i in range(2)
    ]
    window.open_paths(paths, remember=False)
    qtbot.waitUntil(lambda: window.gallery_model.rowCount() == 2, timeout=60_000)
    return [window.gallery_model.entry(i) for i in range(2)]


@pytest.fixture
def dock(window, tmp_path):
    from crystalview.gui.cam import install

    feature = getattr(window, "heatmap", None) or install(window)
    feature.dock.set_model_path(save_tiny_bundle(tmp_path / "tiny.cvmodel"))
    return feature.dock


def test_cancelling_from_the_window_leaves_the_dock_ready(qtbot, window, two_images, dock):
    started, release = threading.Event(), threading.Event()

    def computing(cancel):
        started.set()
        return _polling(release)(cancel)

    dock.info.setText("Computing Automatic for img0.tif…")
    dock.jobs.submit(computing, "Heat map of img0.tif", lambda _r: None)
    qtbot.waitUntil(started.is_set, timeout=10_000)
    window.cancel_jobs()  # Esc
    qtbot.waitUntil(lambda: not dock.jobs.busy, timeout=10_000)
    assert "Computing" not in dock.info.text()
    with qtbot.waitSignal(dock.result_shown, timeout=20_000, check_params_cb=bool):
        qtbot.mouseClick(dock.compute_button, Qt.MouseButton.LeftButton)


def test_heat_map_then_feature_browser_then_next_image(qtbot, window, two_images, dock):
    """The issue's steps: Compute, Feature maps… → Show, close it, select the next image."""
    window.select_entry(two_images[0])
    with qtbot.waitSignal(dock.result_shown, timeout=20_000, check_params_cb=bool):
        qtbot.mouseClick(dock.compute_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(dock.features_button, Qt.MouseButton.LeftButton)
    browser = window.heatmap.feature_browser
    with qtbot.waitSignal(browser.jobs.ended, timeout=20_000):
        qtbot.mouseClick(browser.show_button, Qt.MouseButton.LeftButton)
    browser.close()
    with qtbot.waitSignal(dock.result_shown, timeout=20_000, check_params_cb=bool) as shown:
        window.select_entry(two_images[1])
    assert shown.args[0].heatmap.shape == (40, 56)
    qtbot.waitUntil(lambda: not dock.jobs.busy, timeout=5000)
    assert "Computing" not in dock.info.text()


# -- the invariant: however a heat-map job ends, the dock is released ------------------------------


class _Injected(BaseException):
    """What a thread receives from PyThreadState_SetAsyncExc (the reader's timeout uses it)."""


def _fails(cancel):
    raise ValueError("the model exploded")
    yield  # a generator, like the real job


def _aborts(cancel):
    raise _Injected()
    yield


def _runs_until_cancelled(started: threading.Event):
    def job(cancel):
        started.set()
        while True:
            cancel.raise_if_cancelled()
            threading.Event().wait(0.01)
            yield Progress(0, 0, "still computing")

    return job


def _first_call(monkeypatch, first):
    """Make the dock's first heat-map job ``first(cancel)``; later ones are real."""
    import crystalview.gui.cam.dock as dock_module

    real, calls = dock_module.cam_job, []

    def cam_job(request, copy, cancel):
        calls.append(request.image_key)
        if len(calls) == 1:
            return (yield from first(cancel))
        return (yield from real(request, copy, cancel))

    monkeypatch.setattr(dock_module, "cam_job", cam_job)
    return calls


def _assert_released(qtbot, dock) -> None:
    """No job left, no "Computing…", and Compute shows a map again (a real one)."""
    qtbot.waitUntil(lambda: not dock.jobs.busy, timeout=30_000)
    assert "Computing" not in dock.info.text()
    assert not dock.cancel_button.isVisible()
    assert dock.compute_button.isEnabled()
    with qtbot.waitSignal(dock.result_shown, timeout=60_000, check_params_cb=bool):
        qtbot.mouseClick(dock.compute_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dock.jobs.busy, timeout=30_000)
    assert "Computing" not in dock.info.text()


END_WAYS = ["finished", "failed", "aborted", "cancelled", "esc", "superseded"]


@pytest.mark.parametrize("end", END_WAYS)
def test_every_way_a_heat_map_job_ends_releases_the_dock(
    qtbot, monkeypatch, window, two_images, dock, end
):
    started = threading.Event()
    first = {
        "failed": _fails,
        "aborted": _aborts,
        "finished": None,
    }.get(end, _runs_until_cancelled(started))
    calls = _first_call(monkeypatch, first) if first is not None else []
    window.select_entry(two_images[0])
    qtbot.mouseClick(dock.compute_button, Qt.MouseButton.LeftButton)
    assert dock.info.text().startswith("Computing")
    if end in ("cancelled", "esc", "superseded"):
        qtbot.waitUntil(started.is_set, timeout=60_000)
        if end == "cancelled":
            qtbot.mouseClick(dock.cancel_button, Qt.MouseButton.LeftButton)
        elif end == "esc":
            window.cancel_jobs()
        else:
            with qtbot.waitSignal(dock.result_shown, timeout=60_000, check_params_cb=bool):
                window.select_entry(two_images[1])
            assert calls == [two_images[0].key, two_images[1].key]
    qtbot.waitUntil(lambda: not dock.jobs.busy, timeout=60_000)
    if end in ("finished", "superseded"):
        assert dock.result is not None and dock.info.text() == dock._describe(dock.result)
    else:
        expected = {
            "failed": "The heat map failed: the model exploded",
            "aborted": "The heat map failed: Heat map of img0.tif stopped abruptly",
            "cancelled": "Cancelled",
            "esc": "Cancelled",
        }[end]
        assert dock.info.text().startswith(expected), dock.info.text()
    _assert_released(qtbot, dock)


def test_closing_the_feature_browser_while_it_computes_releases_both(
    qtbot, monkeypatch, window, two_images, dock
):
    """The owner of a job (the feature-map window) closes while the job runs: its queue is
    free, and the heat-map dock, sharing the window's pool, still follows the next image."""
    import crystalview.gui.cam.feature_browser as browser_module

    started = threading.Event()

    def feature_job(*args):
        cancel = args[-1]
        started.set()
        while not cancel.cancelled:
            threading.Event().wait(0.01)
        cancel.raise_if_cancelled()

    window.select_entry(two_images[0])
    with qtbot.waitSignal(dock.result_shown, timeout=60_000, check_params_cb=bool):
        qtbot.mouseClick(dock.compute_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(dock.features_button, Qt.MouseButton.LeftButton)
    browser = window.heatmap.feature_browser
    monkeypatch.setattr(browser_module, "feature_job", feature_job)
    qtbot.mouseClick(browser.show_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(started.is_set, timeout=60_000)
    with qtbot.waitSignal(
        browser.jobs.ended, timeout=30_000, check_params_cb=lambda k: k == "cancelled"
    ):
        browser.close()
    assert not browser.jobs.busy and browser.show_button.isEnabled()
    with qtbot.waitSignal(dock.result_shown, timeout=60_000, check_params_cb=bool) as shown:
        window.select_entry(two_images[1])
    assert shown.args[0].heatmap.shape == (40, 56)
    _assert_released(qtbot, dock)
