"""The error mapping, case by case: every documented answer becomes a type the engine acts on."""

from __future__ import annotations

import inspect
import pickle
from collections.abc import Callable
from typing import Any

import httpx
import pytest

import engine.timelinesai.errors as errors_module
from engine.errors import OutreachError
from engine.timelinesai import (
    AccountBanned,
    BadRequest,
    BadToken,
    ChatNotFound,
    Forbidden,
    InvalidRecipient,
    MessageNotFound,
    NetworkError,
    NotFound,
    PayloadTooLarge,
    PermanentError,
    RateLimited,
    SendOutcomeUnknown,
    ServerError,
    TimelinesAIClient,
    TimelinesAIError,
    TransientError,
    UnexpectedResponse,
)
from tests.timelinesai.conftest import FakeApi, fail, ok

Call = Callable[[TimelinesAIClient], Any]


def SEND(c: TimelinesAIClient) -> Any:
    return c.send_message(phone="+40712345678", text="Hi", from_phone="+15550100001")


def SEND_TO_CHAT(c: TimelinesAIClient) -> Any:
    return c.send_to_chat(5, text="Hi")


def CHAT_HISTORY(c: TimelinesAIClient) -> Any:
    return list(c.iter_chat_messages(5))


def MESSAGE(c: TimelinesAIClient) -> Any:
    return c.message("m-1")


def ACCOUNTS(c: TimelinesAIClient) -> Any:
    return c.whatsapp_accounts()


def FIND_CHATS(c: TimelinesAIClient) -> Any:
    return list(c.find_chats(phone="+40712345678"))


def UPLOAD(c: TimelinesAIClient) -> Any:
    return c.upload_file(b"x" * 10, filename="a.png", content_type="image/png")


def GET_WEBHOOK(c: TimelinesAIClient) -> Any:
    return c.get_webhook(3)


def CREATE_WEBHOOK(c: TimelinesAIClient) -> Any:
    return c.create_webhook("message:received:new", "https://x.test/h")


HTML = httpx.Response(403, text="<html><body>Access denied by CDN</body></html>")
ERROR_IN_A_200 = httpx.Response(
    200, json={"status": "error", "message": 'Wrong phone number "+40712345678"'}
)


def test_the_tree() -> None:
    assert issubclass(TimelinesAIError, OutreachError)
    for transient in (ServerError, RateLimited, NetworkError, errors_module.RateLimitWaitExceeded):
        assert issubclass(transient, TransientError)
    for permanent in (InvalidRecipient, BadRequest, BadToken, Forbidden, NotFound, PayloadTooLarge):
        assert issubclass(permanent, PermanentError)
    assert issubclass(AccountBanned, PermanentError)
    assert issubclass(ChatNotFound, NotFound)
    assert issubclass(MessageNotFound, NotFound)
    assert not issubclass(SendOutcomeUnknown, TransientError | PermanentError)
    assert not issubclass(UnexpectedResponse, TransientError | PermanentError)


def test_every_error_says_when_it_is_raised() -> None:
    classes = [
        cls
        for _, cls in inspect.getmembers(errors_module, inspect.isclass)
        if issubclass(cls, TimelinesAIError)
    ]
    assert len(classes) == 19
    for cls in classes:
        assert (cls.__doc__ or "").startswith("Raised when"), cls


def test_errors_survive_pickling() -> None:
    error = SendOutcomeUnknown("lost", text="Hi", phone="+40712345678", status_code=504)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is SendOutcomeUnknown
    assert (copy.text, copy.phone, copy.status_code, str(copy)) == (
        "Hi",
        "+40712345678",
        504,
        "lost",
    )


