"""A lead's reply (``message:received:new``): committed in one transaction, answered at once.

Invariant 5: no step of the lead is claimed after the reply's 200. The reply is
stored and the lead's running enrollment ended (``replied``, or ``opted_out`` for an
opt-out keyword, recognised here so the number is suppressed at once) in one
transaction that waits for no phone (an opt-out also drops the lead's automatic answers
not sent yet). The send path's claim requires a running
enrollment in the same row, so the two serialise on that row: a claim after this
commit finds the enrollment ended and claims nothing. A send claimed before it is in
flight: it finishes, and the reply records its step (``in_flight_step``), logs it and
counts it. In the same transaction the running sequences of the lead's colleagues
(the leads at its company) are paused or stopped as each sequence's
``on_company_reply`` says.

An out-of-office notice (:meth:`ReplyRules.is_out_of_office`, and no opt-out) ends
nothing and holds no colleague: in the same transaction the lead's next step is made
due on the date the notice says the lead is back, else after the configured delay
(:func:`engine.replies.absence.resume_at`, on the lead's calendar). A later
notice postpones again; a real reply after it stops as usual. The rest of the work
(classification, review flags, notifications) is queued after the commit.

The reply store does it (:mod:`engine.storage.replies`): on PostgreSQL in one
statement, on SQLite one statement at a time inside one write transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from engine.clock import Clock
from engine.company_keys import CompanyReply
from engine.db import Database
from engine.replies.absence import resume_at
from engine.replies.followups import CLASSIFY_REPLY, FollowUp
from engine.replies.rules import ReplyRules
from engine.settings import Settings
from engine.storage import Reply, reply_store
from engine.storage.replies import lead_calendar
from engine.webhook.payloads import MessageEvent
from sequences import EndReason, Sequence, closed_days, compiled_sequences, end_state, lead_timezone

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
    colleagues: int = 0
    """Enrollments of the lead's colleagues (same company) it paused or stopped."""
    away: bool = False
    """An out-of-office notice (whether or not this delivery was new)."""
    postponed_to: datetime | None = None
    """When the out-of-office notice made the enrollment's next step due."""


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
        on_company_reply: Mapping[str, str] | None = None,
        settings: Settings | None = None,
    ) -> None:
        """``settings``: the out-of-office rule and the sequences' calendars; without
        them, an out-of-office notice is a reply like any other."""
        self._database = database
        self._settings = settings
        self._store = reply_store(database)
        self._clock = clock
        self._rules = rules
        self._keep_running = frozenset(name for name, stop in stop_on_reply.items() if not stop)
        self._phone_ids = phone_ids
        company = on_company_reply or {}
        self._company_stop = frozenset(n for n, on in company.items() if on == CompanyReply.STOP)
        self._company_keep = frozenset(
            n for n, on in company.items() if on == CompanyReply.CONTINUE
        )

    def receive(self, event: MessageEvent, payload: dict[str, Any]) -> Received:
        """Record the reply once, ending its lead's running enrollment where it must end."""
        opt_out = self._rules.is_opt_out(event.text)
        now = self._clock.now()
        away = self._settings is not None and self._rules.is_out_of_office(event.text)
        reply = Reply(
            dedupe_key=event.dedupe_key, event_type=event.event_type, payload=payload,
            message_uid=event.message_uid, text=event.text, chat_id=event.chat_id,
            peer_phone=event.peer_phone, sent_at=event.timestamp,
            attachments=[a.to_json() for a in event.attachments] or None, origin=event.origin,
            receiving=self._phone_ids.get(event.account_phone or ""), opt_out=opt_out,
            reason=_reason(opt_out), resume_at=self._resume_at(event, now) if away else None,
        )  # fmt: skip
        applied = self._store.apply(
            reply, keep_running=self._keep_running, now=now,
            company_stop=self._company_stop, company_keep=self._company_keep,
        )  # fmt: skip
        received = Received(
            applied.message_id, applied.lead_id,
            end_state(reply.reason) if applied.ended else None, applied.enrollment_id,
            applied.in_flight_step, applied.colleagues, away,
            reply.resume_at if applied.postponed else None,
        )  # fmt: skip
        if received.in_flight_step is not None:
            log.info(
                "reply to enrollment %s arrived while step %d was being sent: that send "
                "finishes, nothing after it starts",
                received.enrollment_id, received.in_flight_step + 1,
            )  # fmt: skip
        if received.postponed_to is not None:
            log.info(
                "out-of-office reply to enrollment %s: its next step waits until %s",
                received.enrollment_id, received.postponed_to.isoformat(),
            )  # fmt: skip
        if received.colleagues:
            log.info(
                "reply from lead %s: %d enrollment(s) of its colleagues paused or stopped",
                received.lead_id, received.colleagues,
            )  # fmt: skip
        log.debug(
            "reply %s: lead %s, enrollment %s", event.message_uid,
            received.lead_id or "unknown", received.ended or "unchanged",
        )  # fmt: skip
        return received

    def _resume_at(self, event: MessageEvent, now: datetime) -> datetime:
        """When the lead who sent this out-of-office notice gets its next step: read on
        its own calendar (zone, send window, closed days of its running sequence)."""
        assert self._settings is not None
        with self._database.engine.connect() as connection:
            calendar = lead_calendar(
                connection, event.peer_phone, event.chat_id,
                self._phone_ids.get(event.account_phone or ""),
            )  # fmt: skip
        fallback = self._settings.quota.timezone
        sequence = self._sequences.get(calendar.sequence or "") if calendar else None
        away = self._settings.replies.out_of_office
        if calendar is None or sequence is None:
            return resume_at(event.text, now, away, zone=fallback)
        zone = lead_timezone(sequence.timezone, calendar.timezone, calendar.phone, fallback)
        return resume_at(
            event.text, now, away, zone=zone, window=sequence.window,
            closed=closed_days(sequence, calendar.region, calendar.phone),
        )  # fmt: skip

    @cached_property
    def _sequences(self) -> dict[str, Sequence]:
        assert self._settings is not None
        found: dict[str, Sequence] = compiled_sequences(self._settings)
        return found

    @staticmethod
    def follow_up(received: Received) -> FollowUp | None:
        """The classification to queue for a newly stored reply."""
        if received.message_id is None:
            return None
        return FollowUp(CLASSIFY_REPLY, (received.message_id,))


def _reason(opt_out: bool) -> EndReason:
    """Why a reply ends a lead's sequence: an opt-out, or any other answer."""
    return EndReason.OPTED_OUT if opt_out else EndReason.REPLIED
