"""What each webhook event does to the database: one transaction, idempotent, then queue.

Each event is stored under its dedupe key first (``message_uid`` for messages, a
hash of the whole body for account events); a redelivery finds the key taken and
changes nothing. Work that may take longer than TimelinesAI's 5 s is handed to the
``replies`` queue after the commit, never before: an actor never sees a row that
may still roll back.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine import tracing
from engine.clock import Clock
from engine.db import Database
from engine.numbers import from_provider
from engine.replies.followups import CHECK_SENT, NOTIFY_ALERT, Enqueue, FollowUp
from engine.replies.rules import ReplyRules
from engine.settings import Settings
from engine.storage.replies import record_event
from engine.webhook import store
from engine.webhook.inbound import ReplyReceiver
from engine.webhook.payloads import AccountEvent, Event, MessageEvent
from phones.states import next_phone_state

log = logging.getLogger("outreach.webhook")

PROCESSED = "processed"
DUPLICATE = "duplicate"
IGNORED = "ignored"


@dataclass(frozen=True)
class Outcome:
    """The answer to one delivery: ``processed``, ``duplicate`` or ``ignored``, and why;
    ``away``: the message is a lead's out-of-office notice (new or not)."""

    result: str
    detail: str = ""
    away: bool = False


def phone_ids_by_number(settings: Settings) -> dict[str, str]:
    """Our phone ids by E.164 number (and by the number inside each account's JID)."""
    ids = {phone.phone: phone.id for phone in settings.phones}
    for phone in settings.phones:
        jid_number = from_provider(phone.account_id) if phone.account_id else None
        if jid_number is not None:
            ids.setdefault(jid_number, phone.id)
    return ids


class EventHandler:
    """Applies parsed events; one per process, shared by the request threads."""

    def __init__(
        self,
        *,
        database: Database,
        settings: Settings,
        clock: Clock,
        enqueue: Enqueue,
        rules: ReplyRules | None = None,
    ) -> None:
        self._database = database
        self._settings = settings
        self._clock = clock
        self._enqueue = enqueue
        self._phone_ids: Mapping[str, str] = phone_ids_by_number(settings)
        self.replies = ReplyReceiver(
            database=database,
            clock=clock,
            rules=rules or ReplyRules(settings.replies),
            stop_on_reply={n: s.stop_on_reply for n, s in settings.sequences.items()},
            on_company_reply={n: s.on_company_reply for n, s in settings.sequences.items()},
            phone_ids=self._phone_ids,
            settings=settings,
        )

    def handle(self, event: Event, payload: dict[str, Any]) -> Outcome:
        """Apply ``event`` (parsed from ``payload``, which is stored with it): one span,
        the root of the event's trace in the receiver (the work it queues continues it)."""
        with tracing.span("webhook.event", event_type=event.event_type[:64]) as span:
            outcome = self._handle(event, payload)
            span.set(result=outcome.result)
            return outcome

    def _handle(self, event: Event, payload: dict[str, Any]) -> Outcome:
        if isinstance(event, MessageEvent):
            return self._sent(event, payload) if event.from_me else self._reply(event, payload)
        if isinstance(event, AccountEvent):
            return self._account(event, payload)
        log.info("webhook event %r ignored: the engine does not use it", event.event_type[:64])
        return Outcome(IGNORED, "event type not used")

    def _reply(self, event: MessageEvent, payload: dict[str, Any]) -> Outcome:
        received = self.replies.receive(event, payload)
        if received.message_id is None:
            return Outcome(DUPLICATE, "reply already received", received.away)
        follow_up = ReplyReceiver.follow_up(received)
        if follow_up is not None:
            self._queue(follow_up)
        if received.lead_id is None:
            return Outcome(
                PROCESSED, "reply from an unknown number, stored as unmatched", received.away
            )
        if received.postponed_to is not None:
            detail = f"out-of-office reply stored; next step due {received.postponed_to:%Y-%m-%d}"
            return Outcome(PROCESSED, detail, away=True)
        detail = f"reply stored; enrollment {received.ended or 'unchanged'}"
        return Outcome(PROCESSED, detail, received.away)

    def _sent(self, event: MessageEvent, payload: dict[str, Any]) -> Outcome:
        now = self._clock.now()
        with self._database.engine.begin() as connection:
            event_id = record_event(
                connection, event.dedupe_key, event.event_type, payload, now, processed=False
            )
            if event_id is None:
                return Outcome(DUPLICATE, "sent message already seen")
            known, _ = store.confirm_sent(
                connection, event.message_uid, event.chat_id, event.timestamp or now
            )
            if known:
                store.mark_processed(connection, event_id, now, None)
        if known:
            return Outcome(PROCESSED, "our message confirmed")
        # Not ours yet: our sender may not have recorded it; decide a little later.
        self._queue(
            FollowUp(CHECK_SENT, (event_id,), delay_s=self._settings.webhook.takeover_check_after_s)
        )
        return Outcome(PROCESSED, "unknown sent message: checking for a manual takeover")

    def _account(self, event: AccountEvent, payload: dict[str, Any]) -> Outcome:
        now = self._clock.now()
        phone_id = self._phone_ids.get(event.phone or "")
        alert: str | None = None
        with self._database.engine.begin() as connection:
            event_id = record_event(
                connection, event.dedupe_key, event.event_type, payload, now, processed=True
            )
            if event_id is None:
                return Outcome(DUPLICATE, "account event already seen")
            current = store.phone_state(connection, phone_id) if phone_id else None
            target = next_phone_state(current, event.state) if current else None
            if phone_id is not None and current is not None and target is not None:
                reason = f"TimelinesAI {event.event_type}"
                alert = store.change_phone_state(
                    connection, phone_id, expect=current, state=target, reason=reason, now=now
                )
        if phone_id is None:
            log.warning("account event %s for a number not in the config", event.event_type)
            return Outcome(IGNORED, "not one of our phones")
        if alert is None:
            return Outcome(PROCESSED, f"phone {phone_id} unchanged")
        log.warning(alert)
        severity = store.alert_severity(event.state)
        self._queue(FollowUp(NOTIFY_ALERT, (f"phone_{event.state}", alert, severity, phone_id)))
        return Outcome(PROCESSED, alert)

    def _queue(self, follow_up: FollowUp) -> None:
        try:
            self._enqueue(follow_up)
        except Exception as error:  # committed already: the sweep re-queues it
            log.warning(
                "could not queue %s (%s); the scheduler's sweep will", follow_up.actor, error
            )
