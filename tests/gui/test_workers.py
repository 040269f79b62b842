"""The worker machinery: results, progress, errors and cancel reach the GUI thread."""

from __future__ import annotations

import threading
import time

import pytest
from PySide6.QtCore import QThread

from crystalview.core.errors import CorruptFileError
from crystalview.core.progress import Progress
from crystalview.gui.workers import WorkerPool


@pytest.fixture
def pool(qtbot):
    pool = WorkerPool(max_threads=2)
    yield pool
    assert pool.shutdown(5000)


def counting_job(n, seen_threads):
    def job(cancel):
        seen_threads.append(threading.current_thread().name)
        for i in range(n):
            cancel.raise_if_cancelled()
            yield Progress(i + 1, n, f"step {i}", partial=i if i % 2 == 0 else None)
        return "total", n

    return job


def test_generator_result_and_progress_arrive_on_gui_thread(qtbot, pool):
    threads: list[str] = []
    worker = pool.submit(counting_job(6, threads), "count")
    got, partials, where = [], [], []
    worker.progress.connect(
        lambda e: (partials.append(e.partial), where.append(QThread.currentThread()))
    )
    worker.result.connect(got.append)
    with qtbot.waitSignal(worker.finished, timeout=5000):
        pass
    assert got == [("total", 6)]
    assert [p for p in partials if p is not None] == [0, 2, 4]  # partials are never dropped
    assert all(t is QThread.currentThread() for t in where)
    assert threads and threads[0] != threading.current_thread().name
    assert pool.active() == []


def test_plain_function_result(qtbot, pool):
    worker = pool.submit(lambda cancel: 41 + 1, "plain")
    with qtbot.waitSignal(worker.result, timeout=5000) as blocker:
        pass
    assert blocker.args == [42]


def test_error_is_reported_with_traceback(qtbot, pool):
    def broken(cancel):
        yield Progress(0, 1)
        raise CorruptFileError("x.dm3 is truncated")

    failures = []
    pool.job_failed.connect(lambda title, exc, tb: failures.append((title, exc, tb)))
    worker = pool.submit(broken, "Reading x.dm3")
    with qtbot.waitSignal(worker.finished, timeout=5000):
        pass
    assert len(failures) == 1
    title, exc, details = failures[0]
    assert title == "Reading x.dm3"
    assert isinstance(exc, CorruptFileError)
    assert "CorruptFileError" in details


@pytest.mark.parametrize("thrown", [SystemExit(3), KeyboardInterrupt()])
def test_a_job_ended_by_a_base_exception_still_reports_its_end(qtbot, pool, thrown):
    """SystemExit from a library, or an exception injected into the thread (the reader's
    timeout uses PyThreadState_SetAsyncExc), is not an Exception; before, it left the worker
    without an outcome, so its owner waited for good."""

    def ended_abruptly(cancel):
        yield Progress(0, 1)
        raise thrown

    ends, failures = [], []
    pool.job_failed.connect(lambda title, exc, tb: failures.append((title, exc, tb)))
    worker = pool.submit(ended_abruptly, "Abrupt")
    worker.error.connect(lambda exc, _tb: ends.append(("error", exc)))
    worker.result.connect(lambda value: ends.append(("result", value)))
    with qtbot.waitSignal(worker.finished, timeout=5000):
        pass
    assert [kind for kind, _ in ends] == ["error"]
    assert worker.is_done and pool.active() == []
    title, exc, details = failures[0]
    assert title == "Abrupt" and "stopped abruptly" in str(exc)
    assert type(thrown).__name__ in details


def test_cancel_stops_a_running_job(qtbot, pool):
    started = threading.Event()

    def endless(cancel):
        i = 0
        while True:
            started.set()
            cancel.raise_if_cancelled()
            time.sleep(0.005)
            i += 1
            yield Progress(i, 0)

    outcome = []
    worker = pool.submit(endless, "endless")
    worker.cancelled.connect(lambda: outcome.append("cancelled"))
    worker.result.connect(lambda r: outcome.append("result"))
    assert started.wait(5)
    worker.cancel()
    with qtbot.waitSignal(worker.finished, timeout=5000):
        pass
    assert outcome == ["cancelled"]


def test_shutdown_waits_for_running_jobs(qtbot):
    pool = WorkerPool(max_threads=1)
    running = threading.Event()

    def slow(cancel):
        running.set()
        while not cancel.cancelled:
            time.sleep(0.005)
            yield Progress(0, 0)

    pool.submit(slow, "slow")
    pool.submit(slow, "queued behind it")
    assert running.wait(5)
    assert pool.shutdown(5000)
    assert pool.active() == []


def test_running_jobs_counts_jobs_on_pool_threads(pool, qtbot):
    from crystalview.gui.workers import running_jobs

    release = threading.Event()
    worker = pool.submit(lambda token: release.wait(10))
    qtbot.waitUntil(lambda: running_jobs() == 1, timeout=5000)
    with qtbot.waitSignal(worker.finished, timeout=5000):
        release.set()
    qtbot.waitUntil(lambda: running_jobs() == 0, timeout=5000)


def test_garbage_is_collected_only_when_no_job_runs(qtbot, monkeypatch):
    import gc

    from crystalview.gui import garbage

    collector = garbage.GuiThreadGarbageCollector(interval_ms=60_000)
    try:
        assert not gc.isenabled()
        cycles = [[] for _ in range(2000)]
        for item in cycles:
            item.append(item)
        del cycles  # now well past the first generation's threshold
        monkeypatch.setattr(garbage, "running_jobs", lambda: 1)
        assert collector.collect_if_idle() is None
        monkeypatch.setattr(garbage, "running_jobs", lambda: 0)
        assert collector.collect_if_idle() is not None
    finally:
        collector.stop()
