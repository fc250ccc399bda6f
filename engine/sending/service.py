"""One send, start to finish, under the phone's lease (design flow step 4).

Read the work item (:class:`~engine.storage.base.SendStore`), ask the pure decision
(:mod:`engine.sending.decision`) once, claim once (or take the claim the store made
with its read), call TimelinesAI, record. The caller holds the phone's lease for the
whole send and hands it over (:class:`~phones.lease.HeldLease`). Every failure becomes
a state (:mod:`engine.sending.transitions`); transient API errors are re-raised for
Dramatiq's retries after the step is put back to ``queued``.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from engine import tracing
from engine.alerts import AlertSink, NoAlerts
from engine.clock import Clock
from engine.redact import mask_phone
from engine.sending import decision, wording
from engine.sending.decision import BackToDue, Drop, End, Go, Later, Policy, Reconcile, Verdict
from engine.sending.halt import SendingHalt
from engine.sending.outage_store import Admission
from engine.sending.outage_watch import OutageWatch, outage_policy
from engine.sending.outcome import Done, Outcome, PutBack
from engine.sending.reconcile import Reconciler
from engine.sending.replycheck import Found, ReplyCheck
from engine.sending.schedule import Schedule
from engine.sending.transitions import Transitions
from engine.sending.wording import WordingPolicy
from engine.settings import Settings
from engine.states import StepState
from engine.storage import Claim, Hold, Quota, Request, SendStore, Sent, WorkItem
from engine.timelinesai import (
    BadToken,
    CallBudgetExhausted,
    ChatNotFound,
    SendOutcomeUnknown,
    TimelinesAIClient,
    TimelinesAIError,
    UnexpectedResponse,
)
from phones.lease import HeldLease, Lease, holding
from sequences import EndReason, Sequence

log = logging.getLogger("outreach.send")


@dataclass
class Sender:
    """Sends the steps of enrollments; one instance per worker process, shared by threads."""

    settings: Settings
    sequences: Mapping[str, Sequence]
    store: SendStore
    client: TimelinesAIClient
    clock: Clock
    halt: SendingHalt
    rng: random.Random
    alerts: AlertSink = field(default_factory=NoAlerts)
    replies: ReplyCheck | None = None
    """Reads the chat before each follow-up for a reply the webhook never brought."""
    outage: OutageWatch | None = None
    """The workspace's API outage breaker; ``None``: one of this process only."""

    def __post_init__(self) -> None:
        self.schedule = Schedule(self.settings, self.clock.speed, self.rng)
        self.reconciler = Reconciler(self.client, self.settings, self.store, self.schedule)
        self.transitions = Transitions(self.store, self.alerts, self.reconciler)
        attempts = self.settings.worker.max_retries + 1
        policy = outage_policy(self.settings)
        watch = self.outage or OutageWatch.in_memory(policy, attempts=attempts)
        self.watch = watch.with_alert(self._alert)
        # (sequence, phone) pairs whose first messages ran out of wordings: warned once.
        self._out_of_wordings: set[tuple[str, str | None]] = set()

    def _alert(self, kind: str, message: str, now: datetime, severity: str) -> None:
        self.transitions.alert(kind, message, now, severity=severity)

    @property
    def policy(self) -> Policy:
        """What the decision reads of the settings (and whether the chat is read first)."""
        return Policy(
            speed=self.clock.speed,
            max_inline_wait_s=self.settings.worker.max_inline_wait_s,
            quota_timezone=self.settings.quota.timezone,
            jitter_min_s=self.settings.pacing.jitter_min_s,
            read_chat_before_followups=self.replies is not None,
        )

    def send(
        self, lease: HeldLease, enrollment_id: int, step: int, *, dispatch_id: int = 0,
        last_try: bool = False,
    ) -> Outcome:  # fmt: skip
        """Try to send ``step`` of the enrollment from the phone whose ``lease`` the caller
        holds; see the module doc. ``dispatch_id`` identifies the dispatch that queued the
        message: a message from an older dispatch of the same step is dropped."""
        request = Request(enrollment_id, step, lease.phone_id, dispatch_id)
        now = self.clock.now()
        admission = self.watch.admit(now)
        try:
            return self._send(request, admission, now, last_try=last_try)
        finally:
            if admission.token is not None:  # the probe: let another go if this sent nothing
                self.watch.end_probe(admission)

    def _send(
        self, request: Request, admission: Admission, now: datetime, *, last_try: bool
    ) -> Outcome:
        """The send once the breaker has answered (the probe's end is the caller's)."""
        step = request.step
        quota = self.schedule.quota(step, request.phone_id, now)
        hold_until = now + self.schedule.hold()
        # The database may claim with its read (PostgreSQL), unless sending is halted; a
        # follow-up whose chat is read first is claimed only after that read.
        halted = self.halt.active()
        stopped = halted or admission.paused
        fused = not stopped and not (step > 0 and self.replies is not None)
        with tracing.span("send.read", fused_claim=fused) as span:
            reading = self.store.read(
                request, now=now, hold_until=hold_until if fused else None, quota=quota
            )
            span.set(claimed=reading.claim is not None)
        item, claim = reading.item, reading.claim
        try:
            verdict, item = self._decide(item, request, now, halted, admission)
            verdict = self._word(verdict, item, now)
        except BaseException:
            self._let_go(claim, item, now=now, hold_until=hold_until, quota=quota)
            raise
        if claim is not None and not (isinstance(verdict, Go) and claim.goes_ahead):
            self._let_go(claim, item, now=now, hold_until=hold_until, quota=quota)
            claim = None
        if isinstance(verdict, Done | PutBack):
            return verdict
        if not isinstance(verdict, Go) or item is None:
            return self._apply(verdict, item, now)
        sequence = self.sequences[item.sequence]
        return self._go(item, sequence, verdict, claim, quota=quota, now=now, last_try=last_try)

    def _decide(
        self, item: WorkItem | None, request: Request, now: datetime, halted: bool,
        admission: Admission,
    ) -> tuple[Verdict | Outcome, WorkItem | None]:  # fmt: skip
        """The decision on the item; a step left ``sending`` is settled first, and decided
        again if it never went out."""
        sequence = self.sequences.get(item.sequence) if item is not None else None
        policy = self.policy
        outage = admission.until if admission.paused else None
        verdict = decision.decide(
            item, request, sequence, now, halted=halted, policy=policy, outage_until=outage
        )
        if not isinstance(verdict, Reconcile) or item is None or sequence is None:
            return verdict, item
        settled = self.reconciler.settle(item, sequence, now)
        if settled is not None:
            return settled, item
        item = replace(item, step_state=StepState.QUEUED)
        verdict = decision.decide(
            item, request, sequence, now, halted=halted, policy=policy, outage_until=outage
        )
        return verdict, item

    def _word(
        self, verdict: Verdict | Outcome, item: WorkItem | None, now: datetime
    ) -> Verdict | Outcome:
        """A first message that may go, worded unlike the phone's last first messages
        (:mod:`engine.sending.wording`); read here, under the phone's lease, only when it
        may go."""
        texts = self.settings.texts
        if not isinstance(verdict, Go) or item is None or item.step != 0 or not texts.enabled:
            return verdict
        recent = self.store.recent_first_texts(item.phone_id or "", texts.window)
        policy = WordingPolicy(texts.similarity_threshold, texts.rewordings, texts.retry_after_s)
        worded = wording.word(
            verdict, self.sequences[item.sequence], item, recent, now=now, policy=policy
        )
        if isinstance(worded, BackToDue):
            # Warned once per sequence and phone (a template without variety would make a
            # line per lead every retry_after_s); the rest at INFO.
            pair = (item.sequence, item.phone_id)
            level = logging.INFO if pair in self._out_of_wordings else logging.WARNING
            self._out_of_wordings.add(pair)
            log.log(
                level,
                "step 1 of enrollment %s (sequence %s) waits %gs: each of its %d wordings "
                "reads like one of phone %s's last %d first messages (similarity >= %g); "
                "the template needs more variety",
                item.enrollment_id, item.sequence, texts.retry_after_s, texts.rewordings + 1,
                item.phone_id, texts.window, texts.similarity_threshold,
            )  # fmt: skip
        return worded

    def _let_go(
        self, claim: Claim | None, item: WorkItem | None, *, now: datetime,
        hold_until: datetime, quota: Quota | None,
    ) -> None:  # fmt: skip
        """Undo a claim the store made with its read, for a step that does not go now."""
        if claim is not None and item is not None:
            hold = Hold(item.next_send_at, hold_until)
            self.store.release(item, claim, now=now, hold=hold, quota=quota)

    def _go(
        self, item: WorkItem, sequence: Sequence, go: Go, claim: Claim | None, *,
        quota: Quota | None, now: datetime, last_try: bool,
    ) -> Outcome:  # fmt: skip
        """The decision says go: wait briefly, read the chat, claim, send and record."""
        if go.wait_s > 0:
            self.clock.sleep(go.wait_s)  # a short pacing wait, cheaper than the queue
            now = self.clock.now()
            # The unit is of the day the claim is made on (the wait may cross midnight).
            quota = self.schedule.quota(item.step, item.phone_id or "", now)
        if go.read_chat:
            stopped = self._check_for_reply(item, now)
            if stopped is not None:
                return stopped
        after_read = decision.after_chat_read(go)
        if after_read is not None:
            return self._apply(after_read, item, now)
        if claim is None:
            hold = Hold(item.next_send_at, now + self.schedule.hold())
            with tracing.span("send.claim") as span:
                claim = self.store.claim(item, now=now, hold=hold, quota=quota)
                span.set(goes_ahead=claim.goes_ahead)
            refused = decision.after_claim(claim, policy=self.policy)
            if refused is not None:
                return self._apply(refused, item, now, from_state=StepState.SENDING)
        return self._deliver(item, sequence, go, quota, now, last_try=last_try)

    def _apply(
        self, verdict: Verdict, item: WorkItem | None, now: datetime,
        from_state: str = StepState.QUEUED,
    ) -> Outcome:  # fmt: skip
        """Carry out a verdict other than go."""
        if isinstance(verdict, Later):
            return PutBack(verdict.delay_s, verdict.reason)
        if isinstance(verdict, Drop) or item is None:
            return Done(verdict.reason if isinstance(verdict, Drop) else "gone")
        if isinstance(verdict, End):
            self.transitions.end(item, now, verdict.reason, verdict.error)
            return Done(_END_OUTCOMES.get(verdict.reason, verdict.reason))
        if isinstance(verdict, BackToDue):
            return self.transitions.back_to_due(
                item, now, verdict.reason, release_phone=verdict.release_phone,
                due_at=verdict.due_at, from_state=from_state,
            )  # fmt: skip
        return Done("gone")

    def _check_for_reply(self, item: WorkItem, now: datetime) -> Outcome | None:
        """Read the chat for a reply newer than our last message; ``None``: send."""
        if self.replies is None:
            return None
        try:
            found = self.replies.read(item)
        except (BadToken, CallBudgetExhausted) as error:
            return self.transitions.halted(self.halt, item, error, now, StepState.QUEUED)
        except TimelinesAIError as error:
            # A read failing "down" counts towards an outage; only a send that goes through
            # ends one (reads may work while sends fail).
            self.watch.failed(error, now)
            # Waiting for the API is not a failure of the step: no retry is used up.
            log.warning(
                "enrollment %s: could not read the chat before step %d (%s); trying later",
                item.enrollment_id, item.step + 1, error,
            )  # fmt: skip
            return PutBack(self.settings.worker.min_backoff_s, "reply check failed")
        if found == Found.NOTHING:
            return None
        if found == Found.AWAY:  # the receiver made the step due on the lead's return
            return Done("the lead is away: the follow-up waits for its return")
        # Applied as a webhook would be; if that did not end it (the reply had been stored
        # before without matching this lead), the lead still wrote: end it here.
        self.transitions.end(item, now, EndReason.REPLIED, None)
        return Done("the lead replied before the follow-up")

    def _deliver(
        self, item: WorkItem, sequence: Sequence, go: Go, quota: Quota | None, now: datetime,
        *, last_try: bool,
    ) -> Outcome:  # fmt: skip
        """The step is claimed (``sending``), the phone held: call TimelinesAI and record."""
        phone_id = item.phone_id or ""
        day = quota.day if quota is not None else None
        try:
            message_uid, chat_id = self._call_api(item, go.text)
        except (SendOutcomeUnknown, UnexpectedResponse) as error:
            self.watch.failed(error, now)  # a timeout counts towards an outage
            # The request may have reached TimelinesAI: reconcile, never resend blindly.
            log.warning(
                "step %d of enrollment %s: outcome unknown (%s); the chat is checked "
                "before anything is sent again",
                item.step + 1, item.enrollment_id, error,
            )  # fmt: skip
            next_at = self.schedule.next_send_at(now)
            self.store.pace(phone_id, now=now, next_send_at=next_at, sent=False)
            return PutBack(self.settings.worker.reconcile_after_s, "outcome unknown: reconcile")
        except TimelinesAIError as error:
            next_at = self.schedule.next_send_at(now)
            self.store.pace(phone_id, now=now, next_send_at=next_at, sent=False, quota_back=day)
            outage = self.watch.failed(error, now)
            due_at = None if outage is None else self.watch.wait_out(outage, now, last_try=last_try)
            if due_at is not None:  # an outage: the step waits, using up no retry
                return self.transitions.back_to_due(
                    item, now, "TimelinesAI outage", due_at=due_at, from_state=StepState.SENDING
                )
            return self.transitions.failed(item, error, now, self.halt, last_try=last_try)
        done = self.clock.now()
        self.watch.answered(done)
        sent = Sent(
            message_uid, go.text, go.variant, go.variant_id, chat_id, done,
            self.schedule.next_due(sequence, item.step, go.zone, done, go.closed),
            self.schedule.next_send_at(done),
        )  # fmt: skip
        with tracing.span("send.record") as span:
            advanced = self.store.record(item, sent)
            span.set(advanced=advanced)
        if day is not None:
            self.schedule.count_on_the_day_sent(self.store, phone_id, day, done)
        if not advanced:
            log.info(
                "step %d of enrollment %s went out after the enrollment ended (a reply or a "
                "stop came while it was being sent); nothing after it is scheduled",
                item.step + 1, item.enrollment_id,
            )  # fmt: skip
        if log.isEnabledFor(logging.INFO):
            log.info(
                "sent step %s of enrollment %s to %s from phone %s",
                item.step + 1, item.enrollment_id, mask_phone(item.lead_phone), phone_id,
            )  # fmt: skip
        return Done("sent")

    def _call_api(self, item: WorkItem, text: str) -> tuple[str, int | None]:
        """A follow-up into the lead's chat (by number if the chat is gone), a first
        message by number; the message's uid, and the chat when known."""
        if item.chat_id is not None:
            try:
                return self.client.send_to_chat(item.chat_id, text=text).message_uid, item.chat_id
            except ChatNotFound:
                log.info("chat %s is gone; sending by phone number", item.chat_id)
        reply = self.client.send_message(
            phone=item.lead_phone, text=text, from_phone=item.from_phone or ""
        )
        return reply.message_uid, None

    def close(self) -> None:
        """Give back what the store keeps (its connections), once the sends are done."""
        self.store.close()


_END_OUTCOMES = {
    EndReason.UNKNOWN_SEQUENCE: "unknown sequence",
    EndReason.MISSING_VARIABLE: "missing variable",
}


def send_with_lease(
    sender: Sender, leases: Lease, enrollment_id: int, step: int, phone_id: str, *,
    dispatch_id: int = 0, last_try: bool = False,
) -> Outcome:  # fmt: skip
    """Take the phone's lease, send, give the lease back: for a message that did not come
    with its lease (the worker's fetch takes it with the message)."""
    policy = sender.policy
    with holding(leases, phone_id, decision.lease_wait_s(policy)) as held:
        if held is None:
            # Another send of this phone is in flight; it will pace the phone after it.
            return PutBack(decision.busy_delay_s(policy), "phone busy")
        return sender.send(held, enrollment_id, step, dispatch_id=dispatch_id, last_try=last_try)
