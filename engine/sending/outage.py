"""The API outage breaker's rules: when TimelinesAI counts as down, and for how long.

A circuit breaker on the messaging API, kept for the whole workspace
(:mod:`engine.sending.outage_store` holds its state). ``after`` consecutive failures
that mean "the API is down" (a 5xx, a connection that failed or timed out, a send
whose answer never came) trip it: all sending pauses for ``backoff_s``, then exactly
one send probes the API (half-open). The probe going through closes the breaker
(count and back-off start over); the probe failing trips it again for twice the
back-off, up to ``backoff_max_s``. Any other answer of the API (a 4xx, a 429, a
success) proves it is up and resets the count.

An outage makes no dead letters: a step that fails while the breaker is tripped, or
whose last try fails when nothing in the workspace has gone through since its first
try, waits in the database (:func:`wait_out`) instead of using up retries. Pure: no
clock, no I/O; ``now`` is virtual time like every engine duration.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from engine.timelinesai import (
    CallBudgetExhausted,
    NetworkError,
    RateLimitWaitExceeded,
    SendOutcomeUnknown,
    ServerError,
    TimelinesAIError,
)

__all__ = [
    "CLOSED",
    "Gate",
    "OutagePolicy",
    "OutageState",
    "Signal",
    "after_failure",
    "gate",
    "signal_of",
    "wait_out",
]


@dataclass(frozen=True)
class OutagePolicy:
    """``[timelinesai] outage_*``: consecutive failures that trip the breaker, and its
    first and longest back-off (virtual seconds)."""

    after: int = 5
    backoff_s: float = 60.0
    backoff_max_s: float = 900.0


@dataclass(frozen=True)
class OutageState:
    """The breaker as stored: consecutive failures, and the current trip if any
    (when, when its probe may go, and the back-off it was given)."""

    failures: int = 0
    tripped_at: datetime | None = None
    probe_at: datetime | None = None
    backoff_s: float = 0.0

    @property
    def tripped(self) -> bool:
        """True from a trip until a send goes through."""
        return self.tripped_at is not None


CLOSED = OutageState()
"""No failures counted, not tripped: what a send that goes through leaves."""


class Signal(StrEnum):
    """What an API error says about the API."""

    DOWN = "down"  # counts towards (or renews) a trip
    UP = "up"  # the API answered: the count starts over
    NONE = "none"  # no call was made (our own budget or rate limiter)


class Gate(StrEnum):
    """Whether a send may go now."""

    CLOSED = "closed"  # the breaker is closed: send
    OPEN = "open"  # paused until the probe time
    HALF_OPEN = "half_open"  # the probe time has come: one send (the probe) may go


def signal_of(error: TimelinesAIError) -> Signal:
    """A 5xx, a failed or timed-out connection and a send left without an answer (a
    timeout, a 504) say the API is down; a call our budget or limiter never made says
    nothing; any other answer (a 4xx, a 429, a 2xx we could not read) says it is up."""
    if isinstance(error, CallBudgetExhausted | RateLimitWaitExceeded):
        return Signal.NONE
    if isinstance(error, ServerError | NetworkError):
        return Signal.DOWN
    if isinstance(error, SendOutcomeUnknown):
        status = error.status_code
        return Signal.DOWN if status is None or status >= 500 else Signal.UP
    return Signal.UP


def gate(state: OutageState, now: datetime) -> Gate:
    """Whether sends may go at ``now``: closed, open until the probe time, then half-open
    (the caller lets exactly one send through)."""
    if state.probe_at is None:
        return Gate.CLOSED
    return Gate.OPEN if now < state.probe_at else Gate.HALF_OPEN


def after_failure(state: OutageState, now: datetime, policy: OutagePolicy) -> OutageState:
    """The breaker after one more "down" failure at ``now``.

    Closed: counted, and tripped for ``backoff_s`` at the ``after``-th in a row. Open: a
    send begun before the trip; only counted. Half-open: the probe failed; tripped
    again for twice the back-off, at most ``backoff_max_s``.
    """
    failures = state.failures + 1
    if state.probe_at is None:
        if failures < policy.after:
            return replace(state, failures=failures)
        return _trip(failures, now, policy.backoff_s)
    if now < state.probe_at:
        return replace(state, failures=failures)
    return _trip(failures, now, min(state.backoff_s * 2, policy.backoff_max_s))


def _trip(failures: int, now: datetime, backoff_s: float) -> OutageState:
    return OutageState(failures, now, now + timedelta(seconds=backoff_s), backoff_s)


def wait_out(
    state: OutageState, now: datetime, *, last_try: bool, attempts: int, policy: OutagePolicy
) -> datetime | None:
    """When a step whose send just failed "down" (leaving the breaker in ``state``) is
    due again, instead of its retry or dead letter; ``None``: the usual way.

    Tripped: at the probe time (no retry is used up). Not tripped, at the last of its
    ``attempts``, with at least as many failures in a row across the workspace: nothing
    has gone through since its first try, so this is the API's outage, not the step's
    fault: due again after ``backoff_s``. Otherwise a step that fails alone while others
    go through is retried and in the end dead-lettered as before.
    """
    if state.probe_at is not None:
        return max(state.probe_at, now)
    if last_try and state.failures >= attempts:
        return now + timedelta(seconds=policy.backoff_s)
    return None
