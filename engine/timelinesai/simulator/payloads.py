"""The JSON the simulator answers and posts, in the shapes of the TimelinesAI API doc.

Timestamps use TimelinesAI's ``2023-06-18 15:19:23 +0300`` form at the configured
offset; status words use the configured case, as the real service varies it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from engine.timelinesai.simulator.config import SimulatorConfig, digits_of
from engine.timelinesai.simulator.records import (
    AccountRecord,
    ChatRecord,
    FileRecord,
    MessageRecord,
)
from engine.timelinesai.simulator.workspace import Workspace
from engine.timelinesai.timestamps import format_timestamp

# A ban shows in the account list as "disconnected": the API doc has no "banned" word.
_REPORTED_STATUS = {"active": "active", "disconnected": "disconnected", "banned": "disconnected"}
_CHAT_URL = "https://app.timelines.ai/chat/{id}/messages/"
# The workspace's one teammate: owner of every account, uploader of every file.
OWNER_NAME = "Simulated Owner"
OWNER_EMAIL = "owner@example.com"
# The spec names no delivery status for a message the contact wrote; this word (in the
# configured case) keeps the field a string, as the spec requires.
_RECEIVED = "received"


def _present(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` without its None values: the spec types optional fields as strings, not null."""
    return {key: value for key, value in data.items() if value is not None}


def ok(data: Any) -> dict[str, Any]:
    """TimelinesAI's success envelope."""
    return {"status": "ok", "data": data}


def error(message: str) -> dict[str, Any]:
    """TimelinesAI's error envelope."""
    return {"status": "error", "message": message}


def _cased(word: str, config: SimulatorConfig) -> str:
    return {"lower": word.lower(), "upper": word.upper(), "title": word.title()}[config.status_case]


def _when(moment: datetime | None, config: SimulatorConfig) -> str | None:
    return None if moment is None else format_timestamp(moment, config.utc_offset_minutes)


def status_history(
    message: MessageRecord, config: SimulatorConfig, now: datetime
) -> list[tuple[str, datetime]]:
    """The statuses an outgoing message has reached by ``now``: queued, sent, delivered, read."""
    if not message.from_me:
        return []
    delays = [("queued", 0.0), ("sent", config.sent_after_s)]
    if message.delivers:
        delays.append(("delivered", config.delivered_after_s))
        if message.read_receipts:
            delays.append(("read", config.read_after_s))
    steps = [(word, message.created_at + timedelta(seconds=delay)) for word, delay in delays]
    return [(_cased(word, config), at) for word, at in steps if at <= now]


def status_history_json(
    message: MessageRecord, config: SimulatorConfig, now: datetime
) -> list[dict[str, Any]]:
    """``GET /messages/{uid}/status_history``'s data."""
    return [
        {"status": word, "timestamp": _when(at, config)}
        for word, at in status_history(message, config, now)
    ]


def account_json(account: AccountRecord, config: SimulatorConfig) -> dict[str, Any]:
    """One entry of ``GET /whatsapp_accounts`` (``disconnected_on`` only once disconnected)."""
    return _present(
        {
            "id": account.config.account_id,
            "phone": account.phone,
            "status": _REPORTED_STATUS[account.status],
            "connected_on": _when(account.connected_on, config),
            "disconnected_on": _when(account.disconnected_on, config),
            "account_name": account.config.name or account.phone,
            "owner_name": OWNER_NAME,
            "owner_email": OWNER_EMAIL,
        }
    )


def chat_json(chat: ChatRecord, workspace: Workspace, config: SimulatorConfig) -> dict[str, Any]:
    """One chat of ``GET /chats``."""
    last = workspace.messages[chat.message_uids[-1]] if chat.message_uids else None
    return _present(
        {
            "id": chat.id,
            "name": chat.name,
            "phone": chat.phone,
            "jid": f"{digits_of(chat.phone)}@s.whatsapp.net",
            "whatsapp_account_id": workspace.account(chat.account_phone).config.account_id,
            "chat_url": _CHAT_URL.format(id=chat.id),
            "last_message_uid": last.uid if last else None,
            "last_message_timestamp": _when(last.created_at if last else None, config),
            "is_group": False,
            "labels": [chat.label] if chat.label else [],
            "read": chat.read,
            "closed": chat.closed,
            "created_timestamp": _when(chat.created_at, config),
            "chatgpt_autoresponse_enabled": False,
            "unattended": False,
            "photo": "",
            "is_allowed_to_message": workspace.account(chat.account_phone).status == "active",
        }
    )


