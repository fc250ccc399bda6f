"""Every client method sends the documented request and reads the documented answer."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest

from engine.errors import ConfigError
from engine.timelinesai import (
    BadRequest,
    BadToken,
    CallBudgetExhausted,
    InvalidRecipient,
    MemoryCallBudget,
    MessageStatus,
    ServerError,
    TimelinesAIClient,
)
from tests.timelinesai.conftest import BASE_URL, TOKEN, FakeApi, fail, ok

CHAT = {
    "id": 5,
    "name": "Ana",
    "phone": "+40712345678",
    "jid": "40712345678@s.whatsapp.net",
    "whatsapp_account_id": "15550100001@s.whatsapp.net",
    "chat_url": "https://app.timelines.ai/chat/5/messages/",
    "last_message_uid": "m-1",
    "last_message_timestamp": "2023-06-18 15:19:23 +0300",
    "is_group": False,
    "unread_count": 0,
}
MESSAGE = {
    "uid": "m-1",
    "chat_id": 5,
    "timestamp": "2023-06-18 15:19:23 +0300",
    "from_me": True,
    "text": "Hi Ana",
    "sender_phone": "+15550100001",
    "recipient_phone": "+40712345678",
    "status": "Delivered",
    "message_type": "text",
    "has_attachment": False,
    "attachment_url": None,
}
FILE = {
    "uid": "f-1",
    "filename": "menu.pdf",
    "size": 1234,
    "mimetype": "application/pdf",
    "temporary_download_url": "https://files.test/f-1",
}
WEBHOOK = {
    "id": 3,
    "event_type": "message:received:new",
    "url": "https://x.test/h",
    "enabled": True,
    "errors_counter": 0,
}


def path_of(request: httpx.Request) -> str:
    return request.url.path.removeprefix("/integrations/api")


def test_every_request_carries_auth_and_a_real_user_agent(
    client: TimelinesAIClient, fake_api: FakeApi
) -> None:
    fake_api.ok({"whatsapp_accounts": []})
    client.whatsapp_accounts()
    request = fake_api.last
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["user-agent"].startswith("outreach/")
    assert str(request.url) == BASE_URL + "/whatsapp_accounts"


def test_a_trailing_slash_on_the_base_url_is_dropped(
    make_client: Callable[..., TimelinesAIClient], fake_api: FakeApi
) -> None:
    fake_api.ok({"whatsapp_accounts": []})
    with TimelinesAIClient(
        BASE_URL + "/", TOKEN, transport=httpx.MockTransport(fake_api.handle), user_agent="ua/1"
    ) as client:
        client.whatsapp_accounts()
    assert str(fake_api.last.url) == BASE_URL + "/whatsapp_accounts"
    assert fake_api.last.headers["user-agent"] == "ua/1"


def test_the_base_url_must_be_http() -> None:
    with pytest.raises(ConfigError, match="must start with https://"):
        TimelinesAIClient("app.timelines.ai", TOKEN)


def test_send_message(client: TimelinesAIClient, fake_api: FakeApi) -> None:
    fake_api.ok({"message_uid": "m-1"})
    sent = client.send_message(
        phone="+40712345678", text="Hi Ana", from_phone="+15550100001", file_uid="f-1"
    )
    assert sent.message_uid == "m-1"
    assert (fake_api.last.method, path_of(fake_api.last)) == ("POST", "/messages")
    assert fake_api.last_json() == {
        "phone": "+40712345678",
        "whatsapp_account_phone": "+15550100001",
        "text": "Hi Ana",
        "file_uid": "f-1",
    }


def test_send_message_with_label_and_chat_name(
    client: TimelinesAIClient, fake_api: FakeApi
) -> None:
    fake_api.ok({"message_uid": "m-1"})
    client.send_message(
        phone="+40712345678", text="Hi", from_phone="+15550100001", label="q3", chat_name="Ana"
    )
    assert fake_api.last_json()["label"] == "q3"
    assert fake_api.last_json()["chat_name"] == "Ana"


def test_send_to_chat(client: TimelinesAIClient, fake_api: FakeApi) -> None:
    fake_api.ok({"message_uid": "m-2"})
    assert client.send_to_chat(5, text="Following up", reply_to="m-1").message_uid == "m-2"
    assert (fake_api.last.method, path_of(fake_api.last)) == ("POST", "/chats/5/messages")
    assert fake_api.last_json() == {"text": "Following up", "reply_to": "m-1"}


def test_a_text_over_2000_characters_is_refused_without_a_call(
    client: TimelinesAIClient, fake_api: FakeApi
) -> None:
    with pytest.raises(BadRequest, match="2001 characters"):
        client.send_to_chat(5, text="x" * 2001)
    assert fake_api.requests == []


def test_upload_file_from_url(client: TimelinesAIClient, fake_api: FakeApi) -> None:
    fake_api.ok(FILE)
    uploaded = client.upload_file_from_url("https://cdn.test/menu.pdf", filename="menu.pdf")
    assert (uploaded.uid, uploaded.size, uploaded.mimetype) == ("f-1", 1234, "application/pdf")
    assert (fake_api.last.method, path_of(fake_api.last)) == ("POST", "/files")
    assert fake_api.last_json() == {
        "download_url": "https://cdn.test/menu.pdf",
        "filename": "menu.pdf",
    }


def test_upload_file_bytes_is_multipart(client: TimelinesAIClient, fake_api: FakeApi) -> None:
    fake_api.ok(FILE)
    client.upload_file(b"%PDF-1.4 body", filename="menu.pdf", content_type="application/pdf")
    request = fake_api.last
    assert path_of(request) == "/files_upload"
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    body = request.content
    assert b'name="file"; filename="menu.pdf"' in body
    assert b"%PDF-1.4 body" in body
    assert b'name="content_type"\r\n\r\napplication/pdf' in body


def test_find_chats_follows_pages(client: TimelinesAIClient, fake_api: FakeApi) -> None:
    fake_api.ok({"has_more_pages": True, "chats": [CHAT]})
    fake_api.ok({"has_more_pages": False, "chats": [{**CHAT, "id": 6}]})
    chats = list(
        client.find_chats(
            phone="+40712345678",
            account_ids=["15550100001@s.whatsapp.net", "15550100002@s.whatsapp.net"],
            closed=False,
        )
    )
    assert [chat.id for chat in chats] == [5, 6]
    assert chats[0].last_message_timestamp == datetime(2023, 6, 18, 12, 19, 23, tzinfo=UTC)
    params = [dict(request.url.params) for request in fake_api.requests]
    assert params[0] == {
        "phone": "+40712345678",
        "whatsapp_account_id": "15550100001@s.whatsapp.net,15550100002@s.whatsapp.net",
        "closed": "false",
        "page": "1",
    }
    assert params[1]["page"] == "2"


def test_a_page_without_items_ends_the_walk(client: TimelinesAIClient, fake_api: FakeApi) -> None:
    fake_api.ok({"has_more_pages": True, "chats": []})
    assert list(client.find_chats()) == []
    assert len(fake_api.requests) == 1


def test_iter_chat_messages(client: TimelinesAIClient, fake_api: FakeApi) -> None:
    fake_api.ok({"has_more_pages": True, "messages": [MESSAGE]})
    fake_api.ok({"has_more_pages": False, "messages": [{**MESSAGE, "uid": "m-0"}]})
    after = datetime(2023, 6, 1, tzinfo=UTC)
    messages = list(
        client.iter_chat_messages(5, from_me=True, after=after, after_message="m-x", order="asc")
    )
    assert [message.uid for message in messages] == ["m-1", "m-0"]
    assert messages[0].status == MessageStatus.DELIVERED
    assert path_of(fake_api.last) == "/chats/5/messages"
    assert dict(fake_api.requests[0].url.params) == {
        "from_me": "true",
        "after": "2023-06-01T00:00:00+00:00",
        "after_message": "m-x",
        "sorting_order": "asc",
        "page": "1",
    }


def test_whatsapp_accounts(client: TimelinesAIClient, fake_api: FakeApi) -> None:
    fake_api.ok(
        {
            "whatsapp_accounts": [
                {
                    "id": "15550100001@s.whatsapp.net",
                    "phone": "+15550100001",
                    "status": "Active",
                    "connected_on": "2023-06-18 15:19:23 +0300",
                    "account_name": "Sales 1",
                    "owner_email": "a@b.test",
                },
                {
                    "id": "15550100002@s.whatsapp.net",
                    "phone": "+15550100002",
                    "status": "disconnected",
                },
            ]
        }
    )
    accounts = client.whatsapp_accounts()
    assert [(a.phone, a.is_connected) for a in accounts] == [
        ("+15550100001", True),
        ("+15550100002", False),
    ]
    assert path_of(fake_api.last) == "/whatsapp_accounts"


def test_message_and_its_status_history(client: TimelinesAIClient, fake_api: FakeApi) -> None:
    fake_api.ok(MESSAGE)
    fake_api.ok(
        [
            {"status": "Queued", "timestamp": "2023-06-18 15:19:23 +0300"},
            {"status": "SENT", "timestamp": "2023-06-18T12:19:25Z"},
        ]
    )
    assert client.message("m-1").status == "delivered"
    assert path_of(fake_api.last) == "/messages/m-1"
    history = client.message_status_history("m-1")
    assert [change.status for change in history] == ["queued", "sent"]
    assert path_of(fake_api.last) == "/messages/m-1/status_history"


def test_status_history_may_come_wrapped(client: TimelinesAIClient, fake_api: FakeApi) -> None:
    fake_api.ok({"status_history": [{"status": "read", "timestamp": "2023-06-18T12:19:25Z"}]})
    assert client.message_status_history("m-1")[0].status == MessageStatus.READ


@pytest.mark.parametrize(
    ("data", "raw"),
    [
        ({"messages_left": 10, "api_calls_left": 5}, {"messages_left": 10, "api_calls_left": 5}),
        ([1, 2], {"data": [1, 2]}),
    ],
)
def test_workspace_quotas_keep_any_shape(
    client: TimelinesAIClient, fake_api: FakeApi, data: object, raw: dict[str, object]
) -> None:
    fake_api.ok(data)
    assert client.workspace_quotas().raw == raw
    assert path_of(fake_api.last) == "/workspace/quotas"


def test_webhook_subscriptions(client: TimelinesAIClient, fake_api: FakeApi) -> None:
    fake_api.ok([WEBHOOK])
    fake_api.ok(WEBHOOK)
    fake_api.ok(WEBHOOK)
    fake_api.ok({**WEBHOOK, "enabled": False})
    fake_api.ok(None)
    assert [hook.id for hook in client.list_webhooks()] == [3]
    created = client.create_webhook("message:received:new", "https://x.test/h")
    assert fake_api.last_json() == {
        "event_type": "message:received:new",
        "url": "https://x.test/h",
        "enabled": True,
    }
    assert client.get_webhook(created.id).url == "https://x.test/h"
    assert client.update_webhook(3, enabled=False).enabled is False
    assert (fake_api.last.method, fake_api.last_json()) == ("PUT", {"enabled": False})
    client.delete_webhook(3)
    calls = [(request.method, path_of(request)) for request in fake_api.requests]
    assert calls == [
        ("GET", "/webhooks"),
        ("POST", "/webhooks"),
        ("GET", "/webhooks/3"),
        ("PUT", "/webhooks/3"),
        ("DELETE", "/webhooks/3"),
    ]


def test_webhook_list_may_come_wrapped(client: TimelinesAIClient, fake_api: FakeApi) -> None:
    fake_api.ok({"webhooks": [WEBHOOK]})
    assert client.list_webhooks()[0].event_type == "message:received:new"


class CountingLimiter:
    def __init__(self) -> None:
        self.acquired = 0

    def acquire(self) -> None:
        self.acquired += 1


def test_every_attempt_passes_the_limiter_and_the_budget(
    make_client: Callable[..., TimelinesAIClient], fake_api: FakeApi
) -> None:
    limiter, budget = CountingLimiter(), MemoryCallBudget(10)
    client = make_client(limiter=limiter, budget=budget)
    fake_api.answer(fail(500), ok({"whatsapp_accounts": []}))
    client.whatsapp_accounts()
    assert limiter.acquired == 2
    assert budget.used() == 2


def test_an_exhausted_budget_stops_calls_before_they_are_made(
    make_client: Callable[..., TimelinesAIClient], fake_api: FakeApi
) -> None:
    client = make_client(budget=MemoryCallBudget(1))
    fake_api.ok({"whatsapp_accounts": []})
    client.whatsapp_accounts()
    with pytest.raises(CallBudgetExhausted):
        client.whatsapp_accounts()
    assert len(fake_api.requests) == 1


def test_logs_hold_neither_the_token_nor_phone_numbers(
    client: TimelinesAIClient, fake_api: FakeApi, caplog: pytest.LogCaptureFixture
) -> None:
    fake_api.ok({"has_more_pages": False, "chats": []})
    fake_api.answer(fail(400, 'Wrong phone number "+40712345678"'))
    with caplog.at_level(logging.DEBUG):
        list(client.find_chats(phone="+40712345678"))
        with pytest.raises(InvalidRecipient):
            client.send_message(phone="+40712345678", text="Hi", from_phone="+15550100001")
    text = caplog.text
    assert "GET /integrations/api/chats?phone=••••5678&page=1 -> 200" in text
    assert "POST /integrations/api/messages failed" in text
    assert "40712345678" not in text
    assert TOKEN not in text
    assert json.dumps(TOKEN) not in text


def test_a_failed_attempt_that_passes_is_info_and_a_refusal_a_warning(
    client: TimelinesAIClient, fake_api: FakeApi, caplog: pytest.LogCaptureFixture
) -> None:
    """A 5xx on a send is reported once, as a warning, by whoever retries it (the actor):
    the session's own line for the attempt is INFO. A refusal stays a warning."""
    fake_api.answer(fail(503), fail(401, "Unauthorized"))
    with caplog.at_level(logging.INFO, logger="engine.timelinesai"):
        with pytest.raises(ServerError):
            client.send_message(phone="+40712345678", text="Hi", from_phone="+15550100001")
        with pytest.raises(BadToken):
            client.send_message(phone="+40712345678", text="Hi", from_phone="+15550100001")
    levels = [(r.levelname, r.getMessage().split(": ", 1)[1]) for r in caplog.records]
    assert levels == [
        ("INFO", "TimelinesAI answered 503: (no message)"),
        ("WARNING", "TimelinesAI answered 401: Unauthorized; check the workspace token"),
    ]
