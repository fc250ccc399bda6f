"""The phone pool's pure decisions: quota days and warm-up, pacing, the choice of phone."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest

from phones.choice import PhoneLoad, assign, choose_phone, spread
from phones.pacing import next_send_at, should_put_back, wait_s
from phones.quota import daily_quota, next_quota_day_start, quota_day, quota_left

WARMUP = (20, 50, 100)


@pytest.mark.parametrize(
    ("started_on", "today", "expected"),
    [
        (None, date(2026, 1, 1), 200),
        (date(2026, 1, 1), date(2025, 12, 31), 0),  # not started yet
        (date(2026, 1, 1), date(2026, 1, 1), 20),  # day 0, week 1
        (date(2026, 1, 1), date(2026, 1, 7), 20),  # day 6, still week 1
        (date(2026, 1, 1), date(2026, 1, 8), 50),  # day 7, week 2
        (date(2026, 1, 1), date(2026, 1, 21), 100),  # week 3
        (date(2026, 1, 1), date(2026, 1, 22), 200),  # past the ramp: full quota
    ],
)
def test_warmup_ramp(started_on: date | None, today: date, expected: int) -> None:
    assert daily_quota(200, started_on=started_on, today=today, warmup=WARMUP) == expected


def test_warmup_never_exceeds_the_full_quota_and_can_be_off() -> None:
    assert (
        daily_quota(30, started_on=date(2026, 1, 1), today=date(2026, 1, 10), warmup=WARMUP) == 30
    )
    assert daily_quota(200, started_on=date(2026, 1, 1), today=date(2026, 1, 1), warmup=()) == 200


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
