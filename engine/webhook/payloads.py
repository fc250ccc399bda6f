"""TimelinesAI webhook bodies, both layouts, parsed into typed events with clear reasons.

Message events come nested (``chat``, ``whatsapp_account``, ``message``: the spec's
form) or flat (``data``: older examples' form); account events carry a
``whatsapp_account`` object. :func:`parse_body` turns bytes into a JSON object or
raises :class:`BadBodyError` (400); :func:`parse_event` turns that object into an event or
raises :class:`PayloadError` (422) naming the field. Every string that reaches the
database is cleaned (:mod:`engine.webhook.sanitize`), so bad input can never become a
database error.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from engine.numbers import from_provider
from engine.states import PhoneState
from engine.timelinesai import parse_timestamp
from engine.webhook.errors import BadBodyError, PayloadError
from engine.webhook.sanitize import clean_payload

MESSAGE_RECEIVED = "message:received:new"
MESSAGE_SENT = "message:sent:new"
ACCOUNT_STATES: Mapping[str, str] = {
    "whatsapp:account:connected": PhoneState.ACTIVE,
    "whatsapp:account:resumed": PhoneState.ACTIVE,
    "whatsapp:account:disconnected": PhoneState.OFFLINE,
    "whatsapp:account:suspended": PhoneState.BANNED,
}
HANDLED_EVENT_TYPES = (MESSAGE_RECEIVED, MESSAGE_SENT, *ACCOUNT_STATES)
MAX_UID_CHARS = 64
MAX_ATTACHMENTS = 20
_MAX_CHAT_ID = 2**63 - 1


@dataclass(frozen=True)
class Attachment:
    """An attachment's metadata (the file itself stays with TimelinesAI)."""

    filename: str | None
    size: int | None
    mimetype: str | None
    url: str | None

    def to_json(self) -> dict[str, Any]:
        return {"filename": self.filename, "size": self.size, "mimetype": self.mimetype,
                "url": self.url}  # fmt: skip


@dataclass(frozen=True)
class MessageEvent:
    """A message of one of our chats: a lead's reply, or one we (or a person) sent."""

    event_type: str
    message_uid: str
    text: str
    from_me: bool
    chat_id: int | None
    peer_phone: str | None
    account_phone: str | None
    timestamp: datetime | None
    origin: str | None
    attachments: tuple[Attachment, ...] = ()

    @property
    def dedupe_key(self) -> str:
        return f"{self.event_type}:{self.message_uid}"


@dataclass(frozen=True)
class AccountEvent:
    """One of our WhatsApp accounts changed state; ``state`` is the phone state it means."""

    event_type: str
    state: str
    account_id: str | None
    phone: str | None
    status: str | None
    dedupe_key: str


@dataclass(frozen=True)
class OtherEvent:
    """An event type the engine does not act on (answered 200 and logged)."""

    event_type: str


Event = MessageEvent | AccountEvent | OtherEvent


def parse_body(raw: bytes) -> dict[str, Any]:
    """The JSON object in ``raw``, with strings cleaned and non-finite numbers dropped."""
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as error:
        raise BadBodyError(f"the body is not JSON: {str(error)[:120]}") from None
    if not isinstance(body, dict):
        raise BadBodyError("the body must be a JSON object")
    return clean_payload(body)


def parse_event(body: Mapping[str, Any]) -> Event:
    """The typed event of a webhook body; :class:`PayloadError` says what is wrong."""
    event_type = body.get("event_type")
    if event_type is None:
        raise PayloadError("event_type is required")
    if not isinstance(event_type, str):
        raise PayloadError("event_type must be a string")
    if event_type in (MESSAGE_RECEIVED, MESSAGE_SENT):
        return _message_event(event_type, body)
    if event_type in ACCOUNT_STATES:
        return _account_event(event_type, body)
    return OtherEvent(event_type)


def history_reply(
    *, uid: str, chat_id: int, text: str | None, sender_phone: str | None,
    recipient_phone: str | None, timestamp: datetime | None, source: str,
) -> dict[str, Any]:  # fmt: skip
    """A ``message:received:new`` body (flat form) for a reply read from a chat's history.

    Handed to the receiver's own handler, it is applied as the webhook would have been,
    and deduplicated with it on the message uid. ``source`` says who found it.
    """
    payload = {
        "event_type": MESSAGE_RECEIVED,
        "source": source,
        "data": {
            "message_uid": uid, "chat_id": chat_id, "text": text or "", "from_me": False,
            "phone": sender_phone, "whatsapp_account_phone": recipient_phone,
            "timestamp": timestamp.isoformat() if timestamp else None,
        },
    }  # fmt: skip
    return clean_payload(payload)


# Message events ---------------------------------------------------------------------


def _message_event(event_type: str, body: Mapping[str, Any]) -> MessageEvent:
    from_me = event_type == MESSAGE_SENT
    if isinstance(body.get("message"), dict):
        return _nested(event_type, body, from_me)
    if isinstance(body.get("data"), dict):
        return _flat(event_type, body["data"], from_me)
    raise PayloadError("expected a 'message' object (nested form) or a 'data' object (flat form)")


