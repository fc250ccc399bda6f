"""A transient failure inside an actor: one warning line, then Dramatiq's retry.

Dramatiq logs an exception escaping an actor as an "unhandled exception" with its
whole traceback, although its Retries middleware then retries the message as
designed. A TimelinesAI 5xx, 429, timeout or a full rate limiter is expected now and
then, and says all there is to say in one line: :func:`retried_quietly` logs that line
and raises Dramatiq's ``Retry``, which the middleware counts and backs off exactly like
the original error, without the traceback. Anything else still escapes as it is.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dramatiq import Retry
from dramatiq.middleware import CurrentMessage

from engine.timelinesai import TransientError

log = logging.getLogger("outreach.retry")


@contextmanager
def retried_quietly(what: str, max_retries: int) -> Iterator[None]:
    """Run the actor's body; a :class:`TransientError` becomes one warning line naming
    ``what`` was being done, and a ``Retry`` (the middleware's backoff applies)."""
    try:
        yield
    except TransientError as error:
        attempt = current_retries() + 1
        then = "retrying later" if attempt <= max_retries else "no retries left"
        log.warning(
            "%s: %s: %s (attempt %d of %d); %s",
            what, type(error).__name__, error, attempt, max_retries + 1, then,
        )  # fmt: skip
        raise Retry(f"{type(error).__name__}: {error}") from None


def current_options() -> dict[str, Any] | None:
    """The options of the message being processed (``None``: no message is)."""
    message = CurrentMessage.get_current_message()
    return None if message is None else message.options


def current_retries() -> int:
    """How many times the message being processed has been retried already."""
    message = CurrentMessage.get_current_message()
    if message is None:
        return 0
    return int(message.options.get("retries", 0))
