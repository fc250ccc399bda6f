"""Sending an automatic answer to a reply: the phone's lease, pacing and the send window.

An answer (``[replies] ... auto_reply``) goes out from the phone the lead wrote to,
like a follow-up: on that phone's follow-up queue, under its lease, after its pacing
gap, inside the sequence's send window on the lead's clock, and the phone is paced
after it. It is sent at most once: the claim moves it ``queued -> sending`` and an
answer whose outcome is unknown (a timeout after the request left) is never sent
again but marked failed, since a second copy is worse than none.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection

from engine.clock import Clock
from engine.db import Database
from engine.sending.decision import BUSY_FLOOR_REAL_S
from engine.sending.halt import SendingHalt
from engine.sending.outage_watch import OutageWatch, outage_policy
from engine.sending.outcome import Done, Outcome, PutBack
from engine.settings import Settings
from engine.states import AutoReplyState, PhoneState
from engine.storage import Hold, content_hash
from engine.storage import autoreplies as store
from engine.storage import statements as sql
from engine.timelinesai import (
    BadToken,
    CallBudgetExhausted,
    ChatNotFound,
    PermanentError,
    SendOutcomeUnknown,
    TimelinesAIClient,
    TimelinesAIError,
    UnexpectedResponse,
)
from phones.lease import HeldLease
from phones.pacing import hold_after_claim, next_send_at, should_put_back, wait_s
from sequences import EndReason, Sequence, closed_days, is_open, lead_timezone, next_open

log = logging.getLogger("outreach.send")

PHONE_DOWN_RETRY_S = 600.0  # virtual seconds before an answer waiting for its phone is tried


@dataclass
class AutoReplySender:
    """Sends automatic answers; one per worker process, shared by its threads."""

    settings: Settings
    sequences: Mapping[str, Sequence]
    database: Database
    client: TimelinesAIClient
    clock: Clock
    halt: SendingHalt
    rng: random.Random
    outage: OutageWatch | None = None
    """The workspace's API outage breaker (the sender's); ``None``: one of this process."""

    def __post_init__(self) -> None:
        attempts = self.settings.worker.max_retries + 1
        policy = outage_policy(self.settings)
        self.watch = self.outage or OutageWatch.in_memory(policy, attempts=attempts)

    def send(self, lease: HeldLease, auto_reply_id: int) -> Outcome:
        """Send one answer from the phone whose ``lease`` the caller holds."""
        now = self.clock.now()
        admission = self.watch.admit(now)
        try:
            until = admission.until if admission.paused else None
            return self._send(lease.phone_id, auto_reply_id, now, until)
        finally:
            if admission.token is not None:  # the probe: let another go if this sent nothing
                self.watch.end_probe(admission)

    def _send(
        self, phone_id: str, auto_reply_id: int, now: datetime, outage_until: datetime | None
    ) -> Outcome:
        with self.database.engine.begin() as connection:
            item = store.load(connection, auto_reply_id)
        if item is None or item.state != AutoReplyState.QUEUED or item.phone_id != phone_id:
            return Done("auto-reply gone or not queued")
        stop = _cancelled_because(item)
        if stop is not None:
            with self.database.engine.begin() as connection:
                store.cancel(connection, item.id, reason=stop, now=now)
            return Done(f"auto-reply cancelled: {stop}")
        if item.phone_state != PhoneState.ACTIVE or self.halt.active():
            later = now + timedelta(seconds=PHONE_DOWN_RETRY_S)
            return self._back_to_due(item, later, "phone not active or sending halted")
        if outage_until is not None:
            return self._back_to_due(item, outage_until, "TimelinesAI outage")
        wait = wait_s(item.next_send_at, now)
        if wait > 0:
            if should_put_back(wait, self.clock.speed, self.settings.worker.max_inline_wait_s):
                return PutBack(wait, "pacing")
            self.clock.sleep(wait)
            now = self.clock.now()
        sequence = self.sequences.get(item.sequence or "")
        if sequence is not None:
            zone = lead_timezone(
                sequence.timezone, item.lead_timezone, item.lead_phone,
                self.settings.quota.timezone,
            )  # fmt: skip
            closed = closed_days(sequence, item.lead_region, item.lead_phone)
            if not is_open(sequence.window, zone, now, closed):
                opening = next_open(sequence.window, zone, now, closed)
                return self._back_to_due(item, opening, "outside the send window")
        return self._claimed_send(item, now)

    def _claimed_send(self, item: store.AutoReplyItem, now: datetime) -> Outcome:
        hold = Hold(item.next_send_at, now + self._hold())
        with self.database.engine.begin() as connection:
            claim = store.claim(connection, item, now=now, hold=hold)
        if not claim.phone_free:
            return PutBack(self._busy_delay_s(), "phone busy: another send")
        if not claim.claimed:
            return Done("auto-reply taken by another worker")
        try:
            uid, chat_id = self._call_api(item)
        except TimelinesAIError as error:
            outage = self.watch.failed(error, now)
            return self._not_sent(item, error, now, outage.probe_at if outage else None)
        done = self.clock.now()
        self.watch.answered(done)
        with self.database.engine.begin() as connection:
            store.record_sent(
                connection, item, message_uid=uid, chat_id=chat_id, now=done,
                next_send_at=self._next_send_at(done), content_hash=content_hash(item.text),
            )  # fmt: skip
        log.info(
            "auto-reply %s sent to lead %s from phone %s", item.id, item.lead_id, item.phone_id
        )
        return Done("auto-reply sent")

    def _not_sent(
        self, item: store.AutoReplyItem, error: TimelinesAIError, now: datetime,
        outage_until: datetime | None,
    ) -> Done:  # fmt: skip
        """The answer did not (surely) go: failed for good, or due again later (after an
        outage's back-off, when one is on): an outage fails no answer."""
        if isinstance(error, (SendOutcomeUnknown, UnexpectedResponse)):
            return self._failed(item, f"outcome unknown, not sent again: {error}", now)
        if isinstance(error, (BadToken, CallBudgetExhausted)):
            self.halt.trip(now)  # every send stops; the sender's alert says why
        elif isinstance(error, PermanentError):
            return self._failed(item, f"{type(error).__name__}: {error}", now)
        due_at = now + timedelta(seconds=self.settings.worker.min_backoff_s)
        with self.database.engine.begin() as connection:
            self._pace(connection, item.phone_id, now)
            store.back_to_due(
                connection, item.id, expect=AutoReplyState.SENDING, now=now,
                due_at=max(due_at, outage_until or due_at),
                error=f"{type(error).__name__}: {error}",
            )  # fmt: skip
        return Done("auto-reply failed for now; due again")

    def _call_api(self, item: store.AutoReplyItem) -> tuple[str, int | None]:
        """The answer's uid, and the chat it went into when that is known."""
        if item.chat_id is not None:
            try:
                sent = self.client.send_to_chat(item.chat_id, text=item.text)
                return sent.message_uid, item.chat_id
            except ChatNotFound:
                log.info("chat %s is gone; answering by phone number", item.chat_id)
        reply = self.client.send_message(
            phone=item.lead_phone, text=item.text, from_phone=item.from_phone or ""
        )
        return reply.message_uid, None

    def _failed(self, item: store.AutoReplyItem, error: str, now: datetime) -> Done:
        with self.database.engine.begin() as connection:
            self._pace(connection, item.phone_id, now)
            store.fail(connection, item.id, error=error, now=now)
        log.warning("auto-reply %s not sent: %s", item.id, error)
        return Done("auto-reply failed")

    def _back_to_due(self, item: store.AutoReplyItem, due_at: datetime, reason: str) -> Done:
        with self.database.engine.begin() as connection:
            store.back_to_due(
                connection, item.id, expect=AutoReplyState.QUEUED, due_at=due_at,
                now=self.clock.now(),
            )  # fmt: skip
        return Done(f"auto-reply waits: {reason}")

    def _pace(self, connection: Connection, phone_id: str, now: datetime) -> None:
        """After an attempt that sent nothing: the phone is paced as after a failure."""
        next_at = self._next_send_at(now)
        sql.pace_phone(connection, phone_id, now=now, next_send_at=next_at, sent=False)

    def _busy_delay_s(self) -> float:
        """A busy phone is tried again after its gap, but at least 50 ms real (never spins)."""
        return max(self.settings.pacing.jitter_min_s, BUSY_FLOOR_REAL_S * self.clock.speed)

    def _hold(self) -> timedelta:
        """How long a claimed send holds its phone in the database: past the lease's end."""
        worker = self.settings.worker
        return hold_after_claim(
            self.settings.pacing.jitter_min_s, worker.lease_ttl_s, self.clock.speed
        )

    def _next_send_at(self, now: datetime) -> datetime:
        pacing = self.settings.pacing
        return next_send_at(now, pacing.jitter_min_s, pacing.jitter_max_s, self.rng)


def _cancelled_because(item: store.AutoReplyItem) -> str | None:
    """Why a queued answer must not go any more, if it must not: only an opt-out's own
    confirmation may reach a number on the do-not-contact list, and nothing goes to a
    lead a person now writes to."""
    if item.rule == "opt_out":
        return None
    if item.suppressed:
        return "the lead opted out"
    if item.end_reason == EndReason.MANUAL_TAKEOVER:
        return "a person took the chat over"
    return None
