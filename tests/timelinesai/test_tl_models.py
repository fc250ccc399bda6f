"""Typed results tolerate TimelinesAI's variations: extra fields, case, timestamp forms."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from engine.timelinesai import (
    Chat,
    Message,
    MessageStatus,
    StatusChange,
    Webhook,
    WhatsAppAccount,
)


def test_message_reads_the_documented_fields_and_ignores_the_rest() -> None:
    message = Message.model_validate(
        {
            "uid": "m-1",
            "chat_id": "42",
            "timestamp": "2023-06-18 15:19:23 +0300",
            "from_me": True,
            "text": "hi",
            "sender_phone": 15550100001,
            "recipient_phone": "+40712345678",
            "status": "DELIVERED",
            "message_type": "text",
            "has_attachment": None,
            "attachment_url": None,
            "a_field_added_next_year": {"x": 1},
        }
    )
    assert message.chat_id == 42
    assert message.timestamp == datetime(2023, 6, 18, 12, 19, 23, tzinfo=UTC)
    assert message.status == MessageStatus.DELIVERED
    assert message.sender_phone == "15550100001"
    assert message.has_attachment is False


def test_message_uid_may_come_as_message_uid() -> None:
    assert Message.model_validate({"message_uid": "m-2"}).uid == "m-2"


def test_models_are_frozen() -> None:
    chat = Chat.model_validate({"id": 1})
    with pytest.raises(ValidationError):
        chat.id = 2  # type: ignore[misc]


def test_chat_tolerates_empty_and_missing_values() -> None:
    chat = Chat.model_validate({"id": 7, "last_message_timestamp": "", "is_group": None})
    assert chat.last_message_timestamp is None
    assert chat.is_group is False
    assert chat.phone is None


@pytest.mark.parametrize(
    ("status", "connected", "banned"),
    [
        ("active", True, False),
        ("Active", True, False),
        ("CONNECTED", True, False),
        ("disconnected", False, False),
        ("Suspended", False, True),
        ("banned", False, True),
        ("something new", False, False),
    ],
)
def test_account_state_helpers(status: str, connected: bool, banned: bool) -> None:
    account = WhatsAppAccount.model_validate(
        {"id": "15550100001@s.whatsapp.net", "phone": "+15550100001", "status": status}
    )
    assert account.status == status.lower()
    assert (account.is_connected, account.is_banned) == (connected, banned)


def test_status_change_needs_a_timestamp() -> None:
    with pytest.raises(ValidationError):
        StatusChange.model_validate({"status": "sent"})
    change = StatusChange.model_validate({"status": "Read", "timestamp": "2023-06-18T12:00:00Z"})
    assert change.status == "read"


def test_webhook_ids_may_be_numbers_or_strings() -> None:
    assert Webhook.model_validate({"id": 3, "event_type": "e", "url": "u"}).id == 3
    assert Webhook.model_validate({"id": "wh_3", "event_type": "e", "url": "u"}).id == "wh_3"
