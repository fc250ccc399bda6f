"""Work the webhook leaves for the ``replies`` queue, named so either side can build it.

The receiver answers TimelinesAI within its 5 s and hands the slower work on as
:class:`FollowUp` values; the ``replies`` actors (:mod:`engine.replies.actors`) do it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "CHECK_SENT",
    "CLASSIFY_REPLY",
    "FOLLOW_UP_ACTORS",
    "NOTIFY_ALERT",
    "REPLIES_QUEUE",
    "Enqueue",
    "FollowUp",
]

REPLIES_QUEUE = "replies"
CLASSIFY_REPLY = "classify_reply"
CHECK_SENT = "check_sent_message"
NOTIFY_ALERT = "notify_alert"
FOLLOW_UP_ACTORS = (CLASSIFY_REPLY, CHECK_SENT, NOTIFY_ALERT)


@dataclass(frozen=True)
class FollowUp:
    """One message for a ``replies`` actor: its name, its arguments, a real-seconds delay.

    ``classify_reply(message_id)``, ``check_sent_message(event_id)``,
    ``notify_alert(kind, message, severity, phone_id)``.
    """

    actor: str
    args: tuple[int | str | None, ...]
    delay_s: float = 0.0


Enqueue = Callable[[FollowUp], None]
"""Hands a follow-up to the ``replies`` queue (tests pass a list's ``append``)."""
