"""The parts of TimelinesAI's answers that the engine and the simulator rely on, as JSON Schema.

Written by us from the public spec (``openapi/public_api_spec.yaml`` and
``openapi/webhook_spec.yaml`` of TimelinesAI's docs repository): for each call we use,
the fields the spec marks required plus every field the engine reads, with their
types. It is a subset: any other field may come and go. docs/providers/timelinesai.md
lists the same facts with the spec's schema name and line for each. The name of the
spec schema a subset restates is given beside it.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

STRING: Schema = {"type": "string"}
INTEGER: Schema = {"type": "integer"}
BOOLEAN: Schema = {"type": "boolean"}


def record(required: dict[str, Schema], optional: dict[str, Schema] | None = None) -> Schema:
    """An object that must have ``required``; ``optional`` fields, when there, have their type."""
    return {
        "type": "object",
        "required": sorted(required),
        "properties": {**required, **(optional or {})},
    }


def envelope(data: Schema) -> Schema:
    """Every successful answer: ``{"status": "ok", "data": ...}``."""
    return record({"status": {"const": "ok"}, "data": data})


def listing(key: str, item: Schema) -> Schema:
    """A paginated list: ``{"has_more_pages": bool, "<key>": [item, ...]}``."""
    return record({"has_more_pages": BOOLEAN, key: {"type": "array", "items": item}})


# ErrorResponse: every refusal carries the error envelope.
ERROR: Schema = record({"status": {"const": "error"}, "message": STRING})

# MessageSendResponse / MessageID: a send answers the new message's uid.
SENT: Schema = envelope(record({"message_uid": STRING}))

# FileInfoShort (GET /files items) and FileInfo (one file, with its download URL).
FILE_SHORT: Schema = record(
    {
        "uid": STRING,
        "filename": STRING,
        "size": INTEGER,
        "mimetype": STRING,
        "uploaded_by_email": STRING,
        "uploaded_at": STRING,
    }
)
FILE: Schema = record({**FILE_SHORT["properties"], "temporary_download_url": STRING})
ONE_FILE: Schema = envelope(FILE)
FILES: Schema = envelope({"type": "array", "items": FILE_SHORT})

# ChatInfo, as GET /chats lists it.
CHAT: Schema = record(
    {
        "id": INTEGER,
        "name": STRING,
        "jid": STRING,
        "is_group": BOOLEAN,
        "closed": BOOLEAN,
        "read": BOOLEAN,
        "labels": {"type": "array", "items": STRING},
        "chatgpt_autoresponse_enabled": BOOLEAN,
        "whatsapp_account_id": STRING,
        "chat_url": STRING,
        "created_timestamp": STRING,
        "unattended": BOOLEAN,
        "photo": STRING,
    },
    {"phone": STRING, "last_message_uid": STRING, "last_message_timestamp": STRING},
)
CHATS: Schema = envelope(listing("chats", CHAT))

# MessageInfo: a chat's history and GET /messages/{uid}.
MESSAGE: Schema = record(
    {
        "uid": STRING,
        "chat_id": INTEGER,
        "timestamp": STRING,
        "received_timestamp": STRING,
        "sender_phone": STRING,
        "sender_name": STRING,
        "recipient_phone": STRING,
        "recipient_name": STRING,
        "from_me": BOOLEAN,
        "status": STRING,
        "origin": STRING,
        "has_attachment": BOOLEAN,
        "message_type": STRING,
        "data": {"type": "object"},
        "created_by": STRING,
    },
    {"text": STRING, "attachment_url": STRING, "attachment_filename": STRING},
)
MESSAGES: Schema = envelope(listing("messages", MESSAGE))
ONE_MESSAGE: Schema = envelope(MESSAGE)

# MessageStatusHistoryRecord: each step a status word and when.
STATUS_HISTORY: Schema = envelope(
    {"type": "array", "items": record({"status": STRING, "timestamp": STRING})}
)

# WhatsappAccountItem: the status is reported as active or disconnected only.
ACCOUNT_FIELDS: dict[str, Schema] = {
    "id": STRING,
    "phone": STRING,
    "connected_on": STRING,
    "status": STRING,
    "owner_name": STRING,
    "owner_email": STRING,
    "account_name": STRING,
}
ACCOUNT: Schema = record(
    {**ACCOUNT_FIELDS, "status": {"enum": ["active", "disconnected"]}},
    {"disconnected_on": STRING},
)
ACCOUNTS: Schema = envelope(
    record({"whatsapp_accounts": {"type": "array", "items": ACCOUNT, "minItems": 1}})
)

# Quota inside WorkspaceInfo (GET /workspace): the month's messages, total and used.
QUOTA: Schema = record({"total": INTEGER, "used": INTEGER})
WORKSPACE: Schema = envelope(
    record(
        {
            "workspace_id": STRING,
            "display_name": STRING,
            "plan": STRING,
            "messaging_quota": QUOTA,
            "api_calls_quota": QUOTA,
        }
    )
)

# WebhookInfo: one subscription.
WEBHOOK: Schema = record(
    {
        "id": INTEGER,
        "event_type": STRING,
        "enabled": BOOLEAN,
        "url": STRING,
        "errors_counter": INTEGER,
    }
)
ONE_WEBHOOK: Schema = envelope(WEBHOOK)
WEBHOOKS: Schema = envelope({"type": "array", "items": WEBHOOK})

# Webhook bodies (webhook_spec.yaml): MessageData and AccountData.
PARTY: Schema = record({"full_name": STRING}, {"phone": STRING})
ATTACHMENT: Schema = record(
    {"temporary_download_url": STRING, "filename": STRING, "size": INTEGER, "mimetype": STRING}
)
MESSAGE_EVENT: Schema = record(
    {
        "event_type": {"enum": ["message:new", "message:sent:new", "message:received:new"]},
        "chat": record(
            {
                "full_name": STRING,
                "chat_url": STRING,
                "chat_id": INTEGER,
                "is_group": BOOLEAN,
                "phone": STRING,
            },
            {"responsible_name": STRING, "responsible_email": STRING},
        ),
        "whatsapp_account": record({"full_name": STRING, "email": STRING, "phone": STRING}),
        "message": record(
            {
                "text": STRING,
                "direction": {"enum": ["sent", "received"]},
                "origin": STRING,
                "timestamp": STRING,
                "received_timestamp": STRING,
                "message_uid": STRING,
                "sender": PARTY,
                "recipient": PARTY,
            },
            {"reply_to_uid": STRING, "attachments": {"type": "array", "items": ATTACHMENT}},
        ),
    }
)
ACCOUNT_EVENT: Schema = record(
    {
        "event_type": {
            "enum": [
                "whatsapp:account:connected",
                "whatsapp:account:disconnected",
                "whatsapp:account:suspended",
                "whatsapp:account:resumed",
            ]
        },
        "whatsapp_account": record(ACCOUNT_FIELDS, {"disconnected_on": STRING}),
    }
)
