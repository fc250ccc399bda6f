"""Whose clock a lead's messages follow, and when a send window is open.

A window is read on the wall clock of the lead's zone, day by day: on each of its
days it opens at the first instant the clock reads ``start`` or later and closes at
the first instant it reads ``end`` (or at the next midnight). Working in instants
rather than wall-clock readings keeps daylight-saving days well defined:

* spring forward: a ``start`` inside the skipped hour opens at the transition, the
  first instant after the gap (02:30 in New York on 2026-03-08 opens at 03:00 EDT);
* fall back: an ambiguous ``start`` or ``end`` means its first occurrence (fold=0),
  so a window never opens twice in one day nor reopens in the repeated hour.

A closed day (:class:`~sequences.closed_days.ClosedDays`: a public holiday of the
lead's country, a skip date) is a day of the window that stays shut, whole, on the
local calendar: :func:`is_open` is false all that day and :func:`next_open` moves
past it. Without a window, the closed days are the only days it is shut.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import phonenumbers
from phonenumbers import timezone as phone_timezones

from sequences.closed_days import NO_CLOSED_DAYS, ClosedDays
from sequences.definition import SendWindow
from sequences.syntax import LEAD_TIMEZONE, is_timezone

__all__ = ["is_open", "lead_timezone", "next_open", "zone_for_number"]

_UNKNOWN_ZONE = "Etc/Unknown"
_ALL_DAY = SendWindow(frozenset(range(7)), time(0), None)  # no window, but closed days


def lead_timezone(
    sequence_timezone: str, lead_timezone: str | None, lead_phone: str, fallback: str
) -> str:
    """The IANA zone whose clock decides when a lead may be messaged.

    A sequence with a fixed zone uses it. With ``"lead"``: the lead's own zone (from
    the import), else the zone its number belongs to (:func:`zone_for_number`), else
    ``fallback``.
    """
    if sequence_timezone != LEAD_TIMEZONE:
        return sequence_timezone
    if lead_timezone:
        return lead_timezone
    return zone_for_number(lead_phone) or fallback


def zone_for_number(phone: str) -> str | None:
    """The first zone ``phonenumbers`` gives for an E.164 number, or ``None`` if unknown.

    Countries with several zones (US, Russia, Brazil) are resolved by area code where
    the number allows it; otherwise the first of the country's zones is a guess, which
    is why an import's ``timezone`` column takes precedence.
    """
    try:
        parsed = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return None
    for zone in phone_timezones.time_zones_for_number(parsed):
        if zone != _UNKNOWN_ZONE and is_timezone(zone):
            return str(zone)
    return None


def is_open(
    window: SendWindow | None,
    zone: str,
    moment: datetime,
    closed: ClosedDays = NO_CLOSED_DAYS,
) -> bool:
    """Whether ``moment`` (timezone-aware) is inside ``window`` on the clock of ``zone``,
    on a day that is not ``closed``.

    No window means any time of an open day.
    """
    _require_aware(moment)
    if window is None and not closed:
        return True
    tz = ZoneInfo(zone)
    day = moment.astimezone(tz).date()
    if day in closed:
        return False
    if window is None:
        return True
    if day.weekday() not in window.days:
        return False
    opens, closes = _bounds(window, day, tz)
    return opens <= moment < closes


def next_open(
    window: SendWindow | None,
    zone: str,
    moment: datetime,
    closed: ClosedDays = NO_CLOSED_DAYS,
) -> datetime:
    """The first instant at or after ``moment`` inside ``window`` on a day that is not
    ``closed``, as timezone-aware UTC.

    That is ``moment`` itself when the window is open then (or there is no window and
    the day is open).
    """
    _require_aware(moment)
    if window is None and not closed:
        return moment.astimezone(UTC)
    window = window or _ALL_DAY
    tz = ZoneInfo(zone)
    day = moment.astimezone(tz).date()
    # Ends: SendWindow has at least one day, only a DST day can empty a window, and a
    # year holds a few dozen closed days at most (a country's holidays, a finite list).
    while True:
        if day.weekday() in window.days and day not in closed:
            opens, closes = _bounds(window, day, tz)
            if moment < closes and opens < closes:
                return max(opens, moment).astimezone(UTC)
        day += timedelta(days=1)


def _bounds(window: SendWindow, day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants the window opens and closes on the local ``day``."""
    opens = _first_instant_at(day, window.start, tz)
    if window.end is None:
        return opens, _first_instant_at(day + timedelta(days=1), time(0), tz)
    return opens, _first_instant_at(day, window.end, tz)


def _first_instant_at(day: date, wall: time, tz: ZoneInfo) -> datetime:
    """The first UTC instant at which the clock of ``tz`` on ``day`` reads ``wall`` or later."""
    local = datetime.combine(day, wall, tzinfo=tz)  # fold=0: the first of two occurrences
    instant = local.astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) == local.replace(tzinfo=None):
        return instant
    # ``wall`` was skipped by a spring-forward gap. With fold=0 it converts with the
    # offset before the gap and lands after the transition, with fold=1 with the offset
    # after it and lands before; the clock first reads ``wall`` or later at the
    # transition itself, found by bisecting whole seconds (tzdata's unit).
    low, high = local.replace(fold=1).astimezone(UTC), instant
    offset_after = high.astimezone(tz).utcoffset()
    while high - low > timedelta(seconds=1):
        middle = (low + (high - low) / 2).replace(microsecond=0)
        if middle.astimezone(tz).utcoffset() == offset_after:
            high = middle
        else:
            low = middle
    return high


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment.isoformat()}; pass a timezone-aware moment")
