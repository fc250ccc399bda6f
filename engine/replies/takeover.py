"""A ``message:sent:new`` the engine has no record of: ours in flight, or a person typing?

Checked a few seconds after the event (``[webhook] takeover_check_after_s``) so the
engine's own sender has recorded its send by then. A message is the engine's when
its uid is recorded, when TimelinesAI says it came through the API, or (when the
event says nothing of its origin) when it has the text of a recorded send or the
lead's step is still being sent. Anything else was typed by a person in the shared
inbox: it is stored, and with ``manual_takeover = "stop"`` the lead's sequence ends
``stopped`` (reason ``manual_takeover``) under the phone's lease, as a reply does.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from sqlalchemy import Connection, exists, select

from engine.clock import Clock
from engine.db import Database
from engine.models import Direction, EnrollmentState, StepState
from engine.sending.store import E, content_hash
from engine.settings import Settings
from engine.webhook import store
from engine.webhook.errors import PhoneBusyError
from engine.webhook.handlers import phone_ids_by_number
from engine.webhook.payloads import MessageEvent, parse_event
from phones.lease import Lease
from sequences import EndReason

log = logging.getLogger("outreach.replies")

LEASE_POLL_S = 0.02
OURS, MANUAL, STOPPED, GONE = "ours", "manual", "stopped", "gone"


@dataclass
class TakeoverCheck:
    """Decides unknown sent messages; one per worker process."""

    database: Database
    settings: Settings
    clock: Clock
    lease: Lease

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
            target = store.find_target(connection, event.peer_phone, event.chat_id, receiving)
            if known or self._looks_like_ours(connection, event, target):
                store.mark_processed(connection, event_id, now, None if known else "engine send")
                return OURS
            store.insert_message(
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
        self, connection: Connection, event: MessageEvent, target: store.Target
    ) -> bool:
        if event.origin is not None:
            return event.origin.strip().lower() == "api"
        if target.lead_id is None:
            return False
        return bool(
            connection.execute(
                select(
                    exists().where(
                        store.M.c.lead_id == target.lead_id,
                        store.M.c.direction == Direction.OUT,
                        store.M.c.content_hash == content_hash(event.text),
                    )
                    | exists().where(
                        E.c.lead_id == target.lead_id, E.c.step_state == StepState.SENDING
                    )
                )
            ).scalar()
        )

    def _stop(self, target: store.Target, event: MessageEvent) -> bool:
        """End the running enrollment under its phone's lease; ``True`` if this ended it."""
        for _ in range(3):
            token = self._wait_for_lease(target.phone_id) if target.phone_id else None
            try:
                with self.database.engine.begin() as connection:
                    done = store.end_enrollment(
                        connection, target, state=EnrollmentState.STOPPED,
                        reason=EndReason.MANUAL_TAKEOVER, chat_id=event.chat_id,
                        now=self.clock.now(),
                    )  # fmt: skip
            finally:
                if token is not None and target.phone_id is not None:
                    self.lease.release(target.phone_id, token)
            if done is not None:
                return done
            with self.database.engine.connect() as connection:
                target = store.find_target(connection, event.peer_phone, event.chat_id, None)
            if not target.running:
                return False
        return False

    def _wait_for_lease(self, phone_id: str) -> str:
        """The phone's lease; a lease held past its TTL has expired, so this wait ends."""
        deadline = time.monotonic() + self.settings.worker.lease_ttl_s
        while True:
            token = self.lease.acquire(phone_id)
            if token is not None:
                return token
            if time.monotonic() >= deadline:
                raise PhoneBusyError(f"phone {phone_id} stayed busy; the check is retried")
            time.sleep(LEASE_POLL_S)
