"""Parsing TimelinesAI bodies: both layouts, account events, and every malformed shape."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.webhook import (
    AccountEvent,
    BadBodyError,
    MessageEvent,
    OtherEvent,
    PayloadError,
    WebhookError,
    parse_body,
    parse_event,
)
from tests.webhook.conftest import LEAD, OURS, account_body, body


@pytest.mark.parametrize("form", ["nested", "flat"])
def test_a_reply_parses_from_either_layout(form: str) -> None:
    event = parse_event(body(form=form, uid="u-1", text="Hi", lead=LEAD.lstrip("+")))
    assert isinstance(event, MessageEvent)
    assert (event.message_uid, event.text, event.from_me) == ("u-1", "Hi", False)
    assert (event.peer_phone, event.account_phone, event.chat_id) == (LEAD, OURS[0], 1001)
    assert event.timestamp == datetime(2026, 1, 6, 10, 0, tzinfo=UTC)
    assert event.dedupe_key == "message:received:new:u-1"


def test_a_sent_message_takes_the_recipient_as_the_contact() -> None:
    event = parse_event(body("message:sent:new", origin="API"))
    assert isinstance(event, MessageEvent)
    assert event.from_me and event.peer_phone == LEAD and event.account_phone == OURS[0]
    assert event.origin == "API"


def test_attachments_keep_their_metadata() -> None:
    files = [{"filename": "a.pdf", "size": 12, "mimetype": "application/pdf",
              "temporary_download_url": "https://files.example/a.pdf"}]  # fmt: skip
    event = parse_event(body(attachments=files))
    assert isinstance(event, MessageEvent)
    assert [a.to_json() for a in event.attachments] == [
        {"filename": "a.pdf", "size": 12, "mimetype": "application/pdf",
         "url": "https://files.example/a.pdf"}
    ]  # fmt: skip


def test_the_chat_id_alone_is_enough_and_digit_strings_count() -> None:
    payload = body(form="flat", lead=None, chat_id=None)
    payload["data"]["chat_id"] = "1001"
    event = parse_event(payload)
    assert isinstance(event, MessageEvent) and event.chat_id == 1001 and event.peer_phone is None


@pytest.mark.parametrize(
    ("event_type", "state"),
    [
        ("whatsapp:account:disconnected", "offline"),
        ("whatsapp:account:suspended", "banned"),
        ("whatsapp:account:connected", "active"),
        ("whatsapp:account:resumed", "active"),
    ],
)
def test_account_events_name_the_phone_state(event_type: str, state: str) -> None:
    event = parse_event(account_body(event_type))
    assert isinstance(event, AccountEvent)
    assert (event.state, event.phone, event.account_id) == (
        state, OURS[0], "447700900001@s.whatsapp.net",
    )  # fmt: skip


def test_the_same_account_event_has_the_same_key_and_a_later_one_another() -> None:
    first = parse_event(account_body("whatsapp:account:disconnected", disconnected_on="t1"))
    again = parse_event(account_body("whatsapp:account:disconnected", disconnected_on="t1"))
    later = parse_event(account_body("whatsapp:account:disconnected", disconnected_on="t2"))
    assert isinstance(first, AccountEvent) and isinstance(again, AccountEvent)
    assert isinstance(later, AccountEvent)
    assert first.dedupe_key == again.dedupe_key != later.dedupe_key


def test_other_event_types_are_recognised_as_unused() -> None:
    assert parse_event({"event_type": "chat:new", "chat": {}}) == OtherEvent("chat:new")


def _without(payload: dict[str, Any], *path: str) -> dict[str, Any]:
    node = payload
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return payload


def _with(payload: dict[str, Any], value: Any, *path: str) -> dict[str, Any]:
    node = payload
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return payload


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"chat": {}}, "event_type is required"),
        ({"event_type": 7}, "event_type must be a string"),
        ({"event_type": "message:received:new"}, "expected a 'message' object"),
        (_without(body(), "message", "message_uid"), "message.message_uid is required"),
        (_with(body(), "x" * 65, "message", "message_uid"), "longer than 64"),
        (_with(body(), [1], "message", "text"), "message.text must be a string"),
        (_with(body(), "soon", "message", "timestamp"), "message.timestamp 'soon'"),
        (_with(body(), "no", "message", "attachments"), "message.attachments must be a list"),
        (_with(body(), [1], "message", "attachments"), "attachments[0] must be an object"),
        (_with(body(), -3, "chat", "chat_id"), "chat.chat_id must be a positive integer"),
        (_with(body(), 2**70, "chat", "chat_id"), "chat.chat_id must be a positive integer"),
        (_with(body(), "x", "chat"), "chat must be an object"),
        (_with(body(), {"a": 1}, "message", "sender", "phone"), "phone number string"),
        (body(lead=None, chat_id=None), "neither a chat id nor a usable contact phone"),
        ({"event_type": "whatsapp:account:suspended"}, "whatsapp_account must be an object"),
        (
            {"event_type": "whatsapp:account:connected", "whatsapp_account": {"status": "x"}},
            "neither a usable phone nor an id",
        ),
    ],
)
def test_malformed_known_events_say_what_is_wrong(payload: dict[str, Any], reason: str) -> None:
    with pytest.raises(PayloadError, match=reason.replace("[", r"\[").replace("]", r"\]")):
        parse_event(payload)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "not JSON"),
        (b"{", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'"text"', "must be a JSON object"),
        (b'{"a":' * 40 + b"1" + b"}" * 40, "nested more than"),
        (b"[" * 100_000 + b"]" * 100_000, "not JSON|must be a JSON object"),
    ],
)
def test_bodies_that_are_not_a_json_object_are_refused(raw: bytes, reason: str) -> None:
    with pytest.raises(BadBodyError, match=reason):
        parse_body(raw)


def test_strings_are_cleaned_for_the_database() -> None:
    raw = json.dumps({"event_type": "x", "text": "a\u0000b\ud800c", "n": 1e400}).encode()
    cleaned = parse_body(raw.replace(b"Infinity", b"1e400"))
    assert cleaned["text"] == "ab?c"
    assert cleaned["n"] is None


# Fuzzing: whatever arrives, the parser answers with a value or a WebhookError, nothing else.

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
_keys = st.sampled_from(
    ["event_type", "message", "data", "chat", "whatsapp_account", "message_uid", "text",
     "chat_id", "phone", "sender", "recipient", "attachments", "timestamp", "id", "status",
     "from_me", "origin", "size", "filename", "whatsapp_account_phone"]
)  # fmt: skip
_shaped = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_keys, children, max_size=6),
    max_leaves=30,
)
_event_types = st.sampled_from(
    ["message:received:new", "message:sent:new", "whatsapp:account:connected",
     "whatsapp:account:suspended", "chat:new"]
) | st.text(max_size=10)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200) | _json.map(lambda v: json.dumps(v).encode()))
def test_fuzz_any_bytes_parse_or_fail_cleanly(raw: bytes) -> None:
    with contextlib.suppress(WebhookError):
        parse_event(parse_body(raw))


@settings(max_examples=500, deadline=None)
@given(_event_types, st.dictionaries(_keys, _shaped, max_size=6))
def test_fuzz_event_shaped_bodies_parse_or_fail_cleanly(
    event_type: str, rest: dict[str, Any]
) -> None:
    payload = {**rest, "event_type": event_type}
    try:
        event = parse_event(parse_body(json.dumps(payload).encode()))
    except WebhookError:
        return
    if isinstance(event, MessageEvent):
        assert 0 < len(event.message_uid) <= 64
        assert event.chat_id is not None or event.peer_phone is not None
        assert "\x00" not in event.text
