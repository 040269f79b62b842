import threading

import pytest

from crystalview.core.errors import Cancelled
from crystalview.core.memory import format_bytes, memory_budget_bytes, set_memory_budget
from crystalview.core.progress import CancelToken, Progress, relay, run_to_completion


def _job(cancel: CancelToken, n: int):
    for i in range(n):
        cancel.raise_if_cancelled()
        yield Progress(i + 1, n, f"step {i + 1}")
    return "finished"


def test_run_to_completion_returns_value_and_reports_every_step():
    events = []
    result = run_to_completion(_job(CancelToken(), 3), events.append)
    assert result == "finished"
    assert [e.done for e in events] == [1, 2, 3]
    assert events[-1].fraction == 1.0


def test_cancel_from_another_thread_stops_the_job():
    token = CancelToken()
    job = _job(token, 100)
    next(job)
    thread = threading.Thread(target=token.cancel)
    thread.start()
    thread.join()
    with pytest.raises(Cancelled):
        next(job)


def test_fraction_unknown_total_is_zero():
    assert Progress(5, 0).fraction == 0.0


def test_memory_budget_override_and_env(monkeypatch):
    monkeypatch.setenv("CRYSTALVIEW_MEMORY_BUDGET_MB", "10")
    assert memory_budget_bytes() == 10 * 1024**2
    set_memory_budget(1234)
    try:
        assert memory_budget_bytes() == 1234
    finally:
        set_memory_budget(None)


def test_format_bytes():
    assert format_bytes(512) == "512 B"
    assert format_bytes(1536) == "1.5 KiB"
    assert format_bytes(3 * 1024**3) == "3.0 GiB"


def test_relay_relabels_drops_and_returns_the_inner_value():
    def inner():
        for step in range(3):
            yield Progress(step + 1, 3, f"tile {step + 1}")
        return "answer"

    def outer():
        result = yield from relay(
            inner(), lambda e: None if e.done == 2 else Progress(7, 9, f"a.tif: {e.message}")
        )
        return result.upper()

    events = []
    assert run_to_completion(outer(), events.append) == "ANSWER"
    assert [(e.done, e.total, e.message) for e in events] == [
        (7, 9, "a.tif: tile 1"),
        (7, 9, "a.tif: tile 3"),
    ]
