"""A phone's health from plain rows at ``now``: which rows count, and the rates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.settings import HealthSettings
from phones.health import (
    Attempt,
    FirstMessage,
    Outcome,
    PhoneHealth,
    Reply,
    assess,
    describe,
    outcome,
)

NOW = datetime(2027, 1, 20, 12, 0, tzinfo=UTC)
WINDOWS = HealthSettings(first_messages=4, sends=5, replies=4, stuck_after_h=6.0)


def ago(hours: float) -> datetime:
    return NOW - timedelta(hours=hours)


def first(
    n: int, status: str, hours_ago: float, *, answered: bool = False, read: float | None = 0
) -> FirstMessage:
    """A first message sent ``hours_ago``, its status read ``read`` hours ago (``None``:
    never); by default just now, by a delivery sync that keeps up."""
    return FirstMessage(
        "01", n, ago(hours_ago), status, answered, None if read is None else ago(read)
    )


def attempt(n: int, hours_ago: float, *, invalid: bool = False) -> Attempt:
    return Attempt("01", n, ago(hours_ago), invalid)


def reply(n: int, hours_ago: float, *, opt_out: bool = False) -> Reply:
    return Reply("01", n, ago(hours_ago), opt_out)


@pytest.mark.parametrize(
    ("status", "hours_ago", "answered", "expected"),
    [
        ("delivered", 1, False, Outcome.DELIVERED),
        ("read", 1, False, Outcome.DELIVERED),
        ("failed", 1, False, Outcome.FAILED),
        ("sent", 1, False, None),  # too early to say
        ("sent", 6, False, None),  # the grace period ends now: a reading now is not after
        ("sent", 6.1, False, Outcome.STUCK),  # the grace period is over
        ("sent", 7, False, Outcome.STUCK),
        ("queued", 7, False, Outcome.STUCK),
        ("sent", 1, True, None),  # answered, but too early to rate
        ("sent", 7, True, Outcome.DELIVERED),  # an answer proves delivery
        ("failed", 1, True, Outcome.DELIVERED),
    ],
)
def test_outcome_of_a_first_message(
    status: str, hours_ago: float, answered: bool, expected: Outcome | None
) -> None:
    message = first(1, status, hours_ago, answered=answered)
    assert outcome(message, NOW, timedelta(hours=6)) == expected


@pytest.mark.parametrize(
    ("status", "read", "answered", "expected"),
    [
        # Sent 10 h ago: its grace period ended 4 h ago.
        ("sent", 1, False, Outcome.STUCK),  # read since: still not delivered
        ("sent", 3.99, False, Outcome.STUCK),
        ("sent", 4, False, None),  # read as the grace ended, not after: no judgement
        ("sent", 5, False, None),  # read before the grace ended (the poll stopped since)
        ("sent", None, False, None),  # never read
        ("queued", 9, False, None),
        ("sent", 5, True, None),  # answered, but its fate is judged on a fresh reading too
        ("sent", 1, True, Outcome.DELIVERED),
        ("delivered", 9, False, Outcome.DELIVERED),  # a final enough status needs no more
        ("read", None, False, Outcome.DELIVERED),
        ("failed", 9, False, Outcome.FAILED),
    ],
)
def test_not_delivered_only_on_a_reading_after_the_grace_period(
    status: str, read: float | None, answered: bool, expected: Outcome | None
) -> None:
    message = first(1, status, 10, answered=answered, read=read)
    assert outcome(message, NOW, timedelta(hours=6)) == expected


@pytest.mark.parametrize(
    ("firsts", "attempts", "replies", "expected"),
    [
        pytest.param([], [], [], PhoneHealth("01"), id="empty phone"),
        pytest.param(
            [first(i, "delivered", i) for i in range(1, 4)]
            + [first(4, "read", 9, answered=True)],
            [], [],
            PhoneHealth("01", first_messages=4, delivered=4, answered=1),
            id="all delivered",
        ),
        pytest.param(
            # The newest two are still within the grace period: not counted yet.
            [first(1, "sent", 1), first(2, "sent", 5), first(3, "sent", 7),
             first(4, "delivered", 8), first(5, "sent", 30)],
            [], [],
            PhoneHealth("01", first_messages=3, delivered=1, stuck=2),
            id="stuck beyond grace",
        ),
        pytest.param(
            # The delivery sync stopped 20 h ago: what it had not read after their grace
            # periods counts neither way, and the window holds the older outcomes.
            [first(1, "sent", 8, read=None), first(2, "sent", 12, read=None),
             first(3, "sent", 24, read=20), first(4, "delivered", 25, read=20),
             first(5, "sent", 30, read=20), first(6, "sent", 40, read=30)],
            [], [],
            PhoneHealth("01", first_messages=3, delivered=1, stuck=2),
            id="stale readings count neither way",
        ),
        pytest.param(
            [first(i, "failed" if i % 2 else "delivered", i) for i in range(1, 7)],
            [], [],
            # The latest four with an outcome: 1 failed, 2 delivered, 3 failed, 4 delivered.
            PhoneHealth("01", first_messages=4, delivered=2, failed=2),
            id="failures, only the latest window",
        ),
        pytest.param(
            [],
            [attempt(1, 1, invalid=True), attempt(2, 2), attempt(3, 3, invalid=True),
             attempt(4, 4), attempt(5, 5), attempt(6, 6, invalid=True)],
            [],
            PhoneHealth("01", sends=5, invalid=2),
            id="invalid recipients among the latest sends",
        ),
        pytest.param(
            [], [],
            [reply(1, 1, opt_out=True), reply(2, 2), reply(3, 3), reply(4, 4, opt_out=True),
             reply(5, 5, opt_out=True)],
            PhoneHealth("01", replies=4, opt_outs=2),
            id="opt-outs among the latest replies",
        ),
        pytest.param(
            [FirstMessage("02", 1, ago(1), "failed")],
            [Attempt("02", 1, ago(1), invalid=True)],
            [Reply("02", 1, ago(1), opt_out=True)],
            PhoneHealth("01"),
            id="another phone's rows",
        ),
    ],
)  # fmt: skip
def test_health_counts_each_phones_latest_rows(
    firsts: list[FirstMessage], attempts: list[Attempt], replies: list[Reply],
    expected: PhoneHealth,
) -> None:  # fmt: skip
    health = assess(["01"], firsts, attempts, replies, now=NOW, windows=WINDOWS)
    assert health == {"01": expected}


@pytest.mark.parametrize(
    ("health", "rates", "cells"),
    [
        (PhoneHealth("01"), (None, None, None, None), ("-", "-", "-", "-")),
        (
            PhoneHealth("01", first_messages=10, delivered=7, failed=1, stuck=2, answered=3,
                        sends=20, invalid=3, replies=50, opt_outs=6),
            (0.7, 0.3, 0.15, 0.12),
            ("70% of 10, 2 stuck, 1 failed", "30%", "3 of 20", "50 / 6"),
        ),
        (
            PhoneHealth("01", first_messages=4, delivered=4, sends=4, replies=1),
            (1.0, 0.0, 0.0, 0.0),
            ("100% of 4", "0%", "0 of 4", "1 / 0"),
        ),
    ],
)  # fmt: skip
def test_rates_and_cells(
    health: PhoneHealth, rates: tuple[float | None, ...], cells: tuple[str, ...]
) -> None:
    shown = (health.delivered_rate, health.reply_rate, health.invalid_rate, health.opt_out_rate)
    assert shown == rates
    assert describe(health) == cells
    assert describe(None) == ("-", "-", "-", "-")
