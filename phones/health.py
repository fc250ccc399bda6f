"""A phone's health, read from its latest history: do its first messages arrive, are its
numbers real, do its leads opt out.

Pure: :func:`assess` takes plain rows and ``now`` and returns a :class:`PhoneHealth`
per phone. The rows may be more than the windows hold (the query in
:mod:`phones.health_store` hands over each phone's latest few); which rows count is
decided here, once. It only reports: nothing stops a phone because of it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

from engine.settings import HealthSettings

__all__ = [
    "HEALTH_COLUMNS",
    "Attempt",
    "FirstMessage",
    "Outcome",
    "PhoneHealth",
    "Reply",
    "assess",
    "describe",
    "outcome",
    "read_after_grace",
]

DELIVERED_STATUSES = frozenset({"delivered", "read"})
FAILED_STATUS = "failed"


class Outcome(StrEnum):
    """What became of a first message."""

    DELIVERED = "delivered"  # delivered or read, or the lead answered it
    FAILED = "failed"
    STUCK = "stuck"  # still only sent (or less) after the grace period


@dataclass(frozen=True)
class FirstMessage:
    """A first message (step 1) a phone sent; ``answered``: its lead replied to it;
    ``status_read_at``: when its status was last read (a poll, or a webhook that set it;
    ``None``: never)."""

    phone_id: str
    id: int
    sent_at: datetime
    status: str
    answered: bool = False
    status_read_at: datetime | None = None


@dataclass(frozen=True)
class Attempt:
    """An attempt to start a conversation: a first message that went out, or a number
    TimelinesAI refused as invalid (``invalid``), at ``at``. ``id`` orders attempts of one
    kind that share a moment."""

    phone_id: str
    id: int
    at: datetime
    invalid: bool


@dataclass(frozen=True)
class Reply:
    """A reply a phone received; ``opt_out``: it asked us to stop."""

    phone_id: str
    id: int
    at: datetime
    opt_out: bool


def _share(part: int, whole: int) -> float | None:
    return None if whole == 0 else part / whole


@dataclass(frozen=True)
class PhoneHealth:
    """One phone's latest history in figures.

    ``first_messages`` first messages with an outcome (at most ``[health]
    first_messages``), of which ``delivered`` arrived, ``failed`` failed and ``stuck``
    stayed only sent past the grace period, and ``answered`` were answered; ``invalid``
    invalid numbers among its last ``sends`` attempts to start a conversation;
    ``opt_outs`` among its last ``replies`` replies. A rate is ``None`` when there is
    nothing to rate.
    """

    phone_id: str
    first_messages: int = 0
    delivered: int = 0
    failed: int = 0
    stuck: int = 0
    answered: int = 0
    sends: int = 0
    invalid: int = 0
    replies: int = 0
    opt_outs: int = 0

    @property
    def delivered_rate(self) -> float | None:
        """Share of the first messages with an outcome that arrived."""
        return _share(self.delivered, self.first_messages)

    @property
    def reply_rate(self) -> float | None:
        """Share of the first messages with an outcome that the lead answered."""
        return _share(self.answered, self.first_messages)

    @property
    def invalid_rate(self) -> float | None:
        """Share of the latest attempts to start a conversation that met an invalid number."""
        return _share(self.invalid, self.sends)

    @property
    def opt_out_rate(self) -> float | None:
        """Share of the latest replies that asked us to stop."""
        return _share(self.opt_outs, self.replies)

    def as_dict(self) -> dict[str, Any]:
        """The counts and the rates, for ``--json``."""
        return {
            "first_messages": self.first_messages,
            "delivered": self.delivered,
            "failed": self.failed,
            "stuck": self.stuck,
            "answered": self.answered,
            "sends": self.sends,
            "invalid": self.invalid,
            "replies": self.replies,
            "opt_outs": self.opt_outs,
            "delivered_rate": self.delivered_rate,
            "reply_rate": self.reply_rate,
            "invalid_rate": self.invalid_rate,
            "opt_out_rate": self.opt_out_rate,
        }


HEALTH_COLUMNS = ("delivered", "answered", "invalid", "replies / opt-outs")
"""The health columns of every phones table (CLI and console), in order."""


def describe(health: PhoneHealth | None) -> tuple[str, str, str, str]:
    """The :data:`HEALTH_COLUMNS` cells of a phone: ``80% of 10, 2 stuck``,
    ``30%``, ``1 of 20``, ``12 / 1``; ``-`` where there is nothing to rate."""
    if health is None:
        return ("-", "-", "-", "-")
    delivered = answered = "-"
    if health.first_messages:
        delivered = f"{health.delivered / health.first_messages:.0%} of {health.first_messages}"
        answered = f"{health.answered / health.first_messages:.0%}"
        problems = [
            f"{n} {word}" for n, word in ((health.stuck, "stuck"), (health.failed, "failed")) if n
        ]
        delivered = ", ".join([delivered, *problems])
    invalid = f"{health.invalid} of {health.sends}" if health.sends else "-"
    replies = f"{health.replies} / {health.opt_outs}" if health.replies else "-"
    return (delivered, answered, invalid, replies)


def outcome(message: FirstMessage, now: datetime, stuck_after: timedelta) -> Outcome | None:
    """What became of ``message`` at ``now``; ``None`` while it is too early to say.

    A message has an outcome once its polled status is final enough (delivered, read,
    failed), or once ``stuck_after`` has passed *and* its status was read after that:
    then an answer proves delivery whatever the status says, and a message still only
    ``sent`` counts as not delivered. A status nobody read since the grace period ended
    (the delivery sync is slow, or stopped to spare the month's API calls) says nothing
    of delivery, so the message counts neither way: read as undelivered, it would trip
    a healthy phone (:mod:`phones.breaker`).
    """
    settled = message.status in DELIVERED_STATUSES or message.status == FAILED_STATUS
    if not settled and not read_after_grace(message, now, stuck_after):
        return None
    if message.answered or message.status in DELIVERED_STATUSES:
        return Outcome.DELIVERED
    if message.status == FAILED_STATUS:
        return Outcome.FAILED
    return Outcome.STUCK


def read_after_grace(message: FirstMessage, now: datetime, stuck_after: timedelta) -> bool:
    """Is the grace period of ``message`` over at ``now``, and was its status read later
    than that end? (The same test in SQL: :mod:`phones.health_store`.)"""
    grace_end = message.sent_at + stuck_after
    read = message.status_read_at
    return grace_end <= now and read is not None and read > grace_end


def assess(
    phone_ids: Sequence[str],
    first_messages: Iterable[FirstMessage],
    attempts: Iterable[Attempt],
    replies: Iterable[Reply],
    *,
    now: datetime,
    windows: HealthSettings,
    since: Mapping[str, datetime] | None = None,
) -> dict[str, PhoneHealth]:
    """Each phone's health at ``now`` from its rows (in any order, possibly more than
    the windows hold): the latest ``windows.first_messages`` first messages with an
    outcome, ``windows.sends`` attempts and ``windows.replies`` replies.

    ``since``: a phone's rows up to that moment (its breaker's last trip) do not count.
    Dropping them from a phone's latest rows leaves its latest rows after the moment, so
    the query need not know of it."""
    stuck_after = timedelta(hours=windows.stuck_after_h)
    after = since or {}

    def counts(phone_id: str, at: datetime) -> bool:
        start = after.get(phone_id)
        return start is None or at > start

    known: dict[str, list[tuple[FirstMessage, Outcome]]] = {p: [] for p in phone_ids}
    for message in first_messages:
        result = outcome(message, now, stuck_after)
        if (
            result is not None
            and message.phone_id in known
            and counts(message.phone_id, message.sent_at)
        ):
            known[message.phone_id].append((message, result))
    # Attempts of one kind that share a moment are ordered by id, as the query orders them.
    tried = _latest(
        (a for a in attempts if counts(a.phone_id, a.at)), phone_ids, windows.sends,
        lambda a: (a.at, a.invalid, a.id),
    )  # fmt: skip
    heard = _latest(
        (r for r in replies if counts(r.phone_id, r.at)), phone_ids, windows.replies,
        lambda r: (r.at, r.id),
    )  # fmt: skip
    health = {}
    for phone_id in phone_ids:
        counted = sorted(known[phone_id], key=lambda pair: (pair[0].sent_at, pair[0].id))
        window = counted[-windows.first_messages :]
        outcomes = [result for _, result in window]
        health[phone_id] = PhoneHealth(
            phone_id=phone_id,
            first_messages=len(window),
            delivered=outcomes.count(Outcome.DELIVERED),
            failed=outcomes.count(Outcome.FAILED),
            stuck=outcomes.count(Outcome.STUCK),
            answered=sum(message.answered for message, _ in window),
            sends=len(tried[phone_id]),
            invalid=sum(a.invalid for a in tried[phone_id]),
            replies=len(heard[phone_id]),
            opt_outs=sum(r.opt_out for r in heard[phone_id]),
        )
    return health


Row = TypeVar("Row", Attempt, Reply)


def _latest(
    rows: Iterable[Row], phone_ids: Sequence[str], size: int,
    order: Callable[[Row], tuple[Any, ...]],
) -> dict[str, list[Row]]:  # fmt: skip
    """Each phone's latest ``size`` rows in ``order``, oldest first."""
    by_phone: dict[str, list[Row]] = {p: [] for p in phone_ids}
    for row in rows:
        if row.phone_id in by_phone:
            by_phone[row.phone_id].append(row)
    return {p: sorted(found, key=order)[-size:] for p, found in by_phone.items()}