def message_json(
    message: MessageRecord, workspace: Workspace, config: SimulatorConfig, now: datetime
) -> dict[str, Any]:
    """One message of a chat's history, or ``GET /messages/{uid}``."""
    chat = workspace.chats[message.chat_id]
    sender, recipient = _ends(message, chat)
    history = status_history(message, config, now)
    attachment = workspace.files.get(message.file_uid) if message.file_uid else None
    sender_name, recipient_name = _names(message, chat, workspace)
    timestamp = _when(message.created_at, config)
    status = history[-1][0] if history else None
    if not message.from_me:
        status = _cased(_RECEIVED, config)
    return _present(
        {
            "uid": message.uid,
            "chat_id": message.chat_id,
            "timestamp": timestamp,
            "received_timestamp": timestamp,
            "from_me": message.from_me,
            "text": message.text,
            "sender_phone": sender,
            "sender_name": sender_name,
            "recipient_phone": recipient,
            "recipient_name": recipient_name,
            "status": status,
            "message_type": "file" if attachment else "text",
            "has_attachment": attachment is not None,
            "attachment_url": _download_url(attachment) if attachment else None,
            "attachment_filename": attachment.filename if attachment else None,
            "origin": message.origin,
            "reply_to_uid": message.reply_to,
            "data": {},
            "created_by": "",
        }
    )


def _download_url(record: FileRecord) -> str:
    return f"https://files.example.invalid/{record.uid}/{record.filename}"


def _attachment_json(record: FileRecord) -> dict[str, Any]:
    return {
        "temporary_download_url": _download_url(record),
        "filename": record.filename,
        "size": record.size,
        "mimetype": record.mimetype,
    }


def file_json(record: FileRecord, config: SimulatorConfig) -> dict[str, Any]:
    """``POST /files``, ``POST /files_upload`` and ``GET /files``' data for one file."""
    return {
        "uid": record.uid,
        **_attachment_json(record),
        "uploaded_by_email": OWNER_EMAIL,
        "uploaded_at": _when(record.uploaded_at, config),
    }


def _ends(message: MessageRecord, chat: ChatRecord) -> tuple[str, str]:
    """(sender phone, recipient phone) of a message."""
    if message.from_me:
        return chat.account_phone, chat.phone
    return chat.phone, chat.account_phone


def _names(message: MessageRecord, chat: ChatRecord, workspace: Workspace) -> tuple[str, str]:
    """(sender name, recipient name) of a message: the contact's chat name and our account's."""
    account = workspace.account(chat.account_phone)
    ours = account.config.name or account.phone
    return (ours, chat.name) if message.from_me else (chat.name, ours)


def message_event(
    event_type: str, message: MessageRecord, workspace: Workspace, config: SimulatorConfig
) -> dict[str, Any]:
    """A ``message:*`` webhook body, nested (the spec's) or flat (older examples')."""
    chat = workspace.chats[message.chat_id]
    sender, recipient = _ends(message, chat)
    sender_name, recipient_name = _names(message, chat, workspace)
    timestamp = _when(message.created_at, config)
    attachment = workspace.files.get(message.file_uid) if message.file_uid else None
    if config.payload_form == "flat":
        data = {
            "chat_id": chat.id,
            "from_me": message.from_me,
            "text": message.text,
            "message_uid": message.uid,
            "phone": chat.phone,
            "whatsapp_account_phone": chat.account_phone,
            "timestamp": timestamp,
        }
        return {"event_type": event_type, "data": data}
    account = workspace.account(chat.account_phone)
    return {
        "event_type": event_type,
        "chat": {
            "chat_id": chat.id,
            "full_name": chat.name,
            "phone": chat.phone,
            "chat_url": _CHAT_URL.format(id=chat.id),
            "is_group": False,
        },
        "whatsapp_account": {
            "phone": account.phone,
            "full_name": account.config.name or account.phone,
            "email": OWNER_EMAIL,
        },
        "message": _present(
            {
                "message_uid": message.uid,
                "text": message.text,
                "direction": "sent" if message.from_me else "received",
                "origin": message.origin,
                "timestamp": timestamp,
                "received_timestamp": timestamp,
                "reply_to_uid": message.reply_to,
                "sender": {"full_name": sender_name, "phone": sender},
                "recipient": {"full_name": recipient_name, "phone": recipient},
                "attachments": [_attachment_json(attachment)] if attachment else [],
            }
        ),
    }


def account_event(
    event_type: str, account: AccountRecord, config: SimulatorConfig
) -> dict[str, Any]:
    """A ``whatsapp:account:*`` webhook body."""
    return {"event_type": event_type, "whatsapp_account": account_json(account, config)}
