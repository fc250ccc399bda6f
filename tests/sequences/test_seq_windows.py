"""Send windows on the lead's clock, across weekends and daylight-saving transitions."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from sequences import SendWindow, is_open, lead_timezone, next_open, zone_for_number
from sequences.syntax import parse_days, parse_end_time, parse_time

BUCHAREST = "Europe/Bucharest"  # EET +2 / EEST +3; 2026-03-29 03:00->04:00, 2026-10-25 04:00->03:00
NEW_YORK = "America/New_York"  # EST -5 / EDT -4; 2026-03-08 02:00->03:00, 2026-11-01 02:00->01:00

OFFICE = SendWindow(parse_days("mon-fri"), time(9), time(18))


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def window(start: str, end: str, days: str = "daily") -> SendWindow:
    return SendWindow(parse_days(days), parse_time(start), parse_end_time(end))


@pytest.mark.parametrize(
    ("moment", "opens"),
    [
        # Monday 2026-01-05, Bucharest is UTC+2: 09:00-18:00 local is 07:00-16:00 UTC.
        ("2026-01-05T07:00:00", "2026-01-05T07:00:00"),
        ("2026-01-05T12:34:56", "2026-01-05T12:34:56"),
        ("2026-01-05T06:59:59", "2026-01-05T07:00:00"),
        ("2026-01-05T15:59:59", "2026-01-05T15:59:59"),
        ("2026-01-05T16:00:00", "2026-01-06T07:00:00"),  # the end is exclusive
        ("2026-01-09T16:30:00", "2026-01-12T07:00:00"),  # Friday evening -> Monday
        ("2026-01-10T10:00:00", "2026-01-12T07:00:00"),  # Saturday
        # Sunday 22:30 UTC is already Monday 00:30 in Bucharest: the local day counts.
        ("2026-01-11T22:30:00", "2026-01-12T07:00:00"),
        ("2026-01-04T21:59:00", "2026-01-05T07:00:00"),
    ],
)
def test_office_hours_in_bucharest(moment: str, opens: str) -> None:
    assert next_open(OFFICE, BUCHAREST, utc(moment)) == utc(opens)
    assert is_open(OFFICE, BUCHAREST, utc(moment)) == (moment == opens)


@pytest.mark.parametrize(
    ("zone", "start", "end", "moment", "opens"),
    [
        # Spring forward in Bucharest: 03:30 does not exist; the window opens at the first
        # instant after the gap, 04:00 EEST = 01:00 UTC.
        (BUCHAREST, "03:30", "10:00", "2026-03-29T00:00:00", "2026-03-29T01:00:00"),
        (BUCHAREST, "03:30", "10:00", "2026-03-29T00:59:59", "2026-03-29T01:00:00"),
        (BUCHAREST, "03:00", "10:00", "2026-03-29T00:30:00", "2026-03-29T01:00:00"),
        (BUCHAREST, "09:00", "18:00", "2026-03-28T00:00:00", "2026-03-28T07:00:00"),
        (BUCHAREST, "09:00", "18:00", "2026-03-29T00:00:00", "2026-03-29T06:00:00"),
        (BUCHAREST, "09:00", "18:00", "2026-03-30T00:00:00", "2026-03-30T06:00:00"),
        # Fall back in Bucharest: 03:30 happens twice; the first (EEST) is used.
        (BUCHAREST, "03:30", "10:00", "2026-10-25T00:00:00", "2026-10-25T00:30:00"),
        (BUCHAREST, "09:00", "18:00", "2026-10-24T00:00:00", "2026-10-24T06:00:00"),
        (BUCHAREST, "09:00", "18:00", "2026-10-25T00:00:00", "2026-10-25T07:00:00"),
        # The window closes at the first 03:30 and stays closed through the repeated hour.
        (BUCHAREST, "01:00", "03:30", "2026-10-25T01:10:00", "2026-10-25T23:00:00"),
        # Spring forward in New York: 02:30 does not exist; 03:00 EDT = 07:00 UTC.
        (NEW_YORK, "02:30", "10:00", "2026-03-08T05:00:00", "2026-03-08T07:00:00"),
        (NEW_YORK, "02:00", "10:00", "2026-03-08T06:59:00", "2026-03-08T07:00:00"),
        (NEW_YORK, "09:00", "17:00", "2026-03-07T00:00:00", "2026-03-07T14:00:00"),
        (NEW_YORK, "09:00", "17:00", "2026-03-08T00:00:00", "2026-03-08T13:00:00"),
        # A window wholly inside the gap is empty that day: the next day's opening.
        (NEW_YORK, "02:10", "02:40", "2026-03-08T06:00:00", "2026-03-09T06:10:00"),
        # Fall back in New York: 01:30 happens twice; the first (EDT, 05:30 UTC) is used.
        (NEW_YORK, "01:30", "10:00", "2026-11-01T04:00:00", "2026-11-01T05:30:00"),
        (NEW_YORK, "01:30", "10:00", "2026-11-01T06:45:00", "2026-11-01T06:45:00"),
        (NEW_YORK, "00:00", "01:30", "2026-11-01T06:15:00", "2026-11-02T05:00:00"),
        (NEW_YORK, "09:00", "17:00", "2026-11-01T00:00:00", "2026-11-01T14:00:00"),
        # Up to midnight: 24:00 is the end of the local day.
        (BUCHAREST, "22:00", "24:00", "2026-01-05T21:59:59", "2026-01-05T21:59:59"),
        (BUCHAREST, "22:00", "24:00", "2026-01-05T22:00:00", "2026-01-06T20:00:00"),
        (BUCHAREST, "22:00", "24:00", "2026-03-28T21:30:00", "2026-03-28T21:30:00"),
    ],
)
def test_daylight_saving_transitions(
    zone: str, start: str, end: str, moment: str, opens: str
) -> None:
    daily = window(start, end)
    assert next_open(daily, zone, utc(moment)) == utc(opens)
    assert is_open(daily, zone, utc(moment)) == (moment == opens)


@pytest.mark.parametrize(
    ("zone", "start", "end", "moment", "open_"),
    [
        # The repeated hour after fall back: 03:10 EET (01:10 UTC) is after the first 03:30.
        (BUCHAREST, "01:00", "03:30", "2026-10-25T00:20:00", True),
        (BUCHAREST, "01:00", "03:30", "2026-10-25T00:30:00", False),
        (BUCHAREST, "01:00", "03:30", "2026-10-25T01:10:00", False),
        (BUCHAREST, "03:30", "10:00", "2026-10-25T01:10:00", True),
        (NEW_YORK, "02:10", "02:40", "2026-03-08T07:00:00", False),
        (NEW_YORK, "00:00", "01:30", "2026-11-01T05:15:00", True),
        (NEW_YORK, "00:00", "01:30", "2026-11-01T06:15:00", False),
    ],
)
def test_is_open_around_transitions(
    zone: str, start: str, end: str, moment: str, open_: bool
) -> None:
    assert is_open(window(start, end), zone, utc(moment)) is open_


@pytest.mark.parametrize("zone", [BUCHAREST, NEW_YORK, "Australia/Lord_Howe", "Asia/Kolkata"])
@pytest.mark.parametrize(
    "send_window",
    [OFFICE, window("02:30", "03:30"), window("00:00", "24:00", "sat"), window("01:00", "02:00")],
)
def test_next_open_is_the_first_open_instant_all_year(zone: str, send_window: SendWindow) -> None:
    moment = utc("2026-01-01T00:00:00")
    while moment.year == 2026:
        opens = next_open(send_window, zone, moment)
        assert opens >= moment and opens.utcoffset() == timedelta(0)
        assert is_open(send_window, zone, opens)
        if opens > moment:
            assert not is_open(send_window, zone, opens - timedelta(seconds=1))
            assert not is_open(send_window, zone, moment)
        moment += timedelta(hours=7, minutes=13)


def test_no_window_means_now_in_utc() -> None:
    moment = datetime(2026, 1, 5, 3, 0, tzinfo=ZoneInfo(BUCHAREST))
    assert next_open(None, BUCHAREST, moment) == moment
    assert next_open(None, BUCHAREST, moment).tzinfo is UTC
    assert is_open(None, BUCHAREST, moment)


def test_any_aware_moment_works_and_naive_is_refused() -> None:
    moment = datetime(2026, 1, 5, 9, 30, tzinfo=timezone(timedelta(hours=2)))
    assert is_open(OFFICE, BUCHAREST, moment)
    with pytest.raises(ValueError, match="naive"):
        next_open(OFFICE, BUCHAREST, datetime(2026, 1, 5, 9, 30))
    with pytest.raises(ValueError, match="naive"):
        is_open(None, BUCHAREST, datetime(2026, 1, 5, 9, 30))


@pytest.mark.parametrize(
    ("sequence_zone", "lead_zone", "phone", "expected"),
    [
        ("Europe/London", "America/New_York", "+40712345678", "Europe/London"),
        ("lead", "America/New_York", "+40712345678", "America/New_York"),
        ("lead", None, "+40712345678", BUCHAREST),
        ("lead", "", "+40712345678", BUCHAREST),
        ("lead", None, "+12125551234", NEW_YORK),
        ("lead", None, "+14155550123", "America/Los_Angeles"),
        ("lead", None, "+5511987654321", "America/Sao_Paulo"),
        ("lead", None, "+80012345678", "UTC"),  # non-geographic: Etc/Unknown only
        ("lead", None, "not a number", "UTC"),
    ],
)
def test_lead_timezone(
    sequence_zone: str, lead_zone: str | None, phone: str, expected: str
) -> None:
    assert lead_timezone(sequence_zone, lead_zone, phone, "UTC") == expected


def test_zone_for_number_skips_unknown() -> None:
    assert zone_for_number("+882346789012") is None
    assert zone_for_number("+447911123456") is not None
