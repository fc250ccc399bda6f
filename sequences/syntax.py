"""The small languages of a sequence definition: durations, weekday lists, clock times, zones.

Each parser takes the text from the config and returns a value or raises
``ValueError`` with a message that says what is accepted; the caller adds the key.
"""

from __future__ import annotations

import re
from datetime import date, time
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "LEAD_TIMEZONE",
    "WEEKDAYS",
    "is_timezone",
    "parse_date",
    "parse_days",
    "parse_duration_s",
    "parse_end_time",
    "parse_time",
]

LEAD_TIMEZONE: Final = "lead"
"""The ``timezone`` value that means: each lead's own zone."""

WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Weekday names in ``datetime.weekday()`` order (0 = Monday)."""

_UNIT_S: Final = {"s": 1, "m": 60, "h": 3_600, "d": 86_400}
_DURATION: Final = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_TIME: Final = re.compile(r"(\d{1,2}):(\d{2})")
_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")
_DAY_ALIASES: Final = {"daily": "mon-sun", "weekdays": "mon-fri", "weekends": "sat-sun"}


def parse_duration_s(text: str) -> float:
    """Seconds in ``<number><unit>``: ``90s``, ``15m``, ``1.5h``, ``2d`` (``d`` is 24 hours)."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise ValueError(
            f"{text!r} is not a duration; write a number and a unit s, m, h or d, e.g. '2d'"
        )
    return float(match[1]) * _UNIT_S[match[2]]


def parse_days(text: str) -> frozenset[int]:
    """Weekdays (0 = Monday) from ``mon-fri``, ``mon,wed,fri``, ``sat-sun``, ``daily``.

    Items are separated by commas; a range may wrap the week (``fri-mon`` is Friday to
    Monday). ``weekdays`` and ``weekends`` are accepted too. Case and spaces are ignored.
    """
    spec = _DAY_ALIASES.get(text.strip().lower(), text.strip().lower())
    days: set[int] = set()
    for item in spec.split(","):
        first, dash, last = (part.strip() for part in item.partition("-"))
        start = _weekday(first, text)
        end = _weekday(last, text) if dash else start
        days.update((start + offset) % 7 for offset in range((end - start) % 7 + 1))
    return frozenset(days)


def parse_date(text: str) -> date:
    """The calendar date in ``YYYY-MM-DD`` (``2026-12-24``)."""
    stripped = text.strip()
    try:
        if _DATE.fullmatch(stripped) is None:
            raise ValueError
        return date.fromisoformat(stripped)
    except ValueError:
        raise ValueError(f"{text!r} is not a date; write YYYY-MM-DD, e.g. '2026-12-24'") from None


def _weekday(name: str, text: str) -> int:
    if name not in WEEKDAYS:
        raise ValueError(
            f"{text!r} is not a list of days; use mon..sun with ranges and commas, "
            "e.g. 'mon-fri', 'mon,wed,fri' or 'daily'"
        )
    return WEEKDAYS.index(name)


def parse_time(text: str) -> time:
    """The clock time in ``HH:MM``, from 00:00 to 23:59."""
    hour, minute = _hour_minute(text)
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise ValueError(f"{text!r} is not a time; write HH:MM from 00:00 to 23:59")
    return time(hour, minute)


def parse_end_time(text: str) -> time | None:
    """Like :func:`parse_time`, and ``24:00`` (the end of the day) gives ``None``."""
    if _hour_minute(text) == (24, 0):
        return None
    try:
        return parse_time(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a time; write HH:MM from 00:00 to 24:00") from None


def _hour_minute(text: str) -> tuple[int, int]:
    match = _TIME.fullmatch(text.strip())
    return (int(match[1]), int(match[2])) if match else (-1, -1)


def is_timezone(name: str) -> bool:
    """Whether ``name`` is an IANA timezone this machine knows (``Europe/Bucharest``)."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True