@pytest.mark.parametrize(
    ("call", "answer", "expected", "status_code"),
    [
        (SEND, fail(400, 'Wrong phone number "+40712345678"'), InvalidRecipient, 400),
        (SEND, fail(400, "text must be at most 2000 characters"), BadRequest, 400),
        (SEND, fail(400, 'Whatsapp account "+15550100001" is banned'), AccountBanned, 400),
        (SEND, fail(400, "This account has been blocked"), AccountBanned, 400),
        (SEND_TO_CHAT, fail(403, "Account suspended by WhatsApp"), AccountBanned, 403),
        (ACCOUNTS, fail(401, "Invalid or expired token"), BadToken, 401),
        (ACCOUNTS, fail(403), Forbidden, 403),
        (ACCOUNTS, HTML, Forbidden, 403),
        (SEND_TO_CHAT, fail(404, 'Whatsapp chat_id "5" not found'), ChatNotFound, 404),
        (CHAT_HISTORY, fail(404), ChatNotFound, 404),
        (MESSAGE, fail(404, 'Message uid "m-1" not found'), MessageNotFound, 404),
        (MESSAGE, fail(404), MessageNotFound, 404),
        (GET_WEBHOOK, fail(404, 'Webhook id "3" not found'), NotFound, 404),
        (SEND, fail(404, 'File uid "f-1" not found'), NotFound, 404),
        (UPLOAD, fail(413), PayloadTooLarge, 413),
        (ACCOUNTS, fail(422, "unprocessable"), BadRequest, 422),
        (SEND, fail(504), SendOutcomeUnknown, 504),
        (SEND, fail(502), ServerError, 502),
        (SEND, fail(500, "Internal server error"), ServerError, 500),
        (SEND, ERROR_IN_A_200, InvalidRecipient, 200),
        (ACCOUNTS, httpx.Response(200, text="<html>maintenance</html>"), UnexpectedResponse, 200),
        (SEND, httpx.Response(200, text="<html>maintenance</html>"), SendOutcomeUnknown, 200),
        (SEND_TO_CHAT, ok({"uid_of_message": "m-1"}), SendOutcomeUnknown, 200),
        (ACCOUNTS, httpx.Response(200, json={"whatsapp_accounts": []}), UnexpectedResponse, 200),
        (ACCOUNTS, ok({"whatsapp_accounts": "none"}), UnexpectedResponse, 200),
        (ACCOUNTS, ok({"whatsapp_accounts": [{"phone": "+1"}]}), UnexpectedResponse, 200),
        (FIND_CHATS, ok(None), UnexpectedResponse, 200),
        (ACCOUNTS, httpx.Response(302, headers={"location": "/login"}), UnexpectedResponse, 302),
    ],
)
def test_status_mapping(
    client: TimelinesAIClient,
    fake_api: FakeApi,
    call: Call,
    answer: httpx.Response,
    expected: type[TimelinesAIError],
    status_code: int,
) -> None:
    fake_api.answer(answer)
    with pytest.raises(expected) as raised:
        call(client)
    assert type(raised.value) is expected
    assert raised.value.status_code == status_code
    assert len(fake_api.requests) == 1


def test_invalid_recipient_names_the_lead_and_our_number(
    client: TimelinesAIClient, fake_api: FakeApi
) -> None:
    fake_api.answer(fail(400, 'Wrong phone number "+40712345678"'))
    with pytest.raises(InvalidRecipient) as raised:
        SEND(client)
    assert (raised.value.phone, raised.value.from_phone) == ("+40712345678", "+15550100001")
    assert "40712345678" not in str(raised.value)


def test_unexpected_response_carries_a_short_snippet(
    client: TimelinesAIClient, fake_api: FakeApi
) -> None:
    fake_api.answer(httpx.Response(200, text="<html>" + "x" * 500))
    with pytest.raises(UnexpectedResponse) as raised:
        ACCOUNTS(client)
    assert raised.value.snippet.startswith("<html>xxx")
    assert len(raised.value.snippet) == 200


@pytest.mark.parametrize(
    ("status", "expected"), [(429, RateLimited), (500, ServerError), (503, ServerError)]
)
def test_reads_retry_transient_statuses_until_the_bound(
    make_client: Callable[..., TimelinesAIClient],
    fake_api: FakeApi,
    status: int,
    expected: type[TimelinesAIError],
) -> None:
    fake_api.answer(*[fail(status) for _ in range(200)])
    client = make_client(retry_total_s=0.2)
    with pytest.raises(expected):
        ACCOUNTS(client)
    assert 3 <= len(fake_api.requests) < 200


