"""One send, start to finish, under the phone's lease (design flow step 4).

Take the lease; re-read the enrollment, step, campaign and phone; check the send
window and pacing; take a unit of quota for a first message; render; move the step
``queued -> sending``; call TimelinesAI; record the message, schedule the next step
and pace the phone; release the lease. Every failure becomes a state (design
"Failures become states"); transient API errors are re-raised for Dramatiq's
retries after the step is put back to ``queued``.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import Connection

from engine.alerts import AlertSink, NoAlerts
from engine.clock import Clock
from engine.db import Database, ThreadConnections
from engine.models import RUNNING_STATES, PhoneState, StepState
from engine.redact import mask_phone
from engine.sending import store
from engine.sending.halt import SendingHalt
from engine.sending.outcome import Done, Outcome, PutBack
from engine.sending.reconcile import Reconciler
from engine.sending.replycheck import ReplyCheck
from engine.sending.transitions import Transitions
from engine.settings import Settings
from engine.timelinesai import (
    AccountBanned,
    BadToken,
    CallBudgetExhausted,
    ChatNotFound,
    Forbidden,
    InvalidRecipient,
    PayloadTooLarge,
    PermanentError,
    SendOutcomeUnknown,
    TimelinesAIClient,
    TimelinesAIError,
    UnexpectedResponse,
)
from phones.lease import Lease
from phones.pacing import hold_after_claim, next_send_at, should_put_back, wait_s
from phones.quota import daily_quota, quota_day
from sequences import (
    EndReason,
    Sequence,
    choose_variant,
    is_open,
    lead_timezone,
    next_due,
    next_open,
)
from spintax import MissingVariableError, Rendered

log = logging.getLogger("outreach.send")

LEASE_POLL_S = 0.004  # real seconds between two tries for a busy lease
LEASE_POLL_MAX_S = 0.25  # real seconds a thread may wait for a busy lease


@dataclass
class Sender:
    """Sends the steps of enrollments; one instance per worker process, shared by threads."""

    settings: Settings
    sequences: Mapping[str, Sequence]
    database: Database
    client: TimelinesAIClient
    lease: Lease
    clock: Clock
    halt: SendingHalt
    rng: random.Random
    alerts: AlertSink = field(default_factory=NoAlerts)
    replies: ReplyCheck | None = None
    """Reads the chat before each follow-up for a reply the webhook never brought."""

    def __post_init__(self) -> None:
        self.reconciler = Reconciler(self.client, self.settings)
        self.transitions = Transitions(self.database, self.alerts)
        # A checkout, an isolation level switch and a check-in per hot statement cost the
        # worker more CPU than the statement's own client work (bench/send_pipeline.py).
        self._connections = ThreadConnections(self.database)

    # The entry point ---------------------------------------------------------------

    def send(
        self,
        enrollment_id: int,
        step: int,
        phone_id: str,
        *,
        dispatch_id: int = 0,
        last_try: bool = False,
        leased: bool = False,
    ) -> Outcome:
        """Try to send ``step`` of the enrollment from ``phone_id``; see the module doc.

        ``dispatch_id`` identifies the dispatch that queued the message: a message
        from an older dispatch of the same step (requeued after a loss) is dropped.
        ``leased`` says the caller holds the phone's lease for the whole send (the
        worker's fetcher took it with the message and frees it with the ack).
        """
        if leased:
            return self._send_leased(enrollment_id, step, phone_id, dispatch_id, last_try=last_try)
        token = self._acquire(phone_id)
        if token is None:
            # Another send of this phone is in flight; it will pace the phone after it.
            return PutBack(self._busy_delay_s(), "phone busy")
        try:
            return self._send_leased(enrollment_id, step, phone_id, dispatch_id, last_try=last_try)
        finally:
            if not self.lease.release(phone_id, token):
                log.warning("lease of phone %s expired during a send", phone_id)

    def _acquire(self, phone_id: str) -> str | None:
        """Take the phone's lease, waiting for it only when that is cheap.

        When the phone's shortest gap is long in real time (production pacing), a busy
        lease means the phone cannot send for a while anyway: give up at once and put
        the message back. When it is short (a sped-up clock, zero jitter), the holder
        finishes in milliseconds: poll briefly rather than pay a trip through the queue.
        """
        token = self.lease.acquire(phone_id)
        gap_real_s = self.clock.real_seconds(self.settings.pacing.jitter_min_s)
        if token is not None or gap_real_s > self.settings.worker.max_inline_wait_s:
            return token
        deadline = time.monotonic() + min(self.settings.worker.max_inline_wait_s, LEASE_POLL_MAX_S)
        while token is None and time.monotonic() < deadline:
            time.sleep(LEASE_POLL_S * (0.5 + self.rng.random()))
            token = self.lease.acquire(phone_id)
        return token

    def _hold(self) -> timedelta:
        """How long a claimed send holds its phone in the database: past the lease's end."""
        worker = self.settings.worker
        return hold_after_claim(
            self.settings.pacing.jitter_min_s, worker.lease_ttl_s, self.clock.speed
        )

    def _busy_delay_s(self) -> float:
        floor_s = 0.05 * self.clock.speed  # at least 50 ms real, so a busy phone never spins
        return max(self.settings.pacing.jitter_min_s, floor_s)

    # Under the lease ----------------------------------------------------------------

    def _send_leased(
        self, enrollment_id: int, step: int, phone_id: str, dispatch_id: int, *, last_try: bool
    ) -> Outcome:
        now = self.clock.now()
        item, ready = self._load(enrollment_id, step, phone_id, dispatch_id, now)
        if ready is not None:
            return self._deliver(ready, now, last_try=last_try)
        stale = self._stale_reason(item, step, phone_id, dispatch_id)
        if stale is not None or item is None:
            return Done(stale or "gone")
        sequence = self.sequences.get(item.sequence)
        if sequence is None:
            missing = f"no sequence {item.sequence!r} in the config"
            self.transitions.end(item, now, EndReason.UNKNOWN_SEQUENCE, missing)
            return Done("unknown sequence")
        if item.step_state == StepState.SENDING:
            outcome = self._reconcile(item, sequence, now)
            if outcome is not None:
                return outcome
            if item.state not in RUNNING_STATES:
                return Done("the step in flight when the enrollment ended never went out")
        hold = self._hold_reason(item, now)
        if hold is not None:
            return self.transitions.back_to_due(
                item, now, hold, release_phone=hold == "phone not active"
            )
        wait = wait_s(item.next_send_at, now)
        if wait > 0:
            if should_put_back(wait, self.clock.speed, self.settings.worker.max_inline_wait_s):
                return PutBack(wait, "pacing")
            self.clock.sleep(wait)
            now = self.clock.now()
        # After any pacing wait: the window may have closed meanwhile.
        zone = self._zone(sequence, item)
        if not is_open(sequence.window, zone, now):
            opening = next_open(sequence.window, zone, now)
            return self.transitions.back_to_due(
                item, now, "outside the send window", due_at=opening
            )
        if item.step > 0 and sequence.stop_on_reply:
            stopped = self._check_for_reply(item, now)
            if stopped is not None:
                return stopped
        return self._send_now(item, sequence, zone, now, last_try=last_try)

    def _check_for_reply(self, item: store.WorkItem, now: datetime) -> Outcome | None:
        """Read the chat for a reply newer than our last message; ``None``: send."""
        if self.replies is None:
            return None
        try:
            replied = self.replies.replied(item)
        except (BadToken, CallBudgetExhausted) as error:
            return self._halted(item, error, now, from_state=StepState.QUEUED)
        except TimelinesAIError as error:
            # Waiting for the API is not a failure of the step: no retry is used up.
            log.warning(
                "enrollment %s: could not read the chat before step %d (%s); trying later",
                item.enrollment_id, item.step + 1, error,
            )  # fmt: skip
            return PutBack(self.settings.worker.min_backoff_s, "reply check failed")
        if not replied:
            return None
        # Applied as a webhook would be; if that did not end it (the reply had been stored
        # before without matching this lead), the lead still wrote: end it here.
        self.transitions.end(item, now, EndReason.REPLIED, None)
        return Done("the lead replied before the follow-up")

    def _stale_reason(
        self, item: store.WorkItem | None, step: int, phone_id: str, dispatch_id: int
    ) -> str | None:
        if item is None:
            return "enrollment gone"
        # A step still being sent when a reply or a stop ended its enrollment is reconciled:
        # did it go out (record it), or not (nothing more will)?
        if item.state not in RUNNING_STATES and item.step_state != StepState.SENDING:
            return f"enrollment {item.state}"
        if item.step != step:
            return "step already moved on"
        if item.phone_id != phone_id:
            return "enrollment moved to another phone"
        if item.step_state not in (StepState.QUEUED, StepState.SENDING):
            return f"step is {item.step_state}"
        if dispatch_id and dispatch_id != store.dispatch_id(item.queued_at):
            return "superseded by a newer dispatch"
        return None

    def _hold_reason(self, item: store.WorkItem, now: datetime) -> str | None:
        if item.campaign_state is not None and item.campaign_state != "active":
            return f"campaign {item.campaign_state}"
        if item.phone_state != PhoneState.ACTIVE:
            return "phone not active"
        if self.halt.active():
            return "sending halted: TimelinesAI token refused"
        return None

    # The send ------------------------------------------------------------------------

    def _load(
        self, enrollment_id: int, step: int, phone_id: str, dispatch_id: int, now: datetime
    ) -> tuple[store.WorkItem | None, _Ready | None]:
        """Read the work item; on PostgreSQL, claim the step in the same statement when the
        database finds nothing against sending it now.

        A claimed step comes back :class:`_Ready` once the checks only Python can make
        pass too (a known sequence, an open send window, a rendered text); otherwise the
        claim is released and the caller decides from the item, as without a claim.
        Same decisions, one statement fewer per send.
        """
        # A follow-up read for a reply first is claimed only after that read.
        checked = step > 0 and self.replies is not None
        if self.database.dialect != "postgresql" or checked or self.halt.active():
            with self._statement() as connection:
                return store.load(connection, enrollment_id), None
        day = quota_day(now, self.settings.quota.timezone)
        quota = (day, self._quota(phone_id, day)) if step == 0 else None
        hold_until = now + self._hold()
        with self._statement() as connection:
            claim = store.load_and_claim(
                connection, enrollment_id, step, phone_id=phone_id,
                queued_at=store.queued_at_of(dispatch_id), now=now, hold_until=hold_until,
                quota=quota,
            )  # fmt: skip
        item = claim.item
        if item is None or not claim.reserved:
            return item, None  # nothing was changed
        ready = None
        try:
            ready = self._ready(item, now, day) if claim.goes_ahead else None
        finally:  # also when a check raises: never leave a claim nobody will send
            if ready is None:
                with self.database.engine.begin() as connection:
                    store.release_claim(
                        connection, item, claim, now=now, hold_until=hold_until,
                        quota_day=day if quota is not None else None,
                    )  # fmt: skip
        return item, ready

    def _ready(self, item: store.WorkItem, now: datetime, day: date) -> _Ready | None:
        """What a claimed step needs to go out, or ``None`` if Python's checks stop it."""
        sequence = self.sequences.get(item.sequence)
        if sequence is None:
            return None
        zone = self._zone(sequence, item)
        if not is_open(sequence.window, zone, now):
            return None
        variant = self._variant(sequence, item)
        try:
            rendered = self._render(sequence, item, variant)
        except MissingVariableError:
            return None
        return _Ready(item, sequence, zone, day, variant, rendered.text, rendered.variant_id)

    def _send_now(
        self, item: store.WorkItem, sequence: Sequence, zone: str, now: datetime, *, last_try: bool
    ) -> Outcome:
        phone_id = item.phone_id or ""
        first = item.step == 0
        day = quota_day(now, self.settings.quota.timezone)
        variant = self._variant(sequence, item)
        try:
            rendered = self._render(sequence, item, variant)
        except MissingVariableError as error:
            self.transitions.end(item, self.clock.now(), EndReason.MISSING_VARIABLE, str(error))
            return Done("missing variable")
        quota = (phone_id, day, self._quota(phone_id, day)) if first else None
        guard = store.PhoneGuard(phone_id, item.next_send_at, now + self._hold())
        with self._statement() as connection:
            claim = store.claim_sending(
                connection, item.enrollment_id, item.step, now, quota, guard=guard,
                phone_id=phone_id,
            )  # fmt: skip
        if not claim.phone_free:
            # Our lease was lost (Redis flushed or restarted) and another send took the phone.
            return PutBack(self._busy_delay_s(), "phone busy: another send holds it")
        if not claim.claimed:
            return Done("step no longer queued, or the enrollment ended")
        if not claim.quota_taken:
            # Over quota: wait for the dispatcher to pick another phone or the next day.
            return self.transitions.back_to_due(
                item, now, "phone quota used up", release_phone=True, from_state=StepState.SENDING
            )
        ready = _Ready(item, sequence, zone, day, variant, rendered.text, rendered.variant_id)
        return self._deliver(ready, now, last_try=last_try)

    def _deliver(self, ready: _Ready, now: datetime, *, last_try: bool) -> Outcome:
        """The step is claimed (``sending``), the phone held: call TimelinesAI and record."""
        item, day = ready.item, ready.day
        phone_id = item.phone_id or ""
        first = item.step == 0
        try:
            sent = self._call_api(item, ready.text)
        except (SendOutcomeUnknown, UnexpectedResponse) as error:
            # The request may have reached TimelinesAI: reconcile, never resend blindly.
            log.warning(
                "send of enrollment %s step %s: outcome unknown (%s)",
                item.enrollment_id,
                item.step,
                error,
            )
            self._pace(phone_id, now, sent=False)
            return PutBack(self.settings.worker.reconcile_after_s, "outcome unknown: reconcile")
        except TimelinesAIError as error:
            return self._failed(item, error, now, day, first=first, last_try=last_try)
        done = self.clock.now()
        # Recorded with an asynchronous commit: should a crash of the database server
        # lose this write, the step is found in ``sending`` again and reconciled
        # against the chat history, as after a worker crash; it is never resent blindly.
        with self._statement(async_commit=True) as connection:
            advanced = store.record_sent(
                connection,
                item=item,
                message_uid=sent.message_uid,
                text_sent=ready.text,
                template_variant=ready.variant,
                variant_id=ready.variant_id,
                chat_id=sent.chat_id,
                now=done,
                next_due=self._next_due(ready.sequence, item.step, ready.zone, done),
                next_send_at=self._next_send_at(done),
            )
        if first:
            self._count_on_the_day_sent(phone_id, day, done)
        if not advanced:
            log.info(
                "step %d of enrollment %s went out after the enrollment ended (a reply or a "
                "stop came while it was being sent); nothing after it is scheduled",
                item.step + 1, item.enrollment_id,
            )  # fmt: skip
        if log.isEnabledFor(logging.INFO):
            log.info(
                "sent step %s of enrollment %s to %s from phone %s",
                item.step, item.enrollment_id, mask_phone(item.lead_phone), phone_id,
            )  # fmt: skip
        return Done("sent")

    def _call_api(self, item: store.WorkItem, text: str) -> _Sent:
        from_phone = item.from_phone or ""
        if item.chat_id is not None:
            try:
                reply = self.client.send_to_chat(item.chat_id, text=text)
                return _Sent(reply.message_uid, item.chat_id)
            except ChatNotFound:
                log.info("chat %s is gone; sending by phone number", item.chat_id)
        reply = self.client.send_message(phone=item.lead_phone, text=text, from_phone=from_phone)
        return _Sent(reply.message_uid, None)

    def _failed(
        self,
        item: store.WorkItem,
        error: TimelinesAIError,
        now: datetime,
        day: date,
        *,
        first: bool,
        last_try: bool,
    ) -> Outcome:
        phone_id = item.phone_id or ""
        with self.database.engine.begin() as connection:
            store.pace_phone(
                connection, phone_id, now=now, next_send_at=self._next_send_at(now), sent=False
            )
            if first:
                store.give_back_quota(connection, phone_id, day)
        if isinstance(error, InvalidRecipient):
            return self._invalid_recipient(item, error, now)
        if isinstance(error, (AccountBanned, Forbidden)) and not isinstance(error, BadToken):
            state = PhoneState.BANNED if isinstance(error, AccountBanned) else PhoneState.PAUSED
            self.transitions.phone_down(phone_id, state, str(error), now)
            return self.transitions.back_to_due(
                item, now, f"phone {state}", release_phone=True, from_state=StepState.SENDING
            )
        if isinstance(error, (BadToken, CallBudgetExhausted)):
            return self._halted(item, error, now, from_state=StepState.SENDING)
        if isinstance(error, (PayloadTooLarge, PermanentError)):
            return self.transitions.dead_letter(item, error, now)
        # Transient: the message certainly did not go out; back to queued for a retry.
        if last_try:
            return self.transitions.dead_letter(item, error, now)
        self.transitions.back_to_queued(item, now, str(error))
        raise error

    def _halted(
        self, item: store.WorkItem, error: TimelinesAIError, now: datetime, *, from_state: str
    ) -> Outcome:
        """The token was refused or the month's budget is used up: all sending stops."""
        self.halt.trip(now)
        if isinstance(error, BadToken):
            kind = "bad_token"
            message = "TimelinesAI refused the token: all sending stopped until it works"
            reason = "bad token"
        else:
            kind, message = "call_budget", "the month's TimelinesAI call budget is used up"
            reason = "call budget used up"
        self.transitions.alert(kind, message, now)
        return self.transitions.back_to_due(item, now, reason, from_state=from_state)

    def _invalid_recipient(
        self, item: store.WorkItem, error: InvalidRecipient, now: datetime
    ) -> Outcome:
        # The same 400 comes back when our sending account is disconnected: check it first.
        if not self.reconciler.account_connected(item.from_phone or ""):
            self.transitions.phone_down(
                item.phone_id or "", PhoneState.OFFLINE, "account disconnected", now
            )
            return self.transitions.back_to_due(
                item,
                now,
                "phone offline",
                release_phone=item.step == 0,
                from_state=StepState.SENDING,
            )
        self.transitions.end(item, self.clock.now(), EndReason.INVALID_NUMBER, str(error))
        return Done("invalid number")

    # Reconciliation -------------------------------------------------------------------

    def _reconcile(self, item: store.WorkItem, sequence: Sequence, now: datetime) -> Outcome | None:
        """A step left in ``sending``: did it go out? ``None`` means send it again now."""
        with self.database.engine.begin() as connection:
            if store.find_sent_message(connection, item.enrollment_id, item.step) is not None:
                if item.state not in RUNNING_STATES:  # recorded; an ended one not marked sent
                    store.set_step(
                        connection, item.enrollment_id, item.step, expect=StepState.SENDING,
                        now=now, step_state=StepState.SENT,
                    )  # fmt: skip
                return Done("already recorded")
        started = item.sending_at or now
        variant = self._variant(sequence, item)
        try:
            text: str | None = self._render(sequence, item, variant).text
        except MissingVariableError:
            text = None
        try:
            found = self.reconciler.find_sent(item, started, text)
        except TimelinesAIError:
            return PutBack(
                self.settings.worker.reconcile_after_s, "reconcile: TimelinesAI unavailable"
            )
        if found is not None:
            zone = self._zone(sequence, item)
            with self.database.engine.begin() as connection:
                store.record_sent(
                    connection, item=item, message_uid=found.uid, text_sent=found.text or "",
                    template_variant=variant, variant_id="reconciled", chat_id=found.chat_id,
                    now=found.timestamp or now,
                    next_due=self._next_due(sequence, item.step, zone, now),
                    next_send_at=self._next_send_at(now),
                )  # fmt: skip
            if item.step == 0:
                self._count_on_the_day_sent(
                    item.phone_id or "",
                    quota_day(started, self.settings.quota.timezone),
                    found.timestamp or now,
                )
            return Done("reconciled: it had been sent")
        waited = (now - started).total_seconds()
        if waited < self.settings.worker.reconcile_after_s:
            return PutBack(self.settings.worker.reconcile_after_s - waited, "reconcile later")
        # Not in the chat history long after the attempt: it never went out. A running
        # enrollment sends it again now; an ended one lets it go.
        again = StepState.QUEUED if item.state in RUNNING_STATES else StepState.DUE
        with self.database.engine.begin() as connection:
            store.set_step(
                connection, item.enrollment_id, item.step, expect=StepState.SENDING, now=now,
                step_state=again,
            )  # fmt: skip
            if item.step == 0:
                store.give_back_quota(
                    connection,
                    item.phone_id or "",
                    quota_day(started, self.settings.quota.timezone),
                )
        return None

    # Helpers ----------------------------------------------------------------------

    @contextmanager
    def _statement(self, *, async_commit: bool = False) -> Iterator[Connection]:
        """For the hot path's single-statement steps: autocommit on PostgreSQL (one round
        trip each, atomic because each is one statement); a transaction on SQLite.
        ``async_commit`` uses :attr:`Database.async_commit_engine`."""
        if self.database.dialect == "postgresql":
            connection = self._connections.get(async_commit=async_commit)
            try:
                yield connection
            except BaseException:
                # It may be broken (a database restart): the next statement takes a new one.
                self._connections.drop(async_commit=async_commit)
                raise
        else:
            with self.database.engine.begin() as connection:
                yield connection

    def close(self) -> None:
        """Give the threads' kept connections back to the pool (once the sends are done)."""
        self._connections.close()

    def _count_on_the_day_sent(self, phone_id: str, claimed_day: date, sent_at: datetime) -> None:
        """A first message counts for the quota day it went out on, not the one it was claimed in.

        One claimed just before the day's end may reach TimelinesAI after it. Its unit then
        moves to the new day, where it is the phone's first send (one send in flight per
        phone, and no other send of the phone can claim before it ends), so within any
        quota; left on the old day, the new day would start one over. Nothing to do unless
        the day changed while the send was in flight.
        """
        sent_day = quota_day(sent_at, self.settings.quota.timezone)
        if sent_day != claimed_day:
            with self.database.engine.begin() as connection:
                store.move_quota(connection, phone_id, claimed_day, sent_day)

    def _zone(self, sequence: Sequence, item: store.WorkItem) -> str:
        """The time zone the lead's send window is read in."""
        zone: str = lead_timezone(
            sequence.timezone, item.lead_timezone, item.lead_phone, self.settings.quota.timezone
        )
        return zone

    @staticmethod
    def _variant(sequence: Sequence, item: store.WorkItem) -> int:
        """Which of the step's templates the lead gets (stable per enrollment and step)."""
        templates = sequence.steps[item.step].templates
        variant: int = choose_variant(item.enrollment_id, item.step, len(templates))
        return variant

    @staticmethod
    def _render(sequence: Sequence, item: store.WorkItem, variant: int) -> Rendered:
        """The variant's text, seeded ``"<enrollment>:<step>"`` so a retry or a
        reconciliation renders the same text; ``MissingVariableError`` if it cannot."""
        template = sequence.steps[item.step].templates[variant]
        return template.render(item.lead_variables, seed=f"{item.enrollment_id}:{item.step}")

    def _quota(self, phone_id: str, day: date) -> int:
        phone = self.settings.phone(phone_id)
        return daily_quota(
            self.settings.quota_for(phone), started_on=phone.started_on, today=day,
            warmup=self.settings.quota.warmup,
        )  # fmt: skip

    def _next_due(
        self, sequence: Sequence, step: int, zone: str, sent_at: datetime
    ) -> datetime | None:
        if step + 1 >= len(sequence.steps):
            return None
        due: datetime = next_due(sequence, step + 1, zone, sent_at)
        return due

    def _next_send_at(self, now: datetime) -> datetime:
        pacing = self.settings.pacing
        return next_send_at(now, pacing.jitter_min_s, pacing.jitter_max_s, self.rng)

    def _pace(self, phone_id: str, now: datetime, *, sent: bool) -> None:
        with self.database.engine.begin() as connection:
            store.pace_phone(
                connection, phone_id, now=now, next_send_at=self._next_send_at(now), sent=sent
            )


@dataclass(frozen=True)
class _Ready:
    """A claimed step with everything its send needs."""

    item: store.WorkItem
    sequence: Sequence
    zone: str
    day: date
    variant: int
    text: str
    variant_id: str


@dataclass(frozen=True)
class _Sent:
    message_uid: str
    chat_id: int | None
