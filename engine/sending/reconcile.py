"""Was it sent? Answers from TimelinesAI's own records, never by sending again.

A step found in ``sending`` (its sender crashed, or the answer never came) is
looked up in the lead's chat: an outbound message with the step's exact text (any of
the wordings a first message may take, :func:`~engine.sending.wording.wordings`), sent
after the attempt started, means it went out (design invariant 4), and is
recorded as the send would have been; none long after the attempt means it never
did, and the step is queued again (or let go, if its enrollment ended meanwhile).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import datetime, timedelta

from engine.sending import decision
from engine.sending.outcome import Done, Outcome, PutBack
from engine.sending.schedule import Schedule
from engine.sending.wording import wordings
from engine.settings import Settings
from engine.states import RUNNING_STATES, StepState
from engine.storage import SendStore, Sent, WorkItem
from engine.timelinesai import Message, TimelinesAIClient, TimelinesAIError
from sequences import Sequence

log = logging.getLogger("outreach.reconcile")

# TimelinesAI stamps a message with its own clock: allow for skew against ours.
CLOCK_SKEW = timedelta(minutes=2)
MAX_MESSAGES_SCANNED = 200


class Reconciler:
    """Looks sends up in TimelinesAI's chat histories and account states."""

    def __init__(
        self, client: TimelinesAIClient, settings: Settings, store: SendStore, schedule: Schedule
    ) -> None:
        self._client = client
        self._settings = settings
        self._store = store
        self._schedule = schedule

    def settle(self, item: WorkItem, sequence: Sequence, now: datetime) -> Outcome | None:
        """Settle a step left ``sending``. ``None``: it never went out and its enrollment
        runs, so the step is ``queued`` again and may be sent now."""
        running = item.state in RUNNING_STATES
        if self._store.sent_message(item) is not None:
            if not running:  # recorded; an ended one not marked sent yet
                self._store.set_step(item, expect=StepState.SENDING, now=now, step_state="sent")
            return Done("already recorded")
        started = item.sending_at or now
        try:
            texts = wordings(sequence, item, self._settings.texts.rewordings)
            found = self.find_sent(item, started, texts)
        except TimelinesAIError:
            after_s = self._settings.worker.reconcile_after_s
            return PutBack(after_s, "reconcile: TimelinesAI unavailable")
        first_day = self._schedule.day_of(started) if item.step == 0 else None
        if found is not None:
            self._record(item, sequence, found, now)
            if first_day is not None:
                self._schedule.count_on_the_day_sent(
                    self._store, item.phone_id or "", first_day, found.timestamp or now
                )
            return Done("reconciled: it had been sent")
        waited = (now - started).total_seconds()
        if waited < self._settings.worker.reconcile_after_s:
            return PutBack(self._settings.worker.reconcile_after_s - waited, "reconcile later")
        # Not in the chat history long after the attempt: it never went out.
        again = StepState.QUEUED if running else StepState.DUE
        self._store.let_go(item, now=now, step_state=again, quota_back=first_day)
        if not running:
            return Done("the step in flight when the enrollment ended never went out")
        return None

    def _record(self, item: WorkItem, sequence: Sequence, found: Message, now: datetime) -> None:
        zone = decision.zone_of(sequence, item, self._settings.quota.timezone)
        closed = decision.closed_of(sequence, item)
        self._store.record(item, Sent(
            found.uid, found.text or "", decision.variant_of(sequence, item), "reconciled",
            found.chat_id, found.timestamp or now,
            self._schedule.next_due(sequence, item.step, zone, now, closed),
            self._schedule.next_send_at(now),
        ))  # fmt: skip

    def find_sent(
        self, item: WorkItem, started: datetime, texts: Collection[str] | None = None
    ) -> Message | None:
        """Our outbound message for this step in the lead's chat, if TimelinesAI has it.

        ``texts``, when given, are the step's possible texts, one of which must match
        exactly; otherwise any outbound message after ``started`` counts (the step's
        text is seeded and stable, but the template may have been edited since the
        attempt).
        """
        try:
            for chat_id in self._chat_ids(item):
                for message in self._client.iter_chat_messages(chat_id, from_me=True, order="desc"):
                    if message.timestamp is not None and message.timestamp < started - CLOCK_SKEW:
                        break
                    if texts is None or (message.text or "") in texts:
                        return message.model_copy(update={"chat_id": message.chat_id or chat_id})
        except TimelinesAIError as error:
            log.warning("reconciliation of enrollment %s failed: %s", item.enrollment_id, error)
            raise
        return None

    def _chat_ids(self, item: WorkItem) -> list[int]:
        if item.chat_id is not None:
            return [item.chat_id]
        account_id = self._account_id(item.phone_id)
        chats = self._client.find_chats(
            phone=item.lead_phone, account_ids=[account_id] if account_id else None
        )
        digits = (item.from_phone or "").lstrip("+")
        return [
            chat.id
            for chat in chats
            if account_id
            or not chat.whatsapp_account_id
            or chat.whatsapp_account_id.startswith(digits)
        ][:5]

    def _account_id(self, phone_id: str | None) -> str | None:
        if phone_id is None:
            return None
        try:
            return self._settings.phone(phone_id).account_id
        except KeyError:
            return None

    def account_connected(self, from_phone: str) -> bool:
        """Whether our sending number is connected; ``False`` when TimelinesAI can't say.

        Doubt counts as disconnected: an offline phone comes back with the next state
        sync, while a lead wrongly marked invalid is lost for good.
        """
        try:
            accounts = self._client.whatsapp_accounts()
        except TimelinesAIError:
            return False
        for account in accounts:
            if account.phone.lstrip("+") == from_phone.lstrip("+"):
                return bool(account.is_connected)
        return False


__all__ = ["MAX_MESSAGES_SCANNED", "Reconciler"]