def _nested(event_type: str, body: Mapping[str, Any], from_me: bool) -> MessageEvent:
    message = body["message"]
    chat = _object(body, "chat")
    account = _object(body, "whatsapp_account")
    sender = _object(message, "sender", "message.sender")
    recipient = _object(message, "recipient", "message.recipient")
    peer, ours = (recipient, sender) if from_me else (sender, recipient)
    prefix = "message."
    chat_id = _chat_id(chat, "chat_id", "chat.") or _chat_id(message, "chat_id", prefix)
    peer_phone = _phone(peer, "phone", "message.recipient." if from_me else "message.sender.")
    return _finish(
        event_type, from_me, message, prefix,
        chat_id=chat_id or _chat_id(chat, "id", "chat."),
        peer_phone=peer_phone or _phone(chat, "phone", "chat."),
        account_phone=_phone(account, "phone", "whatsapp_account.")
        or _phone(ours, "phone", "message.sender." if from_me else "message.recipient."),
    )  # fmt: skip


def _flat(event_type: str, data: Mapping[str, Any], from_me: bool) -> MessageEvent:
    prefix = "data."
    peer_key, ours_key = (
        ("recipient_phone", "sender_phone") if from_me else ("sender_phone", "recipient_phone")
    )
    return _finish(
        event_type, from_me, data, prefix,
        chat_id=_chat_id(data, "chat_id", prefix),
        peer_phone=_phone(data, "phone", prefix) or _phone(data, peer_key, prefix),
        account_phone=_phone(data, "whatsapp_account_phone", prefix)
        or _phone(data, ours_key, prefix)
        or _phone(data, "whatsapp_account_id", prefix),
    )  # fmt: skip


def _finish(
    event_type: str, from_me: bool, message: Mapping[str, Any], prefix: str, *,
    chat_id: int | None, peer_phone: str | None, account_phone: str | None,
) -> MessageEvent:  # fmt: skip
    uid = _string(message, "message_uid", prefix) or _string(message, "uid", prefix)
    if not uid:
        raise PayloadError(f"{prefix}message_uid is required")
    if len(uid) > MAX_UID_CHARS:
        raise PayloadError(f"{prefix}message_uid is longer than {MAX_UID_CHARS} characters")
    if chat_id is None and peer_phone is None:
        raise PayloadError("neither a chat id nor a usable contact phone number is given")
    return MessageEvent(
        event_type=event_type,
        message_uid=uid,
        text=_string(message, "text", prefix) or "",
        from_me=from_me,
        chat_id=chat_id,
        peer_phone=peer_phone,
        account_phone=account_phone,
        timestamp=_timestamp(message, prefix),
        origin=(_string(message, "origin", prefix) or "")[:32] or None,
        attachments=_attachments(message, prefix),
    )


def _attachments(message: Mapping[str, Any], prefix: str) -> tuple[Attachment, ...]:
    items = message.get("attachments")
    if items is None:
        url = _string(message, "attachment_url", prefix)
        return (Attachment(None, None, None, url),) if url else ()
    if not isinstance(items, list):
        raise PayloadError(f"{prefix}attachments must be a list")
    found = []
    for index, item in enumerate(items[:MAX_ATTACHMENTS]):
        where = f"{prefix}attachments[{index}]."
        if not isinstance(item, dict):
            raise PayloadError(f"{where[:-1]} must be an object")
        size = item.get("size")
        if size is not None and (not isinstance(size, int) or isinstance(size, bool)):
            raise PayloadError(f"{where}size must be an integer")
        url = _string(item, "temporary_download_url", where) or _string(item, "url", where)
        found.append(
            Attachment(
                _string(item, "filename", where), size, _string(item, "mimetype", where), url
            )
        )
    return tuple(found)


def _timestamp(message: Mapping[str, Any], prefix: str) -> datetime | None:
    value = message.get("timestamp")
    if value is None or value == "":
        return None
    try:
        return parse_timestamp(value).astimezone(UTC)
    except (ValueError, TypeError, OverflowError, OSError):
        raise PayloadError(f"{prefix}timestamp {str(value)[:40]!r} is not a timestamp") from None


# Account events ----------------------------------------------------------------------


def _account_event(event_type: str, body: Mapping[str, Any]) -> AccountEvent:
    account = body.get("whatsapp_account")
    if account is None:
        account = body.get("data")
    if not isinstance(account, dict):
        raise PayloadError("whatsapp_account must be an object")
    prefix = "whatsapp_account."
    account_id = _string(account, "id", prefix)
    phone = _phone(account, "phone", prefix) or (from_provider(account_id) if account_id else None)
    if phone is None:
        raise PayloadError("whatsapp_account has neither a usable phone nor an id")
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:40]
    return AccountEvent(
        event_type=event_type,
        state=ACCOUNT_STATES[event_type],
        account_id=account_id[:64] if account_id else None,
        phone=phone,
        status=(_string(account, "status", prefix) or "")[:32] or None,
        dedupe_key=f"{event_type}:{digest}",
    )


# Fields ------------------------------------------------------------------------------


def _object(parent: Mapping[str, Any], key: str, name: str | None = None) -> Mapping[str, Any]:
    value = parent.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PayloadError(f"{name or key} must be an object")
    return value


def _string(parent: Mapping[str, Any], key: str, prefix: str) -> str | None:
    value = parent.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise PayloadError(f"{prefix}{key} must be a string")
    return str(value)


def _chat_id(parent: Mapping[str, Any], key: str, prefix: str) -> int | None:
    value = parent.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= _MAX_CHAT_ID:
        raise PayloadError(f"{prefix}{key} must be a positive integer")
    return value


def _phone(parent: Mapping[str, Any], key: str, prefix: str) -> str | None:
    value = parent.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise PayloadError(f"{prefix}{key} must be a phone number string")
    return from_provider(str(value))
