"""How a send attempt changes state: the step, the enrollment, the phone, and alerts.

The sender decides; these record the decision through the store. Each change is a
conditional UPDATE on the state the sender saw, so a change that lost a race does
nothing. :meth:`Transitions.failed` maps an API error to its state (design "Failures
become states"); a number TimelinesAI refuses as not on WhatsApp, while the sending
account is connected, also goes on the do-not-contact list.
"""

from __future__ import annotations

import logging
from datetime import datetime

from engine.alert_log import BUDGET_SPENT, DEAD_LETTER, TOKEN_REFUSED
from engine.alerts import AlertSink
from engine.redact import mask_phone
from engine.sending.halt import SendingHalt
from engine.sending.outcome import Done, Outcome
from engine.sending.reconcile import Reconciler
from engine.states import PhoneState, StepState
from engine.storage import SendStore, WorkItem
from engine.timelinesai import (
    AccountBanned,
    BadToken,
    CallBudgetExhausted,
    Forbidden,
    InvalidRecipient,
    PayloadTooLarge,
    PermanentError,
    TimelinesAIError,
)
from sequences import EndReason

log = logging.getLogger("outreach.send")


class Transitions:
    """State changes of the send path, each in its own short transaction."""

    def __init__(self, store: SendStore, alerts: AlertSink, reconciler: Reconciler) -> None:
        self.store = store
        self.alerts = alerts
        self.reconciler = reconciler

    def back_to_due(
        self,
        item: WorkItem,
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
        self.store.set_step(item, expect=from_state, now=now, **values)
        return Done(f"back to due: {reason}")

    def end(self, item: WorkItem, now: datetime, reason: EndReason, error: str | None) -> None:
        """End the enrollment for ``reason`` (the journey gives its final state)."""
        self.store.end(item, reason=reason, error=error, now=now)

    def failed(
        self, item: WorkItem, error: TimelinesAIError, now: datetime, halt: SendingHalt, *,
        last_try: bool,
    ) -> Outcome:  # fmt: skip
        """TimelinesAI refused a claimed step (the phone is paced and a first message's
        quota unit given back already): the state the error means."""
        if isinstance(error, InvalidRecipient):
            return self._invalid_recipient(item, error, now)
        if isinstance(error, (AccountBanned, Forbidden)) and not isinstance(error, BadToken):
            state = PhoneState.BANNED if isinstance(error, AccountBanned) else PhoneState.PAUSED
            self.phone_down(item.phone_id or "", state, str(error), now)
            return self.back_to_due(
                item, now, f"phone {state}", release_phone=True, from_state=StepState.SENDING
            )
        if isinstance(error, (BadToken, CallBudgetExhausted)):
            return self.halted(halt, item, error, now, StepState.SENDING)
        if isinstance(error, (PayloadTooLarge, PermanentError)):
            return self.dead_letter(item, error, now)
        # Transient: the message certainly did not go out; back to queued for a retry.
        if last_try:
            return self.dead_letter(item, error, now)
        self.store.set_step(
            item, expect=StepState.SENDING, now=now, step_state=StepState.QUEUED,
            last_error=str(error)[:500],
        )  # fmt: skip
        raise error

    def halted(
        self, halt: SendingHalt, item: WorkItem, error: TimelinesAIError, now: datetime,
        from_state: str,
    ) -> Done:  # fmt: skip
        """The token was refused or the month's budget is used up: all sending stops."""
        halt.trip(now)
        if isinstance(error, BadToken):
            kind = TOKEN_REFUSED
            message = "TimelinesAI refused the token: all sending stopped until it works"
            reason = "bad token"
        else:
            kind, message = BUDGET_SPENT, "the month's TimelinesAI call budget is used up"
            reason = "call budget used up"
        self.alert(kind, message, now)
        return self.back_to_due(item, now, reason, from_state=from_state)

    def _invalid_recipient(self, item: WorkItem, error: InvalidRecipient, now: datetime) -> Done:
        # The same 400 comes back when our sending account is disconnected: check it first.
        if not self.reconciler.account_connected(item.from_phone or ""):
            self.phone_down(item.phone_id or "", PhoneState.OFFLINE, "account disconnected", now)
            return self.back_to_due(
                item, now, "phone offline", release_phone=item.step == 0,
                from_state=StepState.SENDING,
            )  # fmt: skip
        # The account is fine, so the number is not on WhatsApp: no phone of any campaign
        # may try it again.
        added = self.store.end_not_on_whatsapp(item, error=str(error), now=now)
        log.warning(
            "enrollment %s: %s is not on WhatsApp (TimelinesAI refused it from phone %s); "
            "%s the do-not-contact list",
            item.enrollment_id, mask_phone(item.lead_phone), item.phone_id,
            "put on" if added else "already on",
        )  # fmt: skip
        return Done("invalid number")

    def dead_letter(self, item: WorkItem, error: TimelinesAIError, now: datetime) -> Done:
        """The step failed for good: visible in ``outreach dlq list``, with an alert."""
        self.store.set_step(
            item, expect=StepState.SENDING, now=now, step_state=StepState.FAILED,
            last_error=f"{type(error).__name__}: {error}"[:500],
        )  # fmt: skip
        self.alert(
            DEAD_LETTER,
            f"step {item.step + 1} of enrollment {item.enrollment_id} failed: "
            f"{type(error).__name__} (`outreach dlq retry {item.enrollment_id}` sends it again)",
            now,
            phone_id=item.phone_id,
            severity="warning",
            details={"error": str(error)[:500]},
        )
        return Done("dead letter")

    def phone_down(self, phone_id: str, state: str, reason: str, now: datetime) -> None:
        """Take a phone out of the pool (offline, paused, banned); alert once."""
        if self.store.set_phone_state(phone_id, state, reason, now):
            # Not again for every message that meets the downed phone.
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
        self.store.add_alert(
            kind, message, now=now, phone_id=phone_id, severity=severity, details=details
        )
        log.error(message)
        self.alerts.notify(kind, message, severity=severity, phone_id=phone_id)
