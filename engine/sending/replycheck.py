"""Before a follow-up: did the lead write after our last message? A reply is never lost.

The webhook stops a sequence the moment a reply arrives; this catches a reply whose
webhook never came. Before a follow-up is claimed, one bounded read of the chat,
``GET /chats/{id}/messages?from_me=false&after_message=<our last message>``, first page
only: any message in it is the lead's and newer than the last step we sent. Such a
reply is handed to the receiver's own handler, exactly as if its webhook had come
(stored once by uid, the enrollment ended), so the follow-up then finds nothing to
claim. An out-of-office notice found so postpones the follow-up instead (the receiver
makes the step due on the lead's return); one applied before (its webhook came, or an
earlier read found it) has had its postponement: the follow-up goes. A chat the engine
does not know yet (first messages come back without one)
is looked up by the lead's number first, and kept on the enrollment. Turned off by
``[replies] check_before_followup = false``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any

from engine.storage import WorkItem
from engine.timelinesai import ChatNotFound, MessageNotFound, TimelinesAIClient
from engine.webhook.errors import WebhookError
from engine.webhook.handlers import DUPLICATE, Outcome
from engine.webhook.payloads import Event, history_reply, parse_event

log = logging.getLogger("outreach.send")

OnInbound = Callable[[Event, dict[str, Any]], Outcome]
"""The receiver's handler (:meth:`engine.webhook.EventHandler.handle`)."""


class Found(StrEnum):
    """What the chat showed since our last message."""

    NOTHING = "nothing"
    """No message from the lead (or only an out-of-office notice applied before)."""
    REPLY = "reply"
    """The lead wrote: the sequence stops."""
    AWAY = "away"
    """A new out-of-office notice: the follow-up waits for the lead's return."""


class ReplyCheck:
    """Reads a lead's chat for a reply newer than our last message; one per worker process."""

    def __init__(
        self,
        client: TimelinesAIClient,
        on_inbound: OnInbound,
        account_ids: Mapping[str, str],
        remember_chat: Callable[[int, int], None],
    ) -> None:
        """``account_ids``: each phone's JID by phone id, to find a chat by number;
        ``remember_chat(enrollment_id, chat_id)`` keeps a chat found so, for next time."""
        self._client = client
        self._on_inbound = on_inbound
        self._account_ids = account_ids
        self._remember_chat = remember_chat

    def read(self, item: WorkItem) -> Found:
        """What the lead wrote after our last message; a message found is applied as its
        webhook would have been (once: a reply already stored is not stored again).

        Nothing to compare with (no earlier message of ours recorded with its uid) or a
        chat or message TimelinesAI no longer knows: nothing, the follow-up goes. Other
        API errors propagate; the caller decides.
        """
        if item.previous_uid is None:
            return Found.NOTHING
        try:
            chat_id = item.chat_id or self._find_chat(item)
            if chat_id is None:
                return Found.NOTHING
            messages = self._client.iter_chat_messages(
                chat_id, from_me=False, after_message=item.previous_uid
            )
            newer = next(iter(messages), None)  # the first page is the only request
        except (ChatNotFound, MessageNotFound):
            return Found.NOTHING
        if newer is None:
            return Found.NOTHING
        # Whose chat it is, we know: the lead's (its number may be written otherwise there).
        payload = history_reply(
            uid=newer.uid, chat_id=chat_id, text=newer.text, sender_phone=item.lead_phone,
            recipient_phone=item.from_phone or newer.recipient_phone,
            timestamp=newer.timestamp, source="followup_check",
        )  # fmt: skip
        try:
            outcome = self._on_inbound(parse_event(payload), payload)
        except WebhookError as error:  # the lead did write: the caller still stops the lead
            log.warning("a reply found in chat %s was not stored: %s", chat_id, error)
            return Found.REPLY
        if outcome.away and outcome.result == DUPLICATE:
            return Found.NOTHING  # postponed when it came; the lead is back now
        found = Found.AWAY if outcome.away else Found.REPLY
        log.info(
            "enrollment %s: the lead wrote%s after step %d (no webhook had said so); step %d %s",
            item.enrollment_id, " an out-of-office notice" if outcome.away else "",
            item.step, item.step + 1,
            "waits for its return" if outcome.away else "is not sent",
        )  # fmt: skip
        return found

    def _find_chat(self, item: WorkItem) -> int | None:
        jid = self._account_ids.get(item.phone_id or "")
        if jid is None:
            return None
        found = self._client.find_chat(item.lead_phone, jid)
        if found is not None:
            self._remember_chat(item.enrollment_id, found)
        return found
