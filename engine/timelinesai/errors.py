# ruff: noqa: N818 -- the names are the engine's contract and read like httpx's own
# (ConnectTimeout, ReadTimeout): the tree's root already says "error".
"""The TimelinesAI error tree: every failure of a call is one of these types.

The engine acts on the type, not on text:

- :class:`TransientError` -- try again later (the message-level retry does).
- :class:`SendOutcomeUnknown` -- a send may or may not have gone out; reconcile
  against the chat's history before sending again (design invariant 4).
- :class:`PermanentError` -- retrying the same request cannot help; change state.
- :class:`UnexpectedResponse` -- the answer was not the documented JSON.
- :class:`CallBudgetExhausted` -- this month's API calls are used up.

Messages are redacted (phone numbers masked) because they end up in logs; the
attributes keep the full values for the engine.
"""

from __future__ import annotations

from typing import Any

from engine.errors import OutreachError
from engine.redact import redact_text


class TimelinesAIError(OutreachError):
    """Raised when a call to TimelinesAI fails; the subclass says what to do about it."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(redact_text(message))
        self.status_code = status_code

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only constructors do not survive the default exception pickling,
        # and errors cross process boundaries (workers, multiprocessing tests).
        return (_rebuild, (type(self), self.args, self.__dict__))


def _rebuild(cls: type[TimelinesAIError], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class TransientError(TimelinesAIError):
    """Raised when a call failed for a reason that may pass; retry it later."""


class ServerError(TransientError):
    """Raised when TimelinesAI answered with a 5xx status."""


class RateLimited(TransientError):
    """Raised when TimelinesAI answered 429 (too many requests) after in-call retries."""


class NetworkError(TransientError):
    """Raised when a connection failed or timed out; ``unsent`` says it surely never arrived."""

    def __init__(self, message: str, *, unsent: bool) -> None:
        super().__init__(message)
        self.unsent = unsent


class RateLimitWaitExceeded(TransientError):
    """Raised when the workspace rate limiter would make a call wait longer than allowed."""

    def __init__(self, message: str, *, waited_s: float) -> None:
        super().__init__(message)
        self.waited_s = waited_s


class SendOutcomeUnknown(TimelinesAIError):
    """Raised when a send may have reached TimelinesAI but no answer came back.

    Not a :class:`TransientError` on purpose: sending again could send twice. Look
    for ``text`` in the chat's history (by ``chat_id``, or by ``phone`` and
    ``from_phone``) and only send if it is not there.
    """

    def __init__(
        self,
        message: str,
        *,
        text: str,
        phone: str | None = None,
        from_phone: str | None = None,
        chat_id: int | None = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code)
        self.text = text
        self.phone = phone
        self.from_phone = from_phone
        self.chat_id = chat_id


class PermanentError(TimelinesAIError):
    """Raised when TimelinesAI refused a request that would be refused again as it is."""


class InvalidRecipient(PermanentError):
    """Raised when TimelinesAI answered 400 "Wrong phone number" for a send.

    The same answer has come back when the *sending* account was disconnected:
    check that account's state before marking the lead's number invalid.
    """

    def __init__(
        self,
        message: str,
        *,
        phone: str | None = None,
        from_phone: str | None = None,
        status_code: int | None = 400,
    ) -> None:
        super().__init__(message, status_code=status_code)
        self.phone = phone
        self.from_phone = from_phone


class BadRequest(PermanentError):
    """Raised when TimelinesAI refused a request as malformed (a 4xx without its own class)."""


class BadToken(PermanentError):
    """Raised when TimelinesAI answered 401: the workspace token is invalid or expired."""


class Forbidden(PermanentError):
    """Raised when TimelinesAI (or the CDN in front of it) answered 403."""


class NotFound(PermanentError):
    """Raised when TimelinesAI answered 404 for something other than a chat or a message."""


class ChatNotFound(NotFound):
    """Raised when the chat id is unknown to TimelinesAI; send by phone instead."""


class MessageNotFound(NotFound):
    """Raised when the message uid is unknown to TimelinesAI."""


class PayloadTooLarge(PermanentError):
    """Raised when TimelinesAI answered 413: the attachment is too large."""


class AccountBanned(PermanentError):
    """Raised when TimelinesAI says the sending account is banned, blocked or suspended."""

    def __init__(
        self, message: str, *, from_phone: str | None = None, status_code: int | None = None
    ) -> None:
        super().__init__(message, status_code=status_code)
        self.from_phone = from_phone


class UnexpectedResponse(TimelinesAIError):
    """Raised when an answer is not the documented JSON; ``snippet`` shows its start."""

    def __init__(self, message: str, *, status_code: int | None, snippet: str) -> None:
        super().__init__(message, status_code=status_code)
        self.snippet = redact_text(snippet)[:200]


class CallBudgetExhausted(TimelinesAIError):
    """Raised when this month's TimelinesAI API call budget is used up; no call was made."""

    def __init__(self, message: str, *, used: int, budget: int) -> None:
        super().__init__(message)
        self.used = used
        self.budget = budget
