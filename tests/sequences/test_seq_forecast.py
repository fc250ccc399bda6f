"""The campaign forecast, a pure function: tables of phones, quotas, windows, pacing and the API."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from sequences import (
    ClosedDays,
    SequenceSettings,
    StepSettings,
    WindowSettings,
    compile_sequences,
)
from sequences.definition import Sequence
from sequences.forecast import Backlog, Limit, Limits, PhoneCapacity, forecast

MONDAY = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)
UNLIMITED = Limits(
    jitter_min_s=0, jitter_max_s=0, requests_per_minute=10**6, monthly_call_budget=10**9
)
OFFICE = WindowSettings(days="mon-fri", start="09:00", end="17:00")


def sequence(*afters: str, window: WindowSettings | None = None) -> Sequence:
    steps = tuple(StepSettings(after=after, template=f"step {i}") for i, after in enumerate(afters))
    raw = SequenceSettings(timezone="UTC", send_window=window, steps=steps)
    return compile_sequences({"s": raw}, path="test")["s"]


def phones(
    *quotas: int, ramp: tuple[int, ...] = (), used_today: int = 0
) -> tuple[PhoneCapacity, ...]:
    return tuple(
        PhoneCapacity(f"{i:02d}", quota, ramp=ramp, used_today=used_today)
        for i, quota in enumerate(quotas, 1)
    )


ONE = sequence("0m")
WINDOWED = sequence("0m", window=OFFICE)
QUOTA, PACING, WINDOW = "daily quota", "pacing", "send window closed"


def gap(low_s: float, high_s: float) -> Limits:
    return replace(UNLIMITED, jitter_min_s=low_s, jitter_max_s=high_s)


LIMIT_CASES = [
    # (name, sequence, leads, phones, limits, now, first messages per day, limited by per day)
    ("quota", ONE, 25, phones(10), UNLIMITED, MONDAY, [10, 10, 5], [QUOTA, QUOTA, None]),
    ("two phones", ONE, 25, phones(10, 5), UNLIMITED, MONDAY, [15, 10], [QUOTA, None]),
    ("pacing: 1 an hour", ONE, 30, phones(200), gap(1800, 5400), MONDAY, [24, 6], [PACING, None]),
    (
        "window: 8 hours at 1 per 30 min",
        WINDOWED, 20, phones(200), gap(1200, 2400), MONDAY, [16, 4], [PACING, None],
    ),
    (
        "weekend: closed until Monday",
        WINDOWED, 5, phones(200), UNLIMITED, MONDAY - timedelta(days=2),
        [0, 0, 5], [WINDOW, WINDOW, None],
    ),
    (
        "today: 1 hour of the window left",
        WINDOWED, 10, phones(200), gap(600, 600), MONDAY + timedelta(hours=16),
        [6, 4], [PACING, None],
    ),
    (
        "API rate: 1 call a minute, 8 hours",
        WINDOWED, 500, phones(200, 200, 200), replace(UNLIMITED, requests_per_minute=1), MONDAY,
        [480, 20], ["API rate limit", None],
    ),
    (
        "monthly budget: renews on the 1st",
        ONE, 12, phones(200), replace(UNLIMITED, monthly_call_budget=15, calls_used_this_month=10),
        datetime(2026, 1, 30, tzinfo=UTC), [5, 0, 7], ["monthly API budget"] * 2 + [None],
    ),
    (
        "warm-up ramp",
        ONE, 12, phones(200, ramp=(2, 2, 5)), UNLIMITED, MONDAY,
        [2, 2, 5, 3], [QUOTA, QUOTA, QUOTA, None],
    ),
    ("used today", ONE, 12, phones(10, used_today=8), UNLIMITED, MONDAY, [2, 10], [QUOTA, None]),
    (
        "workspace messages: 5 left this month, 7 a month after",
        ONE, 12, phones(200), replace(UNLIMITED, messages_per_month=7, messages_left_this_month=5),
        datetime(2026, 1, 30, tzinfo=UTC), [5, 0, 7], ["workspace message quota"] * 2 + [None],
    ),
    (
        "workspace messages: only this month's are known",
        ONE, 12, phones(200), replace(UNLIMITED, messages_left_this_month=4),
        datetime(2026, 1, 30, tzinfo=UTC), [4, 0, 8], ["workspace message quota"] * 2 + [None],
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "seq", "leads", "pool", "limits", "now", "per_day", "limited_by"),
    LIMIT_CASES,
    ids=[case[0] for case in LIMIT_CASES],
)
def test_first_messages_per_day_and_what_limits_them(
    name: str,
    seq: Sequence,
    leads: int,
    pool: tuple[PhoneCapacity, ...],
    limits: Limits,
    now: datetime,
    per_day: list[int],
    limited_by: list[str | None],
) -> None:
    result = forecast(seq, Backlog(first_messages=leads), pool, limits, zone="UTC", now=now)
    assert [day.first_messages for day in result.days] == per_day
    assert [day.limited_by for day in result.days] == [
        None if text is None else Limit(text) for text in limited_by
    ]
    assert result.finishes_on == now.date() + timedelta(days=len(per_day) - 1)
    assert result.first_messages == leads and result.unsent == 0


FOLLOWUP_CASES = [
    # (name, step delays, leads, scheduled follow-ups, capacity a day, sends per day by step)
    ("two days later", ("0m", "2d"), 10, {}, 100, [(10, 0), (0, 0), (0, 10)]),
    ("same day", ("0m", "10m"), 10, {}, 100, [(10, 10)]),
    ("1.5 days: next day", ("0m", "1.5d", "1d"), 4, {}, 100, [(4, 0, 0), (0, 4, 0), (0, 0, 4)]),
    # Follow-ups go first: today's 8 leave 2 slots for first messages.
    ("follow-ups first", ("0m", "1d"), 5, {(1, MONDAY.date()): 8}, 10, [(2, 8), (3, 2), (0, 3)]),
    # A follow-up overdue since last week is due today.
    ("overdue", ("0m", "1d"), 0, {(1, date(2025, 12, 29)): 3}, 10, [(0, 3)]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "afters", "leads", "scheduled", "per_day_cap", "sends"),
    FOLLOWUP_CASES,
    ids=[case[0] for case in FOLLOWUP_CASES],
)
def test_followups_follow_their_delays_and_go_first(
    name: str,
    afters: tuple[str, ...],
    leads: int,
    scheduled: dict[tuple[int, date], int],
    per_day_cap: int,
    sends: list[tuple[int, ...]],
) -> None:
    limits = gap(86_400 / per_day_cap, 86_400 / per_day_cap)
    backlog = Backlog(first_messages=leads, followups=scheduled)
    result = forecast(sequence(*afters), backlog, phones(1000), limits, zone="UTC", now=MONDAY)
    assert [day.sends for day in result.days] == sends
    assert result.finishes_on == MONDAY.date() + timedelta(days=len(sends) - 1)


def test_days_are_local_to_the_zone() -> None:
    # 23:00 UTC on Monday is already Tuesday 01:00 in Bucharest: Tuesday is day one.
    now = MONDAY + timedelta(hours=23)
    result = forecast(
        sequence("0m"), Backlog(first_messages=3), phones(200), UNLIMITED,
        zone="Europe/Bucharest", now=now,
    )  # fmt: skip
    assert result.finishes_on == date(2026, 1, 6)


def test_nothing_to_send_and_no_phones_never_finish() -> None:
    empty = forecast(sequence("0m"), Backlog(), phones(10), UNLIMITED, zone="UTC", now=MONDAY)
    assert (empty.days, empty.finishes_on, empty.unsent) == ((), None, 0)
    idle = forecast(
        sequence("0m", "1d"), Backlog(first_messages=4), (), UNLIMITED, zone="UTC", now=MONDAY
    )
    assert (idle.finishes_on, idle.unsent) == (None, 8)


def test_a_campaign_past_the_horizon_reports_what_is_left() -> None:
    result = forecast(
        sequence("0m", "1d"), Backlog(first_messages=100), phones(10), UNLIMITED,
        zone="UTC", now=MONDAY, horizon_days=3,
    )  # fmt: skip
    assert result.finishes_on is None
    assert [day.sends for day in result.days] == [(10, 0), (10, 10), (10, 10)]
    assert result.unsent == 200 - 50


@pytest.mark.parametrize(
    ("calls_per_followup", "sends"),
    [
        # 1 call a minute over a whole day: 1,440 calls. Day 1: 1,000 first messages and
        # 440 follow-ups due today; then the rest.
        (1, [(1000, 440), (0, 560)]),
        # Reading the chat before each follow-up costs a second call: 220 a day fit.
        (2, [(1000, 220), (0, 720), (0, 60)]),
    ],
)
def test_the_read_before_each_follow_up_counts_against_the_rate_limit(
    calls_per_followup: int, sends: list[tuple[int, int]]
) -> None:
    limits = replace(UNLIMITED, requests_per_minute=1, calls_per_followup=calls_per_followup)
    result = forecast(
        sequence("0m", "10m"), Backlog(first_messages=1000), phones(10_000), limits,
        zone="UTC", now=MONDAY,
    )  # fmt: skip
    assert [day.sends for day in result.days] == sends
    assert result.days[0].limited_by == Limit.API_RATE


def test_the_read_before_each_follow_up_counts_against_the_months_budget() -> None:
    limits = replace(UNLIMITED, monthly_call_budget=30, calls_per_followup=2)
    result = forecast(
        sequence("0m", "1d"), Backlog(first_messages=10), phones(100), limits,
        zone="UTC", now=MONDAY,
    )  # fmt: skip
    # 10 first messages (10 calls), then the 10 follow-ups fit 20 calls: 30 in all.
    assert [day.sends for day in result.days] == [(10, 0), (0, 10)]
    tight = forecast(
        sequence("0m", "1d"), Backlog(first_messages=10), phones(100),
        replace(limits, monthly_call_budget=29), zone="UTC", now=MONDAY,
    )  # fmt: skip
    assert tight.days[1].sends == (0, 9) and tight.days[1].limited_by == Limit.API_BUDGET
    assert tight.finishes_on == date(2026, 2, 1)  # the last one waits for next month's calls


def test_closed_days_send_nothing() -> None:
    # Romania: Monday 2026-11-30 and Tuesday 2026-12-01 are public holidays; a skip date
    # closes Wednesday too.
    monday = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)
    closed = ClosedDays("RO", frozenset({date(2026, 12, 2)}))
    result = forecast(ONE, Backlog(25), phones(10), UNLIMITED, zone="UTC", now=monday,
                      closed=closed)  # fmt: skip
    assert [(d.day.day, d.first_messages, d.limited_by) for d in result.days] == [
        (30, 0, Limit.WINDOW), (1, 0, Limit.WINDOW), (2, 0, Limit.WINDOW),
        (3, 10, Limit.QUOTA), (4, 10, Limit.QUOTA), (5, 5, None),
    ]  # fmt: skip
    open_every_day = forecast(ONE, Backlog(25), phones(10), UNLIMITED, zone="UTC", now=monday)
    assert open_every_day.finishes_on == date(2026, 12, 2)


def test_follow_ups_draw_on_the_workspaces_messages_too() -> None:
    limits = replace(UNLIMITED, messages_left_this_month=10, messages_per_month=10**6)
    result = forecast(
        sequence("0m", "1d"), Backlog(first_messages=6), phones(200), limits, zone="UTC",
        now=datetime(2026, 1, 30, tzinfo=UTC),
    )  # fmt: skip
    # 6 first messages on the 30th, 4 of their follow-ups on the 31st, the last 2 on the 1st.
    assert [day.sends for day in result.days] == [(6, 0), (0, 4), (0, 2)]
    assert result.days[1].limited_by == Limit.MESSAGES
    assert result.sends == 12
