"""The API outage breaker's rules: what an error says, the count, the trip, the back-off,
the single probe, and when a failed step waits instead of a retry or a dead letter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.sending.outage import (
    CLOSED,
    Gate,
    OutagePolicy,
    OutageState,
    Signal,
    after_failure,
    gate,
    signal_of,
    wait_out,
)
from engine.sending.outage_store import MemoryOutage
from engine.timelinesai import (
    BadRequest,
    BadToken,
    CallBudgetExhausted,
    InvalidRecipient,
    NetworkError,
    RateLimited,
    RateLimitWaitExceeded,
    SendOutcomeUnknown,
    ServerError,
    TimelinesAIError,
    UnexpectedResponse,
)

NOW = datetime(2026, 1, 13, 10, 0, tzinfo=UTC)
POLICY = OutagePolicy(after=3, backoff_s=60.0, backoff_max_s=300.0)


def at(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("error", "signal"),
    [
        (ServerError("500", status_code=500), Signal.DOWN),
        (NetworkError("connect timeout", unsent=True), Signal.DOWN),
        (NetworkError("read timeout", unsent=False), Signal.DOWN),
        (SendOutcomeUnknown("timed out", text="hi"), Signal.DOWN),
        (SendOutcomeUnknown("504", text="hi", status_code=504), Signal.DOWN),
        (SendOutcomeUnknown("200, unreadable", text="hi", status_code=200), Signal.UP),
        (RateLimited("429", status_code=429), Signal.UP),
        (InvalidRecipient("wrong phone number"), Signal.UP),
        (BadRequest("400", status_code=400), Signal.UP),
        (BadToken("401", status_code=401), Signal.UP),
        (UnexpectedResponse("3xx", status_code=302, snippet=""), Signal.UP),
        (CallBudgetExhausted("spent", used=10, budget=10), Signal.NONE),
        (RateLimitWaitExceeded("waited", waited_s=5.0), Signal.NONE),
    ],
)
def test_what_an_error_says_about_the_api(error: TimelinesAIError, signal: Signal) -> None:
    assert signal_of(error) == signal


def fail(state: OutageState, times: int, now: datetime = NOW) -> OutageState:
    for _ in range(times):
        state = after_failure(state, now, POLICY)
    return state


def test_the_breaker_trips_at_the_nth_failure_in_a_row() -> None:
    two = fail(CLOSED, 2)
    assert (two.failures, two.tripped, gate(two, NOW)) == (2, False, Gate.CLOSED)
    three = fail(two, 1)
    assert three == OutageState(3, NOW, at(60), 60.0)
    assert gate(three, NOW) == Gate.OPEN
    assert gate(three, at(59.9)) == Gate.OPEN
    assert gate(three, at(60)) == Gate.HALF_OPEN


def test_a_send_going_through_starts_the_count_over() -> None:
    # The breaker's store closes on any answer: two, a success, two more do not trip.
    breaker = MemoryOutage(POLICY)
    for _ in range(2):
        breaker.failed(NOW)
    breaker.answered()
    for _ in range(2):
        _, after = breaker.failed(NOW)
    assert (after.failures, after.tripped) == (2, False)


def test_failures_while_open_are_counted_but_do_not_extend_the_pause() -> None:
    tripped = fail(CLOSED, 3)
    later = fail(tripped, 4, at(30))  # sends begun before the trip, failing late
    assert (later.failures, later.tripped_at, later.probe_at) == (7, NOW, at(60))


@pytest.mark.parametrize(
    ("probes_failed", "backoff_s"),
    [(0, 60.0), (1, 120.0), (2, 240.0), (3, 300.0), (6, 300.0)],
    ids=["first-trip", "doubled", "doubled-again", "capped", "stays-capped"],
)
def test_each_failed_probe_doubles_the_back_off_up_to_the_cap(
    probes_failed: int, backoff_s: float
) -> None:
    state, now = fail(CLOSED, 3), NOW
    for _ in range(probes_failed):
        now = state.probe_at or now  # the probe goes at its time and fails
        state = after_failure(state, now, POLICY)
    assert state.backoff_s == backoff_s
    assert state.tripped_at == now
    assert state.probe_at == now + timedelta(seconds=backoff_s)


def test_a_probe_going_through_closes_the_breaker_and_resets_the_back_off() -> None:
    breaker = MemoryOutage(POLICY)
    for _ in range(3):
        breaker.failed(NOW)
    probe = breaker.admit(at(60))
    assert probe.gate == Gate.HALF_OPEN
    breaker.failed(at(60))  # the probe failed: 120 s
    assert breaker.state.backoff_s == 120.0
    assert breaker.admit(at(180)).gate == Gate.HALF_OPEN
    before = breaker.answered()
    assert before.tripped
    assert breaker.state == CLOSED
    for _ in range(3):
        breaker.failed(at(200))
    assert breaker.state.backoff_s == 60.0  # a new outage starts from the first back-off


def test_only_one_send_probes_until_the_probe_ends() -> None:
    breaker = MemoryOutage(POLICY)
    for _ in range(3):
        breaker.failed(NOW)
    assert breaker.admit(at(10)).gate == Gate.OPEN
    assert breaker.admit(at(10)).until == at(60)
    probe = breaker.admit(at(61))
    others = [breaker.admit(at(61)) for _ in range(5)]
    assert probe.gate == Gate.HALF_OPEN and probe.token
    assert all(other.paused and other.until == at(61) for other in others)
    breaker.end_probe(others[0])  # not the probe's token: changes nothing
    assert breaker.admit(at(62)).paused
    breaker.end_probe(probe)  # the probe sent nothing (a closed window): another may
    assert breaker.admit(at(62)).gate == Gate.HALF_OPEN


@pytest.mark.parametrize(
    ("state", "last_try", "due_at"),
    [
        pytest.param(OutageState(3, NOW, at(60), 60.0), False, at(60), id="tripped-waits"),
        pytest.param(OutageState(3, NOW, at(60), 60.0), True, at(60), id="tripped-last-try"),
        pytest.param(
            OutageState(9, at(-600), at(-10), 60.0), True, NOW, id="probe-time-past-due-now"
        ),
        pytest.param(OutageState(2), False, None, id="retried-as-before"),
        pytest.param(OutageState(2), True, at(60), id="last-try-all-failed-since-first"),
        pytest.param(OutageState(1), True, None, id="last-try-others-went-through"),
    ],
)
def test_when_a_failed_step_waits_instead_of_a_retry_or_a_dead_letter(
    state: OutageState, last_try: bool, due_at: datetime | None
) -> None:
    assert wait_out(state, NOW, last_try=last_try, attempts=2, policy=POLICY) == due_at
