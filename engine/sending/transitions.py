"""How a send attempt changes state: the step, the enrollment, the phone, and alerts.

The :class:`~engine.sending.service.Sender` decides; these record the decision. Each
change is a conditional UPDATE on the state the sender saw, so a change that lost a
race does nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime

from engine.alerts import AlertSink
from engine.db import Database
from engine.models import StepState
from engine.sending import store
from engine.sending.outcome import Done
from engine.timelinesai import TimelinesAIError
from sequences import EndReason

log = logging.getLogger("outreach.send")


class Transitions:
    """State changes of the send path, each in its own short transaction."""

    def __init__(self, database: Database, alerts: AlertSink) -> None:
        self.database = database
        self.alerts = alerts

    def back_to_due(
        self,
        item: store.WorkItem,
        now: datetime,
        reason: str,
        *,
        release_phone: bool = False,
        due_at: datetime | None = None,
        from_state: str = StepState.QUEUED,
    ) -> Done:
        """The step waits again (until ``due_at``); a first message may change phone."""
        values: dict[str, object] = {
            "step_state": StepState.DUE,
            "queued_at": None,
            "due_at": due_at or now,
        }
        if release_phone and item.step == 0:
            values["phone_id"] = None  # a first message may go out from another phone
        with self.database.engine.begin() as connection:
            store.set_step(
                connection, item.enrollment_id, item.step, expect=from_state, now=now, **values
            )
        return Done(f"back to due: {reason}")

    def back_to_queued(self, item: store.WorkItem, now: datetime, error: str) -> None:
        """A transient failure: the message did not go out; Dramatiq retries it."""
        with self.database.engine.begin() as connection:
            store.set_step(
                connection, item.enrollment_id, item.step, expect=StepState.SENDING, now=now,
                step_state=StepState.QUEUED, last_error=error[:500],
            )  # fmt: skip

    def dead_letter(self, item: store.WorkItem, error: TimelinesAIError, now: datetime) -> Done:
        """The step failed for good: visible in ``outreach dlq list``, with an alert."""
        with self.database.engine.begin() as connection:
            store.set_step(
                connection, item.enrollment_id, item.step, expect=StepState.SENDING, now=now,
                step_state=StepState.FAILED, last_error=f"{type(error).__name__}: {error}"[:500],
            )  # fmt: skip
        self.alert(
            "dead_letter",
            f"enrollment {item.enrollment_id} step {item.step} failed: {type(error).__name__}",
            now,
            phone_id=item.phone_id,
            severity="warning",
            details={"error": str(error)[:500]},
        )
        return Done("dead letter")

    def end(
        self, item: store.WorkItem, now: datetime, reason: EndReason, error: str | None
    ) -> None:
        """End the enrollment for ``reason`` (the journey gives its final state)."""
        with self.database.engine.begin() as connection:
            store.end_enrollment(
                connection, item.enrollment_id, reason=reason, error=error, now=now
            )

    def phone_down(self, phone_id: str, state: str, reason: str, now: datetime) -> None:
        """Take a phone out of the pool (offline, paused, banned); alert once."""
        with self.database.engine.begin() as connection:
            changed = store.set_phone_state(connection, phone_id, state, reason, now)
        if changed:  # not again for every message that meets the downed phone
            self.alert(
                f"phone_{state}", f"phone {phone_id} is {state}: {reason}", now, phone_id=phone_id
            )

    def alert(
        self,
        kind: str,
        message: str,
        now: datetime,
        *,
        phone_id: str | None = None,
        severity: str = "critical",
        details: dict[str, object] | None = None,
    ) -> None:
        """Record an alert in the table and the log, and tell the configured sink."""
        with self.database.engine.begin() as connection:
            store.add_alert(
                connection, kind, message, now=now, phone_id=phone_id, severity=severity,
                details=details,
            )  # fmt: skip
        log.error(message)
        self.alerts.notify(kind, message, severity=severity, phone_id=phone_id)
