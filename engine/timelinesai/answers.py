"""What an answer (or a failed exchange) with TimelinesAI means: data, or an error type.

Pure functions from a response or a transport exception to the result or to an
error of :mod:`engine.timelinesai.errors`; the table is in the README.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from engine.redact import mask_phone
from engine.timelinesai.errors import (
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
    RateLimited,
    SendOutcomeUnknown,
    ServerError,
    TimelinesAIError,
    UnexpectedResponse,
)

T = TypeVar("T")

_BANNED = re.compile(r"\b(banned|blocked|suspended)\b", re.IGNORECASE)
_WRONG_PHONE = re.compile(r"wrong phone number|invalid phone", re.IGNORECASE)
_CHAT_TEXT = re.compile(r"chat_?id\b.*not found", re.IGNORECASE)
_MESSAGE_TEXT = re.compile(r"message(_| )?uid\b.*not found", re.IGNORECASE)
_OTHER_TEXT = re.compile(r"\b(file|webhook|account|label)\b.*not found", re.IGNORECASE)
_CHAT_PATH = re.compile(r"/chats/\d+(/|$)")
_MESSAGE_PATH = re.compile(r"/messages/[^/]+")
# Only these failures prove the request never left this machine: safe to repeat a send.
_UNSENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_SNIPPET_CHARS = 200


@dataclass(frozen=True)
class SendTarget:
    """Where a send went, carried into the errors the engine reconciles with."""

    text: str
    phone: str | None = None
    from_phone: str | None = None
    chat_id: int | None = None

    def describe(self) -> str:
        """A log-safe name of the target: the chat id or the masked phone."""
        if self.chat_id is not None:
            return f"chat {self.chat_id}"
        return f"{mask_phone(self.phone)} from {mask_phone(self.from_phone)}"


def read_answer(
    response: httpx.Response, parse: Callable[[Any], T], *, send: SendTarget | None = None
) -> T:
    """``parse`` applied to the answer's ``data``; raises the error type the answer means.

    A send answered 2xx with a body that cannot be read was queued all the same:
    that is ``SendOutcomeUnknown`` (reconcile), not ``UnexpectedResponse`` (retry).
    """
    status = response.status_code
    body = _json_or_none(response)
    if not 200 <= status < 300:
        raise error_for_status(status, _message_of(body, response), response.url.path, send)
    if not isinstance(body, dict) or not isinstance(body.get("status"), str):
        raise _unreadable(response, "without its JSON envelope", send)
    if body["status"].lower() != "ok":
        raise error_for_status(status, _message_of(body, response), response.url.path, send)
    try:
        return parse(body.get("data"))
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        # pydantic's ValidationError is a ValueError: every unreadable shape lands here.
        shape = f"with data of an unexpected shape ({type(exc).__name__})"
        raise _unreadable(response, shape, send) from exc


def _unreadable(
    response: httpx.Response, what: str, send: SendTarget | None
) -> SendOutcomeUnknown | UnexpectedResponse:
    text = f"TimelinesAI answered {response.status_code} {what}"
    if send is not None:
        return _outcome_unknown(f"{text}; the send to {send.describe()} was queued", send, 200)
    return UnexpectedResponse(text, status_code=response.status_code, snippet=response.text)


def error_for_status(
    status: int, message: str, path: str, send: SendTarget | None = None
) -> TimelinesAIError:
    """The error an error answer means. A 2xx here carries an error envelope."""
    text = f"TimelinesAI answered {status}: {message or '(no message)'}"
    if status == 429:
        return RateLimited(f"{text}; calls are slowed down", status_code=status)
    if status == 504 and send is not None:
        return _outcome_unknown(
            f"{text}; the send to {send.describe()} may have gone out", send, 504
        )
    if status >= 500:
        return ServerError(text, status_code=status)
    if status == 401:
        return BadToken(f"{text}; check the workspace token", status_code=status)
    if status == 413:
        return PayloadTooLarge(f"{text}; send a smaller attachment", status_code=status)
    if status == 404:
        return _not_found(text, message, path)
    if _BANNED.search(message):
        from_phone = send.from_phone if send else None
        return AccountBanned(text, from_phone=from_phone, status_code=status)
    if status == 403:
        return Forbidden(f"{text}; the token or the User-Agent was refused", status_code=status)
    if status < 300 or 400 <= status < 500:
        if (status == 400 or status < 300) and _WRONG_PHONE.search(message):
            phone, from_phone = (send.phone, send.from_phone) if send else (None, None)
            return InvalidRecipient(text, phone=phone, from_phone=from_phone, status_code=status)
        return BadRequest(text, status_code=status)
    return UnexpectedResponse(text, status_code=status, snippet=message)


def error_for_transport(
    exc: httpx.RequestError, send: SendTarget | None = None
) -> TimelinesAIError:
    """The error a failed exchange means: unsent, or (for a send) outcome unknown."""
    kind = type(exc).__name__
    if isinstance(exc, _UNSENT):
        return NetworkError(f"could not reach TimelinesAI ({kind}: {exc})", unsent=True)
    if send is not None:
        return _outcome_unknown(
            f"the exchange with TimelinesAI broke off ({kind}) after the send to "
            f"{send.describe()} left; it may have gone out",
            send,
            None,
        )
    return NetworkError(f"the exchange with TimelinesAI broke off ({kind}: {exc})", unsent=False)


def _outcome_unknown(text: str, send: SendTarget, status_code: int | None) -> SendOutcomeUnknown:
    return SendOutcomeUnknown(
        f"{text}; look for it in the chat's history before sending again",
        text=send.text,
        phone=send.phone,
        from_phone=send.from_phone,
        chat_id=send.chat_id,
        status_code=status_code,
    )


def _not_found(text: str, message: str, path: str) -> NotFound:
    # The message names what is missing; a bare 404 is read from the path.
    if _CHAT_TEXT.search(message):
        return ChatNotFound(f"{text}; send by phone instead", status_code=404)
    if _MESSAGE_TEXT.search(message):
        return MessageNotFound(text, status_code=404)
    if not _OTHER_TEXT.search(message):
        if _CHAT_PATH.search(path):
            return ChatNotFound(f"{text}; send by phone instead", status_code=404)
        if _MESSAGE_PATH.search(path):
            return MessageNotFound(text, status_code=404)
    return NotFound(text, status_code=404)


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _message_of(body: Any, response: httpx.Response) -> str:
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])
    return response.text.strip()[:_SNIPPET_CHARS]