def test_a_read_recovers_after_transient_failures(
    client: TimelinesAIClient, fake_api: FakeApi
) -> None:
    fake_api.answer(fail(503), fail(429), httpx.ReadTimeout("slow"), ok({"whatsapp_accounts": []}))
    assert ACCOUNTS(client) == []
    assert len(fake_api.requests) == 4


@pytest.mark.parametrize("call", [SEND, SEND_TO_CHAT])
def test_sends_retry_429_and_unsent_failures_only(
    client: TimelinesAIClient, fake_api: FakeApi, call: Call
) -> None:
    fake_api.answer(
        fail(429),
        httpx.ConnectError("refused"),
        httpx.ConnectTimeout("no route"),
        httpx.PoolTimeout("pool full"),
        ok({"message_uid": "m-9"}),
    )
    assert call(client).message_uid == "m-9"
    assert len(fake_api.requests) == 5


@pytest.mark.parametrize("call", [SEND, SEND_TO_CHAT])
@pytest.mark.parametrize("status", [500, 502, 503])
def test_sends_do_not_retry_5xx(
    client: TimelinesAIClient, fake_api: FakeApi, call: Call, status: int
) -> None:
    fake_api.answer(fail(status))
    with pytest.raises(ServerError):
        call(client)
    assert len(fake_api.requests) == 1


@pytest.mark.parametrize(
    "exception",
    [
        httpx.ReadTimeout("read timed out"),
        httpx.WriteTimeout("write timed out"),
        httpx.RemoteProtocolError("peer closed connection"),
        httpx.ReadError("connection reset"),
    ],
)
def test_a_send_cut_off_after_it_left_is_outcome_unknown(
    client: TimelinesAIClient, fake_api: FakeApi, exception: Exception
) -> None:
    fake_api.answer(exception)
    with pytest.raises(SendOutcomeUnknown) as raised:
        SEND(client)
    assert len(fake_api.requests) == 1
    error = raised.value
    assert (error.phone, error.from_phone, error.text, error.chat_id) == (
        "+40712345678",
        "+15550100001",
        "Hi",
        None,
    )


def test_outcome_unknown_in_a_chat_carries_the_chat(
    client: TimelinesAIClient, fake_api: FakeApi
) -> None:
    fake_api.answer(httpx.RemoteProtocolError("peer closed connection"))
    with pytest.raises(SendOutcomeUnknown) as raised:
        SEND_TO_CHAT(client)
    assert (raised.value.chat_id, raised.value.text, raised.value.phone) == (5, "Hi", None)


def test_a_send_that_never_connects_is_a_network_error(
    make_client: Callable[..., TimelinesAIClient], fake_api: FakeApi
) -> None:
    fake_api.answer(*[httpx.ConnectError("refused") for _ in range(200)])
    with pytest.raises(NetworkError) as raised:
        SEND(make_client(retry_total_s=0.1))
    assert raised.value.unsent is True
    assert len(fake_api.requests) > 1


def test_creating_a_webhook_is_not_repeated_once_it_may_have_arrived(
    client: TimelinesAIClient, fake_api: FakeApi
) -> None:
    fake_api.answer(httpx.ReadTimeout("read timed out"))
    with pytest.raises(NetworkError) as raised:
        CREATE_WEBHOOK(client)
    assert raised.value.unsent is False
    assert len(fake_api.requests) == 1


def test_no_retries_when_the_bound_is_zero(
    make_client: Callable[..., TimelinesAIClient], fake_api: FakeApi
) -> None:
    fake_api.answer(fail(500))
    with pytest.raises(ServerError):
        ACCOUNTS(make_client(retry_total_s=0))
    assert len(fake_api.requests) == 1
