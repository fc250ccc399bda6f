"""The phone pool's pure decisions: quota days and warm-up, pacing, the choice of phone."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phones.choice import PhoneLoad, assign, choose_phone, spread
from phones.pacing import next_send_at, should_put_back, wait_s
from phones.quota import (
    daily_quota,
    left_now,
    next_quota_day_start,
    quota_day,
    quota_left,
    warmup_end,
    warmup_quota,
    warmup_ramp,
)

WARMUP = ((0, 20), (4, 50), (8, 100), (15, 200), (30, 0))  # the default ramp


@pytest.mark.parametrize(
    ("age_days", "full", "expected"),
    [
        (-1, 500, 0),  # not started yet
        (0, 500, 20),
        (3, 500, 20),  # a week-one number stays under the 20-30 a day that gets flagged
        (4, 500, 50),
        (7, 500, 50),
        (8, 500, 100),
        (14, 500, 100),
        (15, 500, 200),
        (29, 500, 200),
        (30, 500, 500),  # the step of 0: the full quota
        (400, 500, 500),
        (8, 60, 60),  # never over the full quota
        (0, 10, 10),
    ],
)
def test_warmup_by_age_in_days(age_days: int, full: int, expected: int) -> None:
    assert warmup_quota(full, age_days, WARMUP) == expected


@pytest.mark.parametrize(
    ("started_on", "today", "warmup", "expected"),
    [
        (None, date(2026, 1, 1), WARMUP, 300),
        (date(2026, 1, 1), date(2025, 12, 31), WARMUP, 0),
        (date(2026, 1, 1), date(2026, 1, 1), WARMUP, 20),
        (date(2026, 1, 1), date(2026, 1, 5), WARMUP, 50),
        (date(2026, 1, 1), date(2026, 1, 31), WARMUP, 300),
        (date(2026, 1, 1), date(2026, 1, 1), (), 300),  # no ramp
        # The older weekly form [20, 50] as the config reads it.
        (date(2026, 1, 1), date(2026, 1, 7), ((0, 20), (7, 50), (14, 0)), 20),
        (date(2026, 1, 1), date(2026, 1, 8), ((0, 20), (7, 50), (14, 0)), 50),
        (date(2026, 1, 1), date(2026, 1, 15), ((0, 20), (7, 50), (14, 0)), 300),
    ],
)
def test_daily_quota_by_started_on(
    started_on: date | None, today: date, warmup: tuple[tuple[int, int], ...], expected: int
) -> None:
    assert daily_quota(300, started_on=started_on, today=today, warmup=warmup) == expected


@pytest.mark.parametrize(
    ("started_on", "warmup", "expected"),
    [
        (None, WARMUP, None),
        (date(2026, 1, 1), (), None),
        (date(2026, 1, 1), WARMUP, date(2026, 1, 31)),
    ],
)
def test_warmup_end(
    started_on: date | None, warmup: tuple[tuple[int, int], ...], expected: date | None
) -> None:
    assert warmup_end(started_on, warmup) == expected


@pytest.mark.parametrize(
    ("started_on", "today", "expected"),
    [
        (None, date(2026, 1, 10), ()),
        (date(2026, 1, 1), date(2026, 1, 10), (100,) * 6 + (200,) * 15),  # ages 9 to 29
        (date(2026, 1, 1), date(2026, 1, 31), ()),  # warmed up
        (date(2026, 1, 3), date(2026, 1, 1), (0, 0) + (20,) * 4 + (50,) * 4 + (100,) * 7
         + (200,) * 15),  # starts in two days
    ],
)  # fmt: skip
def test_the_forecast_ramp_is_the_daily_quota_day_by_day(
    started_on: date | None, today: date, expected: tuple[int, ...]
) -> None:
    ramp = warmup_ramp(500, started_on=started_on, today=today, warmup=WARMUP)
    assert ramp == expected


@pytest.mark.parametrize(
    ("moment", "zone", "expected"),
    [
        (datetime(2026, 3, 28, 21, 59, tzinfo=UTC), "Europe/Bucharest", date(2026, 3, 28)),
        (datetime(2026, 3, 28, 22, 0, tzinfo=UTC), "Europe/Bucharest", date(2026, 3, 29)),
        # After the spring change Bucharest is UTC+3: midnight is 21:00 UTC.
        (datetime(2026, 3, 29, 21, 0, tzinfo=UTC), "Europe/Bucharest", date(2026, 3, 30)),
        (datetime(2026, 3, 29, 20, 59, tzinfo=UTC), "Europe/Bucharest", date(2026, 3, 29)),
        (datetime(2026, 1, 1, 4, 0, tzinfo=UTC), "America/New_York", date(2025, 12, 31)),
    ],
)
def test_quota_day_follows_local_midnight(moment: datetime, zone: str, expected: date) -> None:
    assert quota_day(moment, zone) == expected


def test_next_quota_day_starts_at_local_midnight_across_dst() -> None:
    start = next_quota_day_start(datetime(2026, 3, 29, 12, 0, tzinfo=UTC), "Europe/Bucharest")
    assert start.astimezone(UTC) == datetime(2026, 3, 29, 21, 0, tzinfo=UTC)
    assert quota_left(10, 12) == 0
    assert quota_left(10, 3) == 7


@pytest.mark.parametrize(
    ("day_left", "per_hour", "sent_in_hour", "expected"),
    [
        (50, 0, 500, 50),  # no hourly cap
        (50, 80, 0, 50),  # the day binds
        (50, 80, 79, 1),  # the hour binds
        (50, 80, 80, 0),  # the hour is full
        (50, 80, 95, 0),  # over (a cap lowered meanwhile): never negative
        (0, 80, 0, 0),  # the day is used up
    ],
)
def test_what_a_phone_may_start_now_is_bound_by_its_day_and_its_hour(
    day_left: int, per_hour: int, sent_in_hour: int, expected: int
) -> None:
    assert left_now(day_left, per_hour=per_hour, sent_in_hour=sent_in_hour) == expected


def test_gaps_are_uniform_within_the_jitter_bounds() -> None:
    rng = random.Random(7)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    gaps = [(next_send_at(now, 30, 150, rng) - now).total_seconds() for _ in range(2000)]
    assert min(gaps) >= 30
    assert max(gaps) <= 150
    assert 80 < sum(gaps) / len(gaps) < 100  # uniform: mean near 90
    assert len({round(g) for g in gaps}) > 100  # spread out, not a fixed beat


@pytest.mark.parametrize(("offset_s", "expected"), [(-5, 0.0), (0, 0.0), (12.5, 12.5)])
def test_wait_until_the_phone_may_send(offset_s: float, expected: float) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert wait_s(now + timedelta(seconds=offset_s), now) == expected
    assert wait_s(None, now) == 0.0


@pytest.mark.parametrize(
    ("wait_virtual_s", "speed", "max_inline_s", "put_back"),
    [
        (30.0, 1.0, 1.0, True),  # never hold a thread for a 30 s gap
        (0.5, 1.0, 1.0, False),
        (30.0, 1000.0, 1.0, False),  # 30 ms real at speed 1000
        (3000.0, 1000.0, 1.0, True),
    ],
)
def test_put_back_rather_than_sleep_out_a_gap(
    wait_virtual_s: float, speed: float, max_inline_s: float, put_back: bool
) -> None:
    assert should_put_back(wait_virtual_s, speed, max_inline_s) is put_back


@pytest.mark.parametrize(
    ("loads", "expected"),
    [
        ([], None),
        ([PhoneLoad("01", active=False, quota_left=5)], None),
        ([PhoneLoad("01", active=True, quota_left=0)], None),
        ([PhoneLoad("01", True, 5, pending=5)], None),  # its quota is all spoken for
        ([PhoneLoad("02", True, 5), PhoneLoad("01", True, 5)], "01"),  # tie: lowest id
        ([PhoneLoad("01", True, 5, pending=2), PhoneLoad("02", True, 5, pending=1)], "02"),
        ([PhoneLoad("01", True, 5, used_today=3), PhoneLoad("02", True, 5, used_today=1)], "02"),
        ([PhoneLoad("01", False, 9), PhoneLoad("02", True, 1)], "02"),
    ],
)
def test_choose_the_least_loaded_active_phone_with_quota(
    loads: list[PhoneLoad], expected: str | None
) -> None:
    assert choose_phone(loads) == expected


def test_spread_balances_and_never_exceeds_quota() -> None:
    loads = [PhoneLoad("01", True, 3), PhoneLoad("02", True, 10), PhoneLoad("03", False, 10)]
    assert spread(loads, 8) == {"01": 3, "02": 5}
    assert sum(spread(loads, 100).values()) == 13


ONLY_01 = frozenset({"01"})


@pytest.mark.parametrize(
    ("allowed", "expected"),
    [
        ([None, None, None], ["01", "02", "01"]),  # balanced, as spread
        ([ONLY_01, ONLY_01, ONLY_01], ["01", "01", None]),  # 01's quota is 2: the third waits
        ([ONLY_01, ONLY_01, None], ["01", "01", "02"]),  # the pool takes what is left
        ([frozenset({"03"})], [None]),  # an inactive phone is no choice, subset or not
        ([frozenset()], [None]),
    ],
)
def test_assign_chooses_only_among_each_messages_allowed_phones(
    allowed: list[frozenset[str] | None], expected: list[str | None]
) -> None:
    loads = [PhoneLoad("01", True, 2), PhoneLoad("02", True, 5), PhoneLoad("03", False, 5)]
    assert assign(loads, allowed) == expected


def _assign_one_by_one(
    loads: list[PhoneLoad], allowed: list[frozenset[str] | None]
) -> list[str | None]:
    """The choice as it reads: :func:`choose_phone` over each message's pool in turn."""
    current = {load.id: load for load in loads}
    chosen: list[str | None] = []
    for subset in allowed:
        pool = [p for p in current.values() if subset is None or p.id in subset]
        phone_id = choose_phone(pool)
        if phone_id is not None:
            p = current[phone_id]
            current[phone_id] = PhoneLoad(p.id, p.active, p.quota_left, p.pending + 1, p.used_today)
        chosen.append(phone_id)
    return chosen


_IDS = ("01", "02", "acme-3", "acme-17", "b")


@settings(max_examples=300, deadline=None)
@given(
    loads=st.lists(
        st.builds(
            PhoneLoad, id=st.sampled_from(_IDS), active=st.booleans(),
            quota_left=st.integers(0, 6), pending=st.integers(0, 3),
            used_today=st.integers(0, 4),
        ),
        unique_by=lambda load: load.id,
    ),
    allowed=st.lists(
        st.one_of(st.none(), st.frozensets(st.sampled_from(_IDS), max_size=3)), max_size=40
    ),
)  # fmt: skip
def test_assign_makes_the_choice_of_phone_for_each_message_in_turn(
    loads: list[PhoneLoad], allowed: list[frozenset[str] | None]
) -> None:
    """The heaps that make ``assign`` fast choose as ``choose_phone`` does, message by message."""
    assert assign(loads, allowed) == _assign_one_by_one(loads, allowed)
