"""A transient API error in an actor is one warning line and Dramatiq's retry, not an
"unhandled exception" traceback; any other error still escapes with its traceback."""

from __future__ import annotations

import logging
from collections.abc import Callable

import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import CurrentMessage, Retries

from engine.broker import declare_actors
from engine.settings import PhoneSettings, Settings, WorkerSettings
from engine.timelinesai import ServerError

SETTINGS = Settings(
    phones=(PhoneSettings("01", "+447700900001"),), worker=WorkerSettings(max_retries=2)
)


def _run(failure: Callable[[int], Exception | None]) -> list[int]:
    """Send step 0 of enrollment 7 on phone 01 through a real Dramatiq worker whose handler
    raises ``failure(call)`` (if not ``None``); the calls made."""
    broker = StubBroker(middleware=[CurrentMessage(), Retries(min_backoff=1, max_backoff=5)])
    calls: list[int] = []

    def handler(queue: str, phone_id: str, enrollment_id: int, step: int, dispatch: int) -> None:
        calls.append(len(calls))
        error = failure(len(calls))
        if error is not None:
            raise error

    actors = declare_actors(broker, SETTINGS, handler)  # type: ignore[arg-type]
    actors.enqueue("phone_01", 7, 0, 1)
    worker = dramatiq.Worker(broker, worker_timeout=50)
    worker.start()
    try:
        broker.join("phone_01", timeout=10_000, fail_fast=False)
        worker.join()
    finally:
        worker.stop()
        broker.close()
    return calls


def test_a_transient_error_is_one_warning_line_and_a_retry(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    calls = _run(lambda call: ServerError("TimelinesAI answered 503") if call == 1 else None)
    assert len(calls) == 2  # retried by the middleware, and then it went through
    assert not [r for r in caplog.records if r.exc_info], "no traceback"
    assert not [r for r in caplog.records if "unhandled" in r.getMessage()]
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == [
        "step 1 of enrollment 7 from phone 01: ServerError: TimelinesAI answered 503 "
        "(attempt 1 of 3); retrying later"
    ]


def test_the_last_attempt_says_no_retries_are_left(caplog: pytest.LogCaptureFixture) -> None:
    calls = _run(lambda call: ServerError("TimelinesAI answered 502"))
    assert len(calls) == 3
    ours = [r.getMessage() for r in caplog.records if r.name == "outreach.retry"]
    assert [line.rpartition("(")[2] for line in ours] == [
        "attempt 1 of 3); retrying later",
        "attempt 2 of 3); retrying later",
        "attempt 3 of 3); no retries left",
    ]


def test_any_other_error_still_escapes_with_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    _run(lambda call: RuntimeError("a bug") if call == 1 else None)
    assert [r for r in caplog.records if r.exc_info and "unhandled" in r.getMessage()]
