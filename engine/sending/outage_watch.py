"""The send path's use of the API outage breaker: what each answer says, said once.

The sender and the automatic-answer sender ask :meth:`OutageWatch.admit` before a
send, and tell it what the API answered: a send that went through (or any answer that
proves the API is up) closes the breaker; a "down" failure
(:func:`engine.sending.outage.signal_of`) is counted. The trip and the recovery are
each one alert (the process whose change it was writes it); a probe that fails again
is one warning line in the log. The rules are :mod:`engine.sending.outage`'s; the
state is the breaker's (:mod:`engine.sending.outage_store`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from engine.sending.outage import OutagePolicy, OutageState, Signal, signal_of, wait_out
from engine.sending.outage_store import Admission, MemoryOutage, OutageBreaker
from engine.settings import Settings
from engine.states import API_OUTAGE, API_RECOVERED
from engine.timelinesai import TimelinesAIError

log = logging.getLogger("outreach.send")

Alert = Callable[[str, str, datetime, str], None]
"""Record an alert: ``(kind, message, now, severity)``."""


def outage_policy(settings: Settings) -> OutagePolicy:
    """The breaker's settings, from ``[timelinesai]``."""
    api = settings.timelinesai
    return OutagePolicy(api.outage_after, api.outage_backoff_s, api.outage_backoff_max_s)


def log_alert(kind: str, message: str, now: datetime, severity: str) -> None:
    """An alert that only goes to the log (where no alerts table is at hand)."""
    log.error("%s: %s", kind, message)


class OutageWatch:
    """One per worker process, shared by its senders and threads."""

    def __init__(
        self, breaker: OutageBreaker, policy: OutagePolicy, *, attempts: int, alert: Alert
    ) -> None:
        """``attempts``: how many times one message is tried (Dramatiq's retries + 1)."""
        self.breaker = breaker
        self.policy = policy
        self._attempts = attempts
        self._alert = alert

    @classmethod
    def in_memory(cls, policy: OutagePolicy, *, attempts: int) -> OutageWatch:
        """A watch on a breaker of this process only, alerting to the log (for tests)."""
        return cls(MemoryOutage(policy), policy, attempts=attempts, alert=log_alert)

    def with_alert(self, alert: Alert) -> OutageWatch:
        """The same breaker, alerting through ``alert``."""
        return OutageWatch(self.breaker, self.policy, attempts=self._attempts, alert=alert)

    def admit(self, now: datetime) -> Admission:
        """May a send go at ``now`` (see :meth:`OutageBreaker.admit`)."""
        return self.breaker.admit(now)

    def end_probe(self, admission: Admission) -> None:
        """After a send that was admitted as the probe, whatever became of it."""
        self.breaker.end_probe(admission)

    def answered(self, now: datetime) -> None:
        """The API took a call (or refused it in a way only a working API does)."""
        before = self.breaker.answered()
        if before.tripped_at is not None:
            self._alert(
                API_RECOVERED,
                f"TimelinesAI answers again: sending resumed after an outage since "
                f"{before.tripped_at:%Y-%m-%d %H:%M:%S} UTC",
                now,
                "info",
            )

    def failed(self, error: TimelinesAIError, now: datetime) -> OutageState | None:
        """Count what ``error`` says; the breaker after a "down" failure, else ``None``."""
        signal = signal_of(error)
        if signal == Signal.UP:
            self.answered(now)
        if signal != Signal.DOWN:
            return None
        before, after = self.breaker.failed(now)
        if after.tripped_at == before.tripped_at or after.probe_at is None:
            return after
        until = f"{after.probe_at:%Y-%m-%d %H:%M:%S} UTC"
        if before.tripped_at is None:
            self._alert(
                API_OUTAGE,
                f"TimelinesAI failed {after.failures} times in a row (5xx or timeouts; last: "
                f"{type(error).__name__}): all sending paused; one probe send at {until}, "
                "sending resumes when it goes through",
                now,
                "critical",
            )
        else:
            log.warning(
                "the probe send failed too (%s): all sending stays paused for %.0f s, until %s",
                type(error).__name__, after.backoff_s, until,
            )  # fmt: skip
        return after

    def wait_out(self, state: OutageState, now: datetime, *, last_try: bool) -> datetime | None:
        """When a step whose send just failed "down" is due again, instead of its retry or
        dead letter; ``None``: the usual way (:func:`engine.sending.outage.wait_out`)."""
        return wait_out(state, now, last_try=last_try, attempts=self._attempts, policy=self.policy)
