"""The OpenAPI description of what TimelinesAI posts (both layouts), for ``/docs`` and fuzzing.

Documentation only: the receiver parses bodies itself (:mod:`engine.webhook.payloads`)
so that every malformed body gets a clear 400 or 422, never FastAPI's generic error.
"""

from __future__ import annotations

from typing import Any

from engine.webhook.payloads import ACCOUNT_STATES, MESSAGE_RECEIVED, MESSAGE_SENT

_STRING = {"type": "string"}
_PHONE = {
    "type": "string",
    "description": "E.164, with or without +",
    "examples": ["+40712345678", "40712345678", "+447700900001"],
}
_UID = {"type": "string", "format": "uuid", "minLength": 1, "maxLength": 64}
_PARTY = {"type": "object", "properties": {"full_name": _STRING, "phone": _PHONE}}
_ATTACHMENT = {
    "type": "object",
    "properties": {
        "temporary_download_url": _STRING,
        "filename": _STRING,
        "size": {"type": "integer", "minimum": 0},
        "mimetype": _STRING,
    },
}
_MESSAGE_TYPES = {"type": "string", "enum": [MESSAGE_RECEIVED, MESSAGE_SENT]}

NESTED_MESSAGE: dict[str, Any] = {
    "type": "object",
    "title": "Message event (nested form)",
    "required": ["event_type", "chat", "whatsapp_account", "message"],
    "properties": {
        "event_type": _MESSAGE_TYPES,
        "chat": {
            "type": "object",
            "required": ["chat_id", "phone"],
            "properties": {
                "chat_id": {"type": "integer", "minimum": 1},
                "full_name": _STRING,
                "phone": _PHONE,
                "chat_url": _STRING,
                "is_group": {"type": "boolean"},
            },
        },
        "whatsapp_account": {
            "type": "object",
            "required": ["phone"],
            "properties": {"phone": _PHONE, "full_name": _STRING, "email": _STRING},
        },
        "message": {
            "type": "object",
            "required": ["message_uid", "text"],
            "properties": {
                "message_uid": _UID,
                "text": {"type": "string", "examples": ["STOP", "Cât costă?", "Thanks"]},
                "direction": {"type": "string", "enum": ["sent", "received"]},
                "origin": _STRING,
                "timestamp": {"type": "string", "example": "2023-06-18 15:19:23 +0300"},
                "reply_to_uid": _STRING,
                "sender": _PARTY,
                "recipient": _PARTY,
                "attachments": {"type": "array", "items": _ATTACHMENT},
            },
        },
    },
}

FLAT_MESSAGE: dict[str, Any] = {
    "type": "object",
    "title": "Message event (flat form)",
    "required": ["event_type", "data"],
    "properties": {
        "event_type": _MESSAGE_TYPES,
        "data": {
            "type": "object",
            "required": ["message_uid", "chat_id"],
            "properties": {
                "chat_id": {"type": "integer", "minimum": 1},
                "from_me": {"type": "boolean"},
                "text": _STRING,
                "message_uid": _UID,
                "phone": _PHONE,
                "whatsapp_account_phone": _PHONE,
                "timestamp": _STRING,
            },
        },
    },
}

ACCOUNT: dict[str, Any] = {
    "type": "object",
    "title": "Account event",
    "required": ["event_type", "whatsapp_account"],
    "properties": {
        "event_type": {"type": "string", "enum": sorted(ACCOUNT_STATES)},
        "whatsapp_account": {
            "type": "object",
            "required": ["phone"],
            "properties": {
                "id": {"type": "string", "example": "40712345678@s.whatsapp.net"},
                "phone": _PHONE,
                "status": _STRING,
                "connected_on": _STRING,
                "disconnected_on": _STRING,
                "account_name": _STRING,
            },
        },
    },
}

REQUEST_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {"oneOf": [NESTED_MESSAGE, FLAT_MESSAGE, ACCOUNT]},
        }
    },
}


def _error(description: str) -> dict[str, Any]:
    schema = {"type": "object", "properties": {"detail": _STRING}}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "Taken (processed, a duplicate, or an event type not used)"},
    400: _error("The body is not a JSON object"),
    401: _error("The secret is missing or wrong; nothing was stored"),
    413: _error("The body is over 1 MB"),
    422: _error("A known event type with a malformed body; `detail` says which field"),
    503: _error("The database, Redis or the lead's phone is busy or down; retry"),
}
