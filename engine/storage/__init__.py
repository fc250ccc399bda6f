"""The storage family: what the engine's hot paths need of a database, and two ways to do it.

:mod:`engine.storage.base` states the contract (the data and the protocols). The
send path's store: :mod:`~engine.storage.sqlite` keeps it in plain statements (the
reference, and the embedded default's), :mod:`~engine.storage.postgres` with fused
statements. The receiver's: :mod:`~engine.storage.replies` (the reference) and
:mod:`~engine.storage.replies_postgres` (one statement). :func:`send_store` and
:func:`reply_store` pick the one for a database; nothing else asks which database it
talks to. Statements every implementation shares are in
:mod:`~engine.storage.statements`; those of automatic answers, in
:mod:`~engine.storage.autoreplies`; the dispatcher's, in :mod:`~engine.storage.dispatch`.
"""

from engine.db import Database
from engine.storage.base import (
    Applied,
    Claim,
    Hold,
    Quota,
    Reading,
    Reply,
    ReplyStore,
    Request,
    SendStore,
    Sent,
    WorkItem,
    content_hash,
    dispatch_id,
    queued_at_of,
)
from engine.storage.postgres import PostgresSendStore
from engine.storage.replies import SQLiteReplyStore
from engine.storage.replies_postgres import PostgresReplyStore
from engine.storage.sqlite import SQLiteSendStore

__all__ = [
    "Applied",
    "Claim",
    "Hold",
    "Quota",
    "Reading",
    "Reply",
    "ReplyStore",
    "Request",
    "SendStore",
    "Sent",
    "WorkItem",
    "content_hash",
    "dispatch_id",
    "queued_at_of",
    "reply_store",
    "send_store",
]


def send_store(database: Database) -> SendStore:
    """The send path's store for ``database``: fused statements on PostgreSQL."""
    if database.dialect == "postgresql":
        return PostgresSendStore(database)
    return SQLiteSendStore(database)


def reply_store(database: Database) -> ReplyStore:
    """The receiver's store for ``database``: one statement per reply on PostgreSQL."""
    if database.dialect == "postgresql":
        return PostgresReplyStore(database)
    return SQLiteReplyStore(database)
