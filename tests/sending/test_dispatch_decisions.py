"""The dispatcher's window decision: which due steps go now, and when the others' window opens."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from engine.dispatcher import split_by_window
from engine.storage.dispatch import Candidate
from sequences import SendWindow, Sequence
from sequences.syntax import parse_days

TUESDAY = datetime(2026, 1, 13, 10, 0, tzinfo=UTC)
OFFICE = SendWindow(parse_days("mon-fri"), time(9), time(17))
SEQUENCES = {
    "anytime": Sequence("anytime", "UTC", None, True, ()),
    "office_utc": Sequence("office_utc", "UTC", OFFICE, True, ()),
    "office_lead": Sequence("office_lead", "lead", OFFICE, True, ()),
}
FALLBACK = "Europe/Bucharest"  # UTC+2 in January
SEND = "send"  # expected: sendable now


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# id: (now, sequence, lead's zone, lead's number, expected: SEND, the opening, or None)
CASES: dict[str, tuple[datetime, str, str | None, str, str | datetime | None]] = {
    "no window: any time": (utc("2026-01-17T03:00"), "anytime", None, "+40712000000", SEND),
    "inside the window": (TUESDAY, "office_utc", None, "+40712000000", SEND),
    "before today's opening": (utc("2026-01-13T08:00"), "office_utc", None, "+40712000000",
                               utc("2026-01-13T09:00")),
    "after the close: tomorrow": (utc("2026-01-13T17:00"), "office_utc", None, "+40712000000",
                                  utc("2026-01-14T09:00")),
    "saturday: monday": (utc("2026-01-17T12:00"), "office_utc", None, "+40712000000",
                         utc("2026-01-19T09:00")),
    "a fixed zone beats the lead's": (TUESDAY, "office_utc", "America/New_York", "+12125550100",
                                      SEND),
    "the lead's zone (05:00 in New York)": (TUESDAY, "office_lead", "America/New_York",
                                            "+40712000000", utc("2026-01-13T14:00")),
    "the number's zone (19:00 in Tokyo)": (TUESDAY, "office_lead", None, "+81312345678",
                                           utc("2026-01-14T00:00")),
    "the fallback zone for an unknown number": (utc("2026-01-13T06:30"), "office_lead", None,
                                                "+80012345678", utc("2026-01-13T07:00")),
    "a sequence gone from the config: neither": (TUESDAY, "removed", None, "+40712000000", None),
}  # fmt: skip


@pytest.mark.parametrize(
    ("now", "sequence", "zone", "number", "expected"), CASES.values(), ids=CASES.keys()
)
def test_a_due_step_goes_now_or_waits_for_its_window(
    now: datetime, sequence: str, zone: str | None, number: str, expected: str | datetime | None
) -> None:
    candidate = Candidate(7, 1, sequence, "01", number, zone)
    sendable, deferred = split_by_window(now, [candidate], SEQUENCES, FALLBACK)
    if expected == SEND:
        assert (sendable, deferred) == ([candidate], [])
    elif expected is None:
        assert (sendable, deferred) == ([], [])
    else:
        assert (sendable, deferred) == ([], [(7, expected)])


def test_a_mixed_batch_keeps_its_order() -> None:
    saturday = utc("2026-01-17T12:00")
    batch = [
        Candidate(i, 0, name, None, "+40712000000", None)
        for i, name in enumerate(["anytime", "office_utc", "removed", "anytime", "office_utc"])
    ]
    sendable, deferred = split_by_window(saturday, batch, SEQUENCES, FALLBACK)
    assert [c.id for c in sendable] == [0, 3]
    assert deferred == [(1, utc("2026-01-19T09:00")), (4, utc("2026-01-19T09:00"))]


def test_a_lead_on_a_public_holiday_of_its_country_waits_and_others_go() -> None:
    # Tuesday 2026-12-01, Romania's National Day, 10:00 UTC: inside every window here.
    holiday = utc("2026-12-01T10:00")
    batch = [
        Candidate(1, 0, "office_lead", None, "+40712000000", None),  # Romanian by its number
        Candidate(2, 0, "office_lead", None, "+447400123456", None),  # British
        Candidate(3, 0, "anytime", None, "+40712000000", None, lead_region="RO"),
        Candidate(4, 0, "anytime", None, "+40712000000", None, lead_region="GB"),
        Candidate(5, 0, "office_utc", None, "+40712000000", "Europe/Bucharest"),
    ]
    sendable, deferred = split_by_window(holiday, batch, SEQUENCES, FALLBACK)
    assert [c.id for c in sendable] == [2, 4]
    assert deferred == [
        (1, utc("2026-12-02T07:00")),  # 09:00 in Bucharest, the next day
        (3, utc("2026-12-02T00:00")),  # no window: the next midnight of its zone (UTC)
        (5, utc("2026-12-02T09:00")),  # a fixed zone's window, the lead's holiday
    ]
