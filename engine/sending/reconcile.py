"""Was it sent? Answers from TimelinesAI's own records, never by sending again.

A step found in ``sending`` (its sender crashed, or the answer never came) is
looked up in the lead's chat: an outbound message with the step's exact text,
sent after the attempt started, means it went out (design invariant 4).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from engine.sending.store import WorkItem
from engine.settings import Settings
from engine.timelinesai import Message, TimelinesAIClient, TimelinesAIError

log = logging.getLogger("outreach.reconcile")

# TimelinesAI stamps a message with its own clock: allow for skew against ours.
CLOCK_SKEW = timedelta(minutes=2)
MAX_MESSAGES_SCANNED = 200


class Reconciler:
    """Looks sends up in TimelinesAI's chat histories and account states."""

    def __init__(self, client: TimelinesAIClient, settings: Settings) -> None:
        self._client = client
        self._settings = settings

    def find_sent(
        self, item: WorkItem, started: datetime, text: str | None = None
    ) -> Message | None:
        """Our outbound message for this step in the lead's chat, if TimelinesAI has it.

        ``text``, when given, must match exactly; otherwise any outbound message
        after ``started`` counts (the step's text is seeded and stable, but the
        template may have been edited since the attempt).
        """
        try:
            for chat_id in self._chat_ids(item):
                for message in self._client.iter_chat_messages(chat_id, from_me=True, order="desc"):
                    if message.timestamp is not None and message.timestamp < started - CLOCK_SKEW:
                        break
                    if text is None or (message.text or "") == text:
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
