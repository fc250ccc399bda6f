"""The date an out-of-office reply says its writer is back: a small, careful, pure parser.

It reads what automatic replies actually write, in English, German, French, Spanish and
Romanian: an ISO date (``2026-12-14``), a numeric date (``14.12.``, ``12/14/2026``), a
day and a month name in either order (``14 December``, ``December 14th``,
``14. Dezember``, ``le 14 décembre``), a weekday (``until Monday``: the next Monday
after today) and ``tomorrow``. It takes ``today`` (the lead's local date) and reads no
clock.

It prefers no date to a wrong one, since no date only means the configured delay:

* a numeric date that reads both ways (``03/04``: 3 April or 4 March) is ignored;
* a date without a year is the nearer of this year's and next year's (``5 January``
  written on 28 December is next January); one that lies in the past is no date;
* of several dates (``away from 1 to 14 December``) the latest is the return;
* a weekday counts only where no date is written (``Monday, 14 December`` is the
  14th), and two weekdays (``Monday to Friday``) are no date.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from engine.settings.replies import words

__all__ = ["return_date"]

_MONTHS: dict[str, int] = {}
for _number, _names in enumerate(
    (
        "january jan januar janvier enero ianuarie ian",
        "february feb februar fevrier febrero februarie",
        "march mar marz maerz mars marzo martie",
        "april apr avril abril aprilie",
        "may mai mayo",
        "june jun juni juin junio iunie",
        "july jul juli juillet julio iulie",
        "august aug aout agosto",
        "september sep sept septembre septiembre septembrie",
        "october oct oktober octobre octubre octombrie okt",
        "november nov novembre noviembre noiembrie",
        "december dec dezember decembre diciembre decembrie dez",
    ),
    start=1,
):
    for _name in _names.split():
        _MONTHS[_name] = _number

_WEEKDAYS: dict[str, int] = {}
for _number, _names in enumerate(
    (
        "monday montag lundi lunes luni",
        "tuesday dienstag mardi martes marti",
        "wednesday mittwoch mercredi miercoles miercuri",
        "thursday donnerstag jeudi jueves joi",
        "friday freitag vendredi viernes vineri",
        "saturday samstag samedi sabado sambata",
        "sunday sonntag dimanche domingo duminica",
    )
):
    for _name in _names.split():
        _WEEKDAYS[_name] = _number

_TOMORROW = frozenset({"tomorrow"})
_ISO = re.compile(r"(?<!\d)(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)")
_NUMERIC = re.compile(r"(?<![\d./])(\d{1,2})([./])(\d{1,2})(?:\2(\d{4}|\d{2}))?(?![\d/]|\.\d)")
_DAY = r"(\d{1,2})(?:st|nd|rd|th|er|e|o|a)?"
_MONTH = "(" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + ")"
_YEAR = r"(?: (\d{4}))?"
_DAY_MONTH = re.compile(rf"\b{_DAY} (?:of |de )?{_MONTH}\b{_YEAR}")
_MONTH_DAY = re.compile(rf"\b{_MONTH} {_DAY}\b{_YEAR}")
_NEAR_DAYS = 183  # a yearless date is this year's or next year's, whichever is nearer


def return_date(text: str, today: date) -> date | None:
    """The date ``text`` says its writer is back, on or after ``today``; ``None`` when it
    names none, only ambiguous ones, or one already past (see the module doc)."""
    dates = _dates(text, today)
    if dates:
        latest = max(dates)
        return latest if latest >= today else None
    said = words(text).split()
    weekdays = {_WEEKDAYS[w] for w in said if w in _WEEKDAYS}
    tomorrow = any(w in _TOMORROW for w in said)
    if len(weekdays) + tomorrow != 1:
        return None
    if tomorrow:
        return today + timedelta(days=1)
    ahead = (weekdays.pop() - today.weekday() - 1) % 7 + 1  # 1-7: never today
    return today + timedelta(days=ahead)


def _dates(text: str, today: date) -> list[date]:
    """Every unambiguous date in ``text`` (a past one included: it makes the answer past)."""
    found: list[date] = []
    for year, month, day in _ISO.findall(text):
        found += _valid(int(year), int(month), int(day))
    for first, _separator, second, year in _NUMERIC.findall(_ISO.sub(" ", text)):
        day_month = _numeric_order(int(first), int(second))
        if day_month is not None:
            found += _dated(day_month[0], day_month[1], year, today)
    plain = words(text)
    for day, month, year in _DAY_MONTH.findall(plain):
        found += _dated(int(day), _MONTHS[month], year, today)
    for month, day, year in _MONTH_DAY.findall(plain):
        found += _dated(int(day), _MONTHS[month], year, today)
    return found


def _numeric_order(first: int, second: int) -> tuple[int, int] | None:
    """(day, month) of a numeric date when only one order makes a date, else ``None``."""
    if first == second or second > 12 >= first:
        return (first, first) if first == second else (second, first)
    if first > 12 >= second:
        return first, second
    return None  # both orders are dates (or neither is)


def _dated(day: int, month: int, year: str, today: date) -> list[date]:
    """The date, its year completed when the text gave none (the nearer one)."""
    if year:
        full = int(year) + (2000 if len(year) == 2 else 0)
        return _valid(full, month, day)
    candidates = _valid(today.year, month, day) + _valid(today.year + 1, month, day)
    near = [c for c in candidates if abs((c - today).days) <= _NEAR_DAYS]
    return near[:1]


def _valid(year: int, month: int, day: int) -> list[date]:
    try:
        return [date(year, month, day)]
    except ValueError:
        return []
