"""A lead's whole chat history from TimelinesAI, stored once per message uid.

``outreach chats history PHONE``: every chat of that number with any of our phones,
every page, oldest first. Messages already stored (by the webhook or the sender)
are kept as they are. Replies found here are classified for the reports but start
nothing (no review flag, no notification, no state change): they are history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from engine.db import Database
from engine.numbers import from_provider
from engine.replies.rules import ReplyRules
from engine.settings import Settings
from engine.states import Direction
from engine.storage import content_hash
from engine.tables import L, M, insert_for
from engine.timelinesai import Message, TimelinesAIClient
from engine.webhook.handlers import phone_ids_by_number
from engine.webhook.payloads import MAX_UID_CHARS
from engine.webhook.sanitize import clean_text

BATCH = 500


@dataclass(frozen=True)
class HistoryReport:
    """What one fetch found and stored."""

    lead_id: int | None
    chats: int
    messages: int
    stored: int


def fetch_chat_history(
    now: datetime, client: TimelinesAIClient, database: Database, settings: Settings, phone: str
) -> HistoryReport:
    """Fetch and store every message of ``phone``'s chats (``phone`` in E.164)."""
    with database.engine.connect() as connection:
        lead_id = connection.execute(select(L.c.id).where(L.c.phone == phone)).scalar()
    phone_ids = phone_ids_by_number(settings)
    rules = ReplyRules(settings.replies)
    rows: dict[str, dict[str, Any]] = {}
    chats = list(client.find_chats(phone=phone))
    for chat in chats:
        our_number = from_provider(chat.whatsapp_account_id or "") or ""
        for message in client.iter_chat_messages(chat.id, order="asc"):
            if message.uid and len(message.uid) <= MAX_UID_CHARS:
                rows[message.uid] = _row(
                    message, chat_id=chat.id, lead_id=lead_id,
                    phone_id=phone_ids.get(our_number), peer=phone, rules=rules, now=now,
                )  # fmt: skip
    stored = 0
    with database.engine.begin() as connection:
        uids = list(rows)
        for start in range(0, len(uids), BATCH):
            stored += _store(connection, [rows[uid] for uid in uids[start : start + BATCH]])
    return HistoryReport(lead_id, len(chats), len(rows), stored)


def _row(
    message: Message, *, chat_id: int, lead_id: int | None, phone_id: str | None, peer: str,
    rules: ReplyRules, now: datetime,
) -> dict[str, Any]:  # fmt: skip
    text = clean_text(message.text or "")
    inbound = not message.from_me
    label = rules.classify(text) if inbound else None
    attachment = {"url": message.attachment_url} if message.attachment_url else None
    return {
        "direction": Direction.IN if inbound else Direction.OUT,
        "lead_id": lead_id,
        "phone_id": phone_id,
        "chat_id": chat_id,
        "message_uid": message.uid,
        "text": text,
        "status": (message.status or ("received" if inbound else "sent"))[:16],
        "sent_at": message.timestamp or now,
        "created_at": now,
        "peer_phone": peer,
        "content_hash": None if inbound else content_hash(text),
        "attachments": [attachment] if attachment else None,
        "intent": label.label if label else None,
        "intents": list(label.intents) or None if label else None,
        "classified_at": now if inbound else None,
    }


def _store(connection: Connection, rows: list[dict[str, Any]]) -> int:
    """Insert the rows whose uid is new; how many that was."""
    known = set(
        connection.execute(
            select(M.c.message_uid).where(M.c.message_uid.in_([r["message_uid"] for r in rows]))
        ).scalars()
    )
    new = [row for row in rows if row["message_uid"] not in known]
    if new:
        insert = insert_for(connection)
        connection.execute(insert(M).on_conflict_do_nothing(index_elements=["message_uid"]), new)
    return len(new)
