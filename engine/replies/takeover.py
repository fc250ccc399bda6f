"""A ``message:sent:new`` the engine has no record of: ours in flight, or a person typing?

Checked a few seconds after the event (``[webhook] takeover_check_after_s``) so the
engine's own sender has recorded its send by then. A message is the engine's when
its uid is recorded, when TimelinesAI says it came through the API, or (when the
event says nothing of its origin) when it has the text of a recorded send or the
lead's step is still being sent. Anything else was typed by a person in the shared
inbox: it is stored, and with ``manual_takeover = "stop"`` the lead's sequence ends
``stopped`` (reason ``manual_takeover``) the way a reply ends it: in one transaction
that waits for no phone, after which no step of the lead is claimed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import Connection, exists, select

from engine.clock import Clock
from engine.db import Database
from engine.settings import Settings
from engine.states import Direction, StepState
from engine.storage import content_hash, replies
from engine.tables import E, M
from engine.webhook import store
from engine.webhook.handlers import phone_ids_by_number
from engine.webhook.payloads import MessageEvent, parse_event
from sequences import EndReason

log = logging.getLogger("outreach.replies")

OURS, MANUAL, STOPPED, GONE = "ours", "manual", "stopped", "gone"


@dataclass
class TakeoverCheck:
    """Decides unknown sent messages; one per worker process."""

    database: Database
    settings: Settings
    clock: Clock

    def check(self, event_id: int) -> str:
        """Decide one stored ``message:sent:new`` event: ours, manual, or manual and stopped."""
        with self.database.engine.connect() as connection:
            stored = store.event_payload(connection, event_id)
        if stored is None or stored[2]:
            return GONE
        event = parse_event(stored[1])
        if not isinstance(event, MessageEvent):
            return GONE
        now = self.clock.now()
        with self.database.engine.begin() as connection:
            known, _ = store.confirm_sent(
                connection, event.message_uid, event.chat_id, event.timestamp or now
            )
            receiving = phone_ids_by_number(self.settings).get(event.account_phone or "")
            target = replies.find_target(connection, event.peer_phone, event.chat_id, receiving)
            if known or self._looks_like_ours(connection, event, target):
                store.mark_processed(connection, event_id, now, None if known else "engine send")
                return OURS
            replies.insert_message(
                connection, direction=Direction.OUT, enrollment_id=target.enrollment_id,
                lead_id=target.lead_id, phone_id=receiving or target.phone_id,
                chat_id=event.chat_id, message_uid=event.message_uid, text=event.text,
                status="sent", sent_at=event.timestamp or now, created_at=now,
                peer_phone=event.peer_phone, origin=event.origin or "manual",
                content_hash=content_hash(event.text),
            )  # fmt: skip
            if self.settings.webhook.manual_takeover != "stop" or not target.running:
                store.mark_processed(connection, event_id, now, "manual message")
                return MANUAL
        stopped = self._stop(target, event)
        with self.database.engine.begin() as connection:
            store.mark_processed(connection, event_id, self.clock.now(), "manual takeover")
        log.info("enrollment %s: a person wrote to the lead (%s)", target.enrollment_id, stopped)
        return STOPPED if stopped else MANUAL

    def _looks_like_ours(
        self, connection: Connection, event: MessageEvent, target: replies.Target
    ) -> bool:
        if event.origin is not None:
            return event.origin.strip().lower() == "api"
        if target.lead_id is None:
            return False
        return bool(
            connection.execute(
                select(
                    exists().where(
                        M.c.lead_id == target.lead_id,
                        M.c.direction == Direction.OUT,
                        M.c.content_hash == content_hash(event.text),
                    )
                    | exists().where(
                        E.c.lead_id == target.lead_id, E.c.step_state == StepState.SENDING
                    )
                )
            ).scalar()
        )

    def _stop(self, target: replies.Target, event: MessageEvent) -> bool:
        """End the running enrollment; ``True`` if this call ended it."""
        if target.enrollment_id is None:
            return False
        with self.database.engine.begin() as connection:
            ended = replies.end_running(
                connection, target.enrollment_id, reason=EndReason.MANUAL_TAKEOVER,
                chat_id=event.chat_id, now=self.clock.now(),
            )  # fmt: skip
        return ended is not None
