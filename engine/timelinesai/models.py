"""Typed results of TimelinesAI calls.

Every model is frozen and ignores fields it does not know, so new fields on the
real API never break a parse. Timestamps are timezone-aware in whichever form
they came; status words are lowercased (compare with :class:`MessageStatus`).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field

from engine.timelinesai.timestamps import parse_timestamp


def _optional_timestamp(value: object) -> datetime | None:
    return None if value in (None, "") else parse_timestamp(value)


def _lowercase(value: object) -> object:
    return value.strip().lower() if isinstance(value, str) else value


def _none_as_false(value: object) -> object:
    return False if value is None else value


Timestamp = Annotated[datetime, BeforeValidator(parse_timestamp)]
OptionalTimestamp = Annotated[datetime | None, BeforeValidator(_optional_timestamp)]
StatusWord = Annotated[str, BeforeValidator(_lowercase)]
Flag = Annotated[bool, BeforeValidator(_none_as_false)]
WebhookId = int | str

# Account status words that mean "can send" and "taken away by WhatsApp".
_CONNECTED_WORDS = frozenset({"active", "connected"})
_BANNED_WORDS = frozenset({"banned", "blocked", "suspended"})


class MessageStatus(StrEnum):
    """The delivery states TimelinesAI reports, lowercase; a str, so ``==`` works on fields."""

    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", coerce_numbers_to_str=True)


class SentMessage(_Model):
    """A send TimelinesAI accepted (queued, not yet delivered)."""

    message_uid: str


class UploadedFile(_Model):
    """A file stored by TimelinesAI; send its ``uid`` as ``file_uid``."""

    uid: str
    filename: str | None = None
    size: int | None = None
    mimetype: str | None = None
    temporary_download_url: str | None = None


class Chat(_Model):
    """A chat between one of our WhatsApp accounts and one contact."""

    id: int
    name: str | None = None
    phone: str | None = None
    jid: str | None = None
    whatsapp_account_id: str | None = None
    chat_url: str | None = None
    last_message_uid: str | None = None
    last_message_timestamp: OptionalTimestamp = None
    is_group: Flag = False


class Message(_Model):
    """A message of a chat's history, or one looked up by uid."""

    uid: str = Field(validation_alias=AliasChoices("uid", "message_uid"))
    chat_id: int | None = None
    timestamp: OptionalTimestamp = None
    from_me: Flag = False
    text: str | None = None
    sender_phone: str | None = None
    recipient_phone: str | None = None
    status: Annotated[str | None, BeforeValidator(_lowercase)] = None
    message_type: str | None = None
    has_attachment: Flag = False
    attachment_url: str | None = None


class StatusChange(_Model):
    """One step of a message's delivery history."""

    status: StatusWord
    timestamp: Timestamp


class WhatsAppAccount(_Model):
    """One of the workspace's WhatsApp numbers; ``id`` is its JID."""

    id: str
    phone: str
    status: StatusWord
    connected_on: OptionalTimestamp = None
    account_name: str | None = None
    owner_email: str | None = None

    @property
    def is_connected(self) -> bool:
        """True when the account can send."""
        return self.status in _CONNECTED_WORDS

    @property
    def is_banned(self) -> bool:
        """True when the status itself says WhatsApp took the number away."""
        return self.status in _BANNED_WORDS


class WorkspaceQuotas(_Model):
    """The workspace's quotas as TimelinesAI reports them (their shape is not documented)."""

    raw: dict[str, Any]


class Webhook(_Model):
    """A webhook subscription: one event type delivered to one URL."""

    id: WebhookId
    event_type: str
    url: str
    enabled: Flag = True
    errors_counter: int | None = None
