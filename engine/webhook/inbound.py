"""A lead's reply (``message:received:new``): stop the sequence before answering 200.

Invariant 5: once the webhook has answered 200 for a reply, no follow-up to that
lead starts. The sender re-reads the enrollment under the phone's lease right
before it sends, and holds the lease until it has recorded the send; so the
reply's enrollment is ended while holding the same lease. A send already in
flight finishes (and is recorded) before the reply is applied; any send after
the reply's commit reads the ended enrollment and drops the step. Opt-outs are
recognised here too (a pure keyword match) so such a lead ends ``opted_out`` and
is suppressed at once; the rest of the classification is queued.

On PostgreSQL the lease of the phone the reply came to is taken first and one
statement does the rest (:mod:`engine.webhook.reply_sql`); on SQLite the
enrollment is looked up, its phone's lease taken, then a transaction applies it.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from engine.clock import Clock
from engine.db import Database
from engine.models import Direction, EnrollmentState
from engine.replies.followups import CLASSIFY_REPLY, FollowUp
from engine.replies.rules import ReplyRules
from engine.webhook import store
from engine.webhook.errors import PhoneBusyError
from engine.webhook.payloads import MessageEvent
from engine.webhook.reply_sql import apply_reply
from phones.lease import Lease
from sequences import EndReason

log = logging.getLogger("outreach.webhook")

LEASE_POLL_S = 0.002  # real seconds between two tries for a phone's lease
MAX_MOVES = 3  # an enrollment moved to another phone this often while we waited: give up


@dataclass(frozen=True)
class Received:
    """What a reply did: its stored message id (``None``: a duplicate), its lead, its end."""

    message_id: int | None
    lead_id: int | None
    ended: str | None


class _MovedError(Exception):
    """The enrollment is (now) on another phone than the one whose lease is held."""


class ReplyReceiver:
    """Applies replies; one per process, shared by the request threads."""

    def __init__(
        self,
        *,
        database: Database,
        lease: Lease,
        clock: Clock,
        rules: ReplyRules,
        stop_on_reply: Mapping[str, bool],
        phone_ids: Mapping[str, str],
        lease_wait_s: float,
    ) -> None:
        self._database = database
        self._lease = lease
        self._clock = clock
        self._rules = rules
        self._stop_on_reply = stop_on_reply
        self._keep_running = sorted(name for name, stop in stop_on_reply.items() if not stop)
        self._phone_ids = phone_ids
        self._lease_wait_s = lease_wait_s
        self._rng = random.Random()

    def receive(self, event: MessageEvent, payload: dict[str, Any]) -> Received:
        """Record the reply once, ending its lead's running enrollment where it must end."""
        opt_out = self._rules.is_opt_out(event.text)
        receiving = self._phone_ids.get(event.account_phone or "")
        if self._database.dialect == "postgresql":
            received = self._receive_in_one_statement(event, payload, opt_out, receiving)
        else:
            received = self._receive_step_by_step(event, payload, opt_out, receiving)
        log.debug(
            "reply %s: lead %s, enrollment %s", event.message_uid,
            received.lead_id or "unknown", received.ended or "unchanged",
        )  # fmt: skip
        return received

    # PostgreSQL ---------------------------------------------------------------------

    def _receive_in_one_statement(
        self, event: MessageEvent, payload: dict[str, Any], opt_out: bool, receiving: str | None
    ) -> Received:
        state = EnrollmentState.OPTED_OUT if opt_out else EnrollmentState.REPLIED
        leased = receiving
        for _ in range(MAX_MOVES):
            with self._leased(leased), store.autocommit(self._database) as connection:
                applied = apply_reply(
                    connection, event, payload, leased=leased, receiving=receiving,
                    keep_running=self._keep_running, opt_out=opt_out, now=self._clock.now(),
                )  # fmt: skip
            if applied.moved:
                leased = applied.phone_id
                continue
            if applied.event_id is None:
                return Received(None, applied.lead_id, None)
            ended: str | None = state if applied.ended else None
            if applied.stop and not applied.ended:
                # It changed between the statement's read and its update: if it still
                # runs (it moved to another phone), end it under that phone's lease.
                ended = self._end_moved(event, state)
            return Received(applied.message_id, applied.lead_id, ended)
        raise PhoneBusyError("the lead's enrollment keeps moving between phones; retry")

    # SQLite ---------------------------------------------------------------------------

    def _receive_step_by_step(
        self, event: MessageEvent, payload: dict[str, Any], opt_out: bool, receiving: str | None
    ) -> Received:
        for _ in range(MAX_MOVES):
            with store.autocommit(self._database) as connection:
                target = store.find_target(connection, event.peer_phone, event.chat_id, receiving)
            stop = target.running and (
                opt_out or self._stop_on_reply.get(target.sequence or "", True)
            )
            try:
                with self._leased(target.phone_id if stop else None):
                    return self._apply(
                        event, payload, target, stop=stop, opt_out=opt_out, receiving=receiving
                    )
            except _MovedError:
                continue
        raise PhoneBusyError("the lead's enrollment keeps moving between phones; retry")

    def _apply(
        self, event: MessageEvent, payload: dict[str, Any], target: store.Target, *,
        stop: bool, opt_out: bool, receiving: str | None,
    ) -> Received:  # fmt: skip
        now = self._clock.now()
        ended: str | None = None
        with self._database.engine.begin() as connection:
            event_id = store.record_event(
                connection, event.dedupe_key, event.event_type, payload, now, processed=True
            )
            if event_id is None:
                return Received(None, target.lead_id, None)
            if stop:
                state = EnrollmentState.OPTED_OUT if opt_out else EnrollmentState.REPLIED
                reason = EndReason.OPTED_OUT if opt_out else EndReason.REPLIED
                done = store.end_enrollment(
                    connection, target, state=state, reason=reason, chat_id=event.chat_id, now=now
                )
                if done is None:
                    raise _MovedError  # rolls the transaction back
                ended = state if done else None
            elif target.enrollment_id is not None and event.chat_id is not None:
                store.remember_chat(connection, target.enrollment_id, event.chat_id)
            message_id = store.insert_message(
                connection, direction=Direction.IN, enrollment_id=target.enrollment_id,
                lead_id=target.lead_id, phone_id=receiving or target.phone_id,
                chat_id=event.chat_id, message_uid=event.message_uid, text=event.text,
                status="received", sent_at=event.timestamp or now, created_at=now,
                attachments=[a.to_json() for a in event.attachments] or None,
                peer_phone=event.peer_phone, origin=event.origin,
            )  # fmt: skip
            if opt_out and event.peer_phone is not None:
                store.suppress(connection, event.peer_phone, f"reply {event.message_uid}", now)
        return Received(message_id, target.lead_id, ended)

    # Both -----------------------------------------------------------------------------

    def _end_moved(self, event: MessageEvent, state: str) -> str | None:
        """End the lead's running enrollment wherever it runs now; its end state, if ended."""
        reason = EndReason.OPTED_OUT if state == EnrollmentState.OPTED_OUT else EndReason.REPLIED
        for _ in range(MAX_MOVES):
            with store.autocommit(self._database) as connection:
                target = store.find_target(connection, event.peer_phone, event.chat_id, None)
            if not target.running:
                return None
            with self._leased(target.phone_id), self._database.engine.begin() as connection:
                done = store.end_enrollment(
                    connection, target, state=state, reason=reason, chat_id=event.chat_id,
                    now=self._clock.now(),
                )  # fmt: skip
            if done is not None:
                return state if done else None
        raise PhoneBusyError("the lead's enrollment keeps moving between phones; retry")

    @contextmanager
    def _leased(self, phone_id: str | None) -> Iterator[None]:
        """Hold ``phone_id``'s lease for the block (nothing for ``None``).

        A send holds the lease for its whole attempt, so the wait is bounded by
        ``lease_wait_s``; past it :class:`PhoneBusyError` (503: TimelinesAI retries).
        """
        if phone_id is None:
            yield
            return
        deadline = time.monotonic() + self._lease_wait_s
        token = self._lease.acquire(phone_id)
        while token is None:
            if time.monotonic() >= deadline:
                raise PhoneBusyError(f"phone {phone_id} is busy sending; retry")
            time.sleep(LEASE_POLL_S * (0.5 + self._rng.random()))
            token = self._lease.acquire(phone_id)
        try:
            yield
        finally:
            self._lease.release(phone_id, token)

    @staticmethod
    def follow_up(received: Received) -> FollowUp | None:
        """The classification to queue for a newly stored reply."""
        if received.message_id is None:
            return None
        return FollowUp(CLASSIFY_REPLY, (received.message_id,))
