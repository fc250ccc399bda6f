"""A lead's reply (``message:received:new``): committed in one transaction, answered at once.

Invariant 5: no step of the lead is claimed after the reply's 200. The reply is
stored and the lead's running enrollment ended (``replied``, or ``opted_out`` for an
opt-out keyword, recognised here so the number is suppressed at once) in one
transaction that waits for no phone (an opt-out also drops the lead's automatic answers
not sent yet). The send path's claim requires a running
enrollment in the same row, so the two serialise on that row: a claim after this
commit finds the enrollment ended and claims nothing. A send claimed before it is in
flight: it finishes, and the reply records its step (``in_flight_step``), logs it and
counts it. The rest of the work (classification, review flags, notifications) is
queued after the commit.

On PostgreSQL one statement does it all (:mod:`engine.webhook.reply_sql`); on SQLite
the same steps run one statement at a time inside one write transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.clock import Clock
from engine.db import Database
from engine.models import Direction
from engine.replies.followups import CLASSIFY_REPLY, FollowUp
from engine.replies.rules import ReplyRules
from engine.sending import autoreply_store
from engine.webhook import store
from engine.webhook.payloads import MessageEvent
from engine.webhook.reply_sql import apply_reply
from sequences import EndReason, end_state

log = logging.getLogger("outreach.webhook")


@dataclass(frozen=True)
class Received:
    """What a reply did: its stored message (``None``: a duplicate), its lead and
    enrollment, the state it ended the enrollment in, and a step that was in flight."""

    message_id: int | None
    lead_id: int | None
    ended: str | None
    enrollment_id: int | None = None
    in_flight_step: int | None = None


class ReplyReceiver:
    """Applies replies; one per process, shared by the request threads."""

    def __init__(
        self,
        *,
        database: Database,
        clock: Clock,
        rules: ReplyRules,
        stop_on_reply: Mapping[str, bool],
        phone_ids: Mapping[str, str],
    ) -> None:
        self._database = database
        self._clock = clock
        self._rules = rules
        self._stop_on_reply = stop_on_reply
        self._keep_running = sorted(name for name, stop in stop_on_reply.items() if not stop)
        self._phone_ids = phone_ids

    def receive(self, event: MessageEvent, payload: dict[str, Any]) -> Received:
        """Record the reply once, ending its lead's running enrollment where it must end."""
        opt_out = self._rules.is_opt_out(event.text)
        receiving = self._phone_ids.get(event.account_phone or "")
        if self._database.dialect == "postgresql":
            received = self._receive_in_one_statement(event, payload, opt_out, receiving)
        else:
            received = self._receive_in_a_transaction(event, payload, opt_out, receiving)
        if received.in_flight_step is not None:
            log.info(
                "reply to enrollment %s arrived while step %d was being sent: that send "
                "finishes, nothing after it starts",
                received.enrollment_id, received.in_flight_step + 1,
            )  # fmt: skip
        log.debug(
            "reply %s: lead %s, enrollment %s", event.message_uid,
            received.lead_id or "unknown", received.ended or "unchanged",
        )  # fmt: skip
        return received

    def _receive_in_one_statement(
        self, event: MessageEvent, payload: dict[str, Any], opt_out: bool, receiving: str | None
    ) -> Received:
        with store.autocommit(self._database) as connection:
            applied = apply_reply(
                connection, event, payload, receiving=receiving,
                keep_running=self._keep_running, opt_out=opt_out, reason=_reason(opt_out),
                now=self._clock.now(),
            )  # fmt: skip
        if applied.event_id is None:
            return Received(None, applied.lead_id, None, applied.enrollment_id)
        state = end_state(_reason(opt_out))
        return Received(
            applied.message_id, applied.lead_id, state if applied.ended else None,
            applied.enrollment_id, applied.in_flight_step,
        )  # fmt: skip

    def _receive_in_a_transaction(
        self, event: MessageEvent, payload: dict[str, Any], opt_out: bool, receiving: str | None
    ) -> Received:
        now = self._clock.now()
        with self._database.engine.begin() as connection:
            # The event's insert comes first: it takes SQLite's write lock, so everything
            # after it reads the latest committed state.
            event_id = store.record_event(
                connection, event.dedupe_key, event.event_type, payload, now, processed=True
            )
            target = store.find_target(connection, event.peer_phone, event.chat_id, receiving)
            if event_id is None:
                return Received(None, target.lead_id, None, target.enrollment_id)
            stop = target.running and (
                opt_out or self._stop_on_reply.get(target.sequence or "", True)
            )
            ended: store.Ended | None = None
            if stop and target.enrollment_id is not None:
                ended = store.end_running(
                    connection, target.enrollment_id, reason=_reason(opt_out),
                    chat_id=event.chat_id, now=now,
                )  # fmt: skip
            elif target.enrollment_id is not None and event.chat_id is not None:
                store.remember_chat(connection, target.enrollment_id, event.chat_id)
            message_id = store.insert_message(
                connection, direction=Direction.IN, enrollment_id=target.enrollment_id,
                lead_id=target.lead_id, phone_id=receiving or target.phone_id,
                chat_id=event.chat_id, message_uid=event.message_uid, text=event.text,
                status="received", sent_at=event.timestamp or now, created_at=now,
                attachments=[a.to_json() for a in event.attachments] or None,
                peer_phone=event.peer_phone, origin=event.origin,
                step=store.answered_step(connection, target.enrollment_id),
                in_flight_step=ended.in_flight_step if ended else None,
            )  # fmt: skip
            if opt_out and event.peer_phone is not None:
                store.suppress(connection, event.peer_phone, f"reply {event.message_uid}", now)
            if opt_out and target.lead_id is not None:
                autoreply_store.drop_open(connection, target.lead_id)
        if ended is None:
            return Received(message_id, target.lead_id, None, target.enrollment_id)
        final = end_state(_reason(opt_out))
        return Received(
            message_id, target.lead_id, final, target.enrollment_id, ended.in_flight_step
        )

    @staticmethod
    def follow_up(received: Received) -> FollowUp | None:
        """The classification to queue for a newly stored reply."""
        if received.message_id is None:
            return None
        return FollowUp(CLASSIFY_REPLY, (received.message_id,))


def _reason(opt_out: bool) -> EndReason:
    """Why a reply ends a lead's sequence: an opt-out, or any other answer."""
    return EndReason.OPTED_OUT if opt_out else EndReason.REPLIED
