"""Classifying a stored reply: its class and intents, a review flag, an automatic answer,
notifications.

Runs on the ``replies`` queue after the webhook has answered. Idempotent: the
message is claimed by a conditional UPDATE on ``classified_at IS NULL``, so a
duplicate Dramatiq delivery or a sweep's re-queue classifies a reply once. The
enrollment already ended (replied or opted out) in the webhook's own transaction.
An automatic answer (a rule's ``auto_reply``) is stored in the same transaction, due
at once; the dispatcher hands it to the phone's follow-up queue.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from engine.clock import Clock
from engine.db import Database
from engine.redact import mask_phone
from engine.replies.autoreply import AutoReplies
from engine.replies.notify import Notifier
from engine.replies.rules import Classification, ReplyRules
from engine.states import Direction
from engine.storage import autoreplies
from engine.storage.colleagues import held_colleagues
from engine.tables import E, L, M, R, insert_for

log = logging.getLogger("outreach.replies")


_LOAD = (
    select(
        M.c.id, M.c.direction, M.c.text, M.c.message_uid, M.c.lead_id, M.c.enrollment_id,
        M.c.peer_phone, M.c.classified_at, M.c.sent_at, L.c.phone, E.c.sequence, E.c.state,
        M.c.phone_id, M.c.chat_id, L.c.variables, E.c.phone_id.label("enrollment_phone_id"),
        E.c.chat_id.label("enrollment_chat_id"),
    )
    .select_from(M.outerjoin(L, L.c.id == M.c.lead_id).outerjoin(E, E.c.id == M.c.enrollment_id))
    .where(M.c.id == bindparam("b_id"))
)  # fmt: skip
_CLAIM = (
    update(M)
    .where(M.c.id == bindparam("b_id"), M.c.classified_at.is_(None))
    .values(intent=bindparam("b_label"), intents=bindparam("b_intents"),
            classified_at=bindparam("b_now"))
)  # fmt: skip


@dataclass
class ReplyClassifier:
    """Classifies replies by message id; one per worker process, shared by threads."""

    database: Database
    rules: ReplyRules
    clock: Clock
    notifier: Notifier
    answers: AutoReplies | None = None

    def classify(self, message_id: int) -> Classification | None:
        """Classify one stored reply; ``None`` when it is gone, not a reply, or done already."""
        with self.database.engine.connect() as connection:
            row = connection.execute(_LOAD, {"b_id": message_id}).first()
        if row is None or row.direction != Direction.IN or row.classified_at is not None:
            return None
        result = self.rules.classify(row.text or "")
        now = self.clock.now()
        with self.database.engine.begin() as connection:
            params = {"b_id": message_id, "b_label": result.label,
                      "b_intents": list(result.intents) or None, "b_now": now}  # fmt: skip
            if connection.execute(_CLAIM, params).rowcount != 1:
                return None
            if result.review_priority > 0:
                _flag(connection, row, result, now)
            if self.answers:
                self._answer(connection, row, result, now)
        log.info(
            "reply %s from %s classified %s", row.message_uid, mask_phone(row.peer_phone),
            result.label,
        )  # fmt: skip
        for rule, url in self.rules.notify_urls(result).items():
            self.notifier.post(url, _notification(rule, result, row))
        return result

    def _answer(
        self, connection: Connection, row: Any, result: Classification, now: datetime
    ) -> None:
        """Store the automatic answer this reply gets, if any (at most one per lead)."""
        assert self.answers is not None
        phone_id = row.phone_id or row.enrollment_phone_id
        if row.lead_id is None or phone_id is None:
            return  # an unknown sender, or a phone we cannot answer from
        answer = self.answers.answer(result, row.variables or {}, seed=f"auto:{row.id}")
        if answer is None:
            return
        # The enrollment's chat is this phone's only if the reply came to the enrollment's phone.
        chat_id = row.chat_id
        if chat_id is None and phone_id == row.enrollment_phone_id:
            chat_id = row.enrollment_chat_id
        created = autoreplies.create(
            connection, lead_id=row.lead_id, message_id=row.id, enrollment_id=row.enrollment_id,
            phone_id=phone_id, chat_id=chat_id, rule=answer.rule, text=answer.text, now=now,
        )  # fmt: skip
        if created is not None:
            log.info("reply %s: automatic answer (%s) due from phone %s", row.id, answer.rule,
                     phone_id)  # fmt: skip


def _flag(connection: Connection, row: Any, result: Classification, now: datetime) -> None:
    """Raise the reply's review flag (one per message); it lists the colleagues whose
    sequences the reply paused or stopped (``reasons.company_held``)."""
    insert = insert_for(connection)
    reasons: dict[str, Any] = {"label": result.label, "matched": _lists(result)}
    held = [] if row.lead_id is None else held_colleagues(connection, row.lead_id)
    if held:
        reasons["company_held"] = held
    values = {
        "message_id": row.id,
        "lead_id": row.lead_id,
        "enrollment_id": row.enrollment_id,
        "priority": result.review_priority,
        "reasons": reasons,
        "created_at": now,
    }
    connection.execute(
        insert(R).values(**values).on_conflict_do_nothing(index_elements=["message_id"])
    )


def _lists(result: Classification) -> dict[str, list[str]]:
    return {rule: list(found) for rule, found in result.matched.items()}


def _notification(rule: str, result: Classification, row: Any) -> dict[str, Any]:
    return {
        "event": "reply",
        "rule": rule,
        "class": result.label,
        "intents": list(result.intents),
        "matched": _lists(result),
        "review_priority": result.review_priority,
        "message_id": row.id,
        "message_uid": row.message_uid,
        "text": row.text,
        "lead_id": row.lead_id,
        "phone": row.phone or row.peer_phone,
        "enrollment_id": row.enrollment_id,
        "sequence": row.sequence,
        "enrollment_state": row.state,
        "received_at": row.sent_at.isoformat() if row.sent_at else None,
    }
