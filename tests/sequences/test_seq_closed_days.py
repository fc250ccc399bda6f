"""Closed days: a lead's public holidays and a sequence's skip dates shut its send window."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time

import pytest

from sequences import (
    ClosedDays,
    SendWindow,
    Sequence,
    Step,
    closed_days,
    first_due,
    is_open,
    lead_country,
    next_due,
    next_open,
)
from sequences.closed_days import NO_CLOSED_DAYS, public_holidays
from sequences.syntax import parse_days

BUCHAREST = "Europe/Bucharest"  # EET +2 / EEST +3; 2026-03-29 03:00->04:00, 2026-10-25 04:00->03:00
LONDON = "Europe/London"  # GMT +0 / BST +1
NEW_YORK = "America/New_York"  # EST -5 / EDT -4
RO_NUMBER = "+40712345678"
GB_NUMBER = "+447400123456"
US_NUMBER = "+12125550100"

OFFICE = SendWindow(parse_days("mon-fri"), time(9), time(18))
ALL_DAY = SendWindow(parse_days("daily"), time(0), None)
DAILY_OFFICE = SendWindow(parse_days("daily"), time(9), time(18))
EVENING = SendWindow(parse_days("daily"), time(20), None)  # to midnight, local


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def sequence(
    window: SendWindow | None = OFFICE, *, skip_holidays: bool = True, skip: tuple[str, ...] = ()
) -> Sequence:
    steps = (Step(0, 0.0, (), ()), Step(1, 2 * 86_400.0, (), ()))
    dates = frozenset(date.fromisoformat(day) for day in skip)
    return Sequence("s", "lead", window, True, steps, skip_holidays, dates)


# (sequence, the lead's region, number and zone, the moment, when the window opens)
CASES: dict[str, tuple[Sequence, str | None, str, str, str, str]] = {
    # 2026-11-30 (Monday, Saint Andrew) and 2026-12-01 (Tuesday, National Day) are public
    # holidays in Romania; 09:00 in Bucharest is 07:00 UTC in winter.
    "a Romanian holiday moves a Romanian lead to the next open day": (
        sequence(), "RO", RO_NUMBER, BUCHAREST, "2026-12-01T10:00", "2026-12-02T07:00",
    ),
    "two holidays in a row: past both": (
        sequence(), "RO", RO_NUMBER, BUCHAREST, "2026-11-30T08:00", "2026-12-02T07:00",
    ),
    "the evening before a holiday: past it": (
        sequence(), "RO", RO_NUMBER, BUCHAREST, "2026-11-27T16:30", "2026-12-02T07:00",
    ),
    "Christmas on a Friday, its second day on Saturday: Monday": (
        sequence(), "RO", RO_NUMBER, BUCHAREST, "2026-12-25T09:00", "2026-12-28T07:00",
    ),
    "the country of the number when the import gave none": (
        sequence(), None, RO_NUMBER, BUCHAREST, "2026-12-01T10:00", "2026-12-02T07:00",
    ),
    "a UK lead is not moved by a Romanian holiday": (
        sequence(), "GB", GB_NUMBER, LONDON, "2026-12-01T10:00", "2026-12-01T10:00",
    ),
    "the imported region beats the number's country": (
        sequence(), "GB", RO_NUMBER, BUCHAREST, "2026-12-01T10:00", "2026-12-01T10:00",
    ),
    "a UK holiday moves a UK lead (Boxing Day observed on Monday 28th)": (
        sequence(), None, GB_NUMBER, LONDON, "2026-12-24T18:00", "2026-12-29T09:00",
    ),
    "skip_holidays = false sends on a holiday": (
        sequence(skip_holidays=False), "RO", RO_NUMBER, BUCHAREST, "2026-12-01T10:00",
        "2026-12-01T10:00",
    ),
    "a skip date closes the day for every lead": (
        sequence(skip=("2026-12-23",)), "GB", GB_NUMBER, LONDON, "2026-12-23T10:00",
        "2026-12-24T09:00",
    ),
    "a skip date closes even with holidays off": (
        sequence(skip_holidays=False, skip=("2026-12-02",)), "RO", RO_NUMBER, BUCHAREST,
        "2026-12-01T16:30", "2026-12-03T07:00",
    ),
    "a skip date next to the holidays extends them": (
        sequence(skip=("2026-12-02",)), "RO", RO_NUMBER, BUCHAREST, "2026-11-30T08:00",
        "2026-12-03T07:00",
    ),
    "a number of no country: no holidays": (
        sequence(), None, "+80012345678", BUCHAREST, "2026-12-01T10:00", "2026-12-01T10:00",
    ),
    "a country the holidays package does not cover: no holidays": (
        sequence(), "AC", RO_NUMBER, BUCHAREST, "2026-12-01T10:00", "2026-12-01T10:00",
    ),
    # The local day decides, not the UTC one: Sunday 22:30 UTC is Monday 00:30 in
    # Bucharest, a holiday, and the next open moment is Wednesday 00:00 local.
    "no window: the holiday is the lead's local day": (
        sequence(None), "RO", RO_NUMBER, BUCHAREST, "2026-11-29T22:30", "2026-12-01T22:00",
    ),
    "no window: the hour before the lead's holiday is open": (
        sequence(None), "RO", RO_NUMBER, BUCHAREST, "2026-11-29T21:59", "2026-11-29T21:59",
    ),
    # A window to midnight in Bucharest spans midnight UTC in neither direction, but its
    # local day starts two hours before the UTC one.
    "a window to midnight: open to the last local minute before the holiday": (
        sequence(EVENING), "RO", RO_NUMBER, BUCHAREST, "2026-11-29T21:30", "2026-11-29T21:30",
    ),
    "a window to midnight: shut from local midnight into the holiday": (
        sequence(EVENING), "RO", RO_NUMBER, BUCHAREST, "2026-11-29T22:00", "2026-12-02T18:00",
    ),
    # New York: Friday 2026-07-03 is Independence Day observed. 22:00 EDT on the 2nd is
    # already the 3rd in UTC, and open: the lead's day is the 2nd.
    "New York: the UTC date is the holiday, the lead's is not": (
        sequence(ALL_DAY), None, US_NUMBER, NEW_YORK, "2026-07-03T02:00", "2026-07-03T02:00",
    ),
    "New York: from the lead's midnight into the holiday, the weekend, to Monday": (
        sequence(ALL_DAY, skip=("2026-07-04", "2026-07-05")), None, US_NUMBER, NEW_YORK,
        "2026-07-03T04:00", "2026-07-06T04:00",
    ),
    # Daylight saving: the next local midnight after a closed DST day is a different
    # UTC hour from the one before it.
    "spring forward day closed (Bucharest): next midnight is +3": (
        sequence(ALL_DAY, skip=("2026-03-29",)), "RO", RO_NUMBER, BUCHAREST,
        "2026-03-28T22:30", "2026-03-29T21:00",
    ),
    "fall back day closed (Bucharest): next midnight is +2": (
        sequence(ALL_DAY, skip=("2026-10-25",)), "RO", RO_NUMBER, BUCHAREST,
        "2026-10-24T21:30", "2026-10-25T22:00",
    ),
    "office hours after a closed spring-forward weekend: 09:00 EEST": (
        sequence(DAILY_OFFICE, skip=("2026-03-28", "2026-03-29")),
        "RO", RO_NUMBER, BUCHAREST, "2026-03-27T16:00", "2026-03-30T06:00",
    ),
    "New York spring forward day closed": (
        sequence(ALL_DAY, skip=("2026-03-08",)), "US", US_NUMBER, NEW_YORK,
        "2026-03-08T05:00", "2026-03-09T04:00",
    ),
}  # fmt: skip


@pytest.mark.parametrize(
    ("seq", "region", "phone", "zone", "moment", "opens"), CASES.values(), ids=CASES.keys()
)
def test_closed_days_move_the_opening(
    seq: Sequence, region: str | None, phone: str, zone: str, moment: str, opens: str
) -> None:
    closed = closed_days(seq, region, phone)
    assert next_open(seq.window, zone, utc(moment), closed) == utc(opens)
    assert is_open(seq.window, zone, utc(moment), closed) == (moment == opens)
    # The opening itself is open, and the due time of a first step is that opening.
    assert is_open(seq.window, zone, utc(opens), closed)
    assert first_due(seq, zone, utc(moment), closed) == utc(opens)


def test_a_follow_up_due_on_a_holiday_moves_to_the_next_open_day() -> None:
    seq = sequence()
    closed = closed_days(seq, "RO", RO_NUMBER)
    # Sent Saturday 2026-11-28 12:00 local: two days later is Monday 30th, a holiday, and
    # Tuesday 1st is one too.
    sent = utc("2026-11-28T10:00")
    assert next_due(seq, 1, BUCHAREST, sent) == utc("2026-11-30T10:00")
    assert next_due(seq, 1, BUCHAREST, sent, closed) == utc("2026-12-02T07:00")


@pytest.mark.parametrize(
    ("region", "phone", "country"),
    [
        ("RO", GB_NUMBER, "RO"),
        (" ro ", GB_NUMBER, "RO"),
        (None, RO_NUMBER, "RO"),
        ("", GB_NUMBER, "GB"),
        (None, US_NUMBER, "US"),
        (None, "+80012345678", "001"),  # non-geographic: a code no calendar has
        (None, "+447700900123", "GB"),  # a fictional range: the main country of its code
        (None, "not a number", None),
    ],
)
def test_the_lead_country(region: str | None, phone: str, country: str | None) -> None:
    assert lead_country(region, phone) == country


def test_no_closed_days_without_a_country_or_dates() -> None:
    assert closed_days(sequence(skip_holidays=False), "RO", RO_NUMBER) is NO_CLOSED_DAYS
    assert closed_days(sequence(), None, "not a number") is NO_CLOSED_DAYS
    assert not NO_CLOSED_DAYS
    assert ClosedDays(dates=frozenset({date(2026, 12, 24)}))
    assert date(2026, 12, 1) not in NO_CLOSED_DAYS


def test_calendars_are_built_once_per_country_and_year() -> None:
    public_holidays.cache_clear()
    closed = ClosedDays("RO")
    assert date(2026, 12, 1) in closed
    assert date(2026, 12, 2) not in closed
    assert date(2027, 12, 1) in closed
    for day in range(1, 29):
        assert (date(2026, 2, day) in closed) is False
    info = public_holidays.cache_info()
    assert (info.misses, info.currsize) == (2, 2)  # (RO, 2026) and (RO, 2027)
    assert date(2026, 12, 25) in public_holidays("RO", 2026)


def test_holidays_of_the_lead_close_a_fixed_zone_sequence_too() -> None:
    seq = replace(sequence(), timezone=BUCHAREST)
    closed = closed_days(seq, None, RO_NUMBER)
    assert not is_open(seq.window, BUCHAREST, utc("2026-12-01T10:00"), closed)
