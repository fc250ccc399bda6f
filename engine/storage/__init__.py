"""The storage family: what the engine's hot paths need of a database, and two ways to do it.

:mod:`engine.storage.base` states the contract (the data and the protocols),
:mod:`engine.storage.sqlite` keeps it in plain statements (the reference, and the
embedded default's), :mod:`engine.storage.postgres` keeps it with fused statements.
:func:`send_store` and :func:`reply_store` pick the one for a database; nothing else
asks which database it talks to.
"""

from engine.db import Database
from engine.storage.base import (
    Claim,
    Hold,
    Quota,
    Reading,
    Request,
    SendStore,
    Sent,
    WorkItem,
    content_hash,
    dispatch_id,
    queued_at_of,
)
from engine.storage.postgres import PostgresSendStore
from engine.storage.sqlite import SQLiteSendStore

__all__ = [
    "Claim",
    "Hold",
    "Quota",
    "Reading",
    "Request",
    "SendStore",
    "Sent",
    "WorkItem",
    "content_hash",
    "dispatch_id",
    "queued_at_of",
    "send_store",
]


def send_store(database: Database) -> SendStore:
    """The send path's store for ``database``: fused statements on PostgreSQL."""
    if database.dialect == "postgresql":
        return PostgresSendStore(database)
    return SQLiteSendStore(database)
