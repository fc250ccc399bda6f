"""The days a sequence sends nothing to a lead: its country's public holidays, its skip dates.

A closed day is a day of the send window that stays shut, read on the lead's own
clock (the zone :func:`~sequences.windows.lead_timezone` gives): the window functions
step over it, so every place that asks whether a step may go now, and when it is due,
moves it to the next open day. The lead's country is the import's ``region``, else
the country of its number, else none (no holidays, the skip dates still close).

Holiday calendars come from the ``holidays`` package, which builds a country's year
lazily and slowly (tens of milliseconds the first time); :func:`public_holidays`
keeps each (country, year) as a set of dates, so a lookup is one set membership and
the package is imported only when a calendar is first needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Final

import phonenumbers

from sequences.definition import Sequence

__all__ = ["NO_CLOSED_DAYS", "ClosedDays", "closed_days", "lead_country", "public_holidays"]

_UNKNOWN_REGION: Final = "ZZ"  # what phonenumbers gives for a number of no one country


@dataclass(frozen=True)
class ClosedDays:
    """Local dates on which nothing is sent: the public holidays of ``country`` (an ISO
    code; ``None`` for none) and ``dates``. Test a day with ``day in closed``."""

    country: str | None = None
    dates: frozenset[date] = frozenset()

    def __contains__(self, day: object) -> bool:
        if not isinstance(day, date):
            return False
        if day in self.dates:
            return True
        return self.country is not None and day in public_holidays(self.country, day.year)

    def __bool__(self) -> bool:
        """Whether any day can be closed at all (a cheap test before reading clocks)."""
        return self.country is not None or bool(self.dates)


NO_CLOSED_DAYS: Final = ClosedDays()
"""Every day open."""


@lru_cache(maxsize=4096)
def public_holidays(country: str, year: int) -> frozenset[date]:
    """The public holidays of ``country`` (ISO code, ``RO``) in ``year``, observed days
    included; empty for a country the ``holidays`` package does not cover."""
    import holidays

    try:
        calendar = holidays.country_holidays(country, years=year)
    except NotImplementedError:
        return frozenset()
    return frozenset(calendar)


def lead_country(region: str | None, phone: str) -> str | None:
    """The lead's country: ``region`` (from the import), else the country its E.164
    ``phone`` belongs to, else ``None``."""
    if region and region.strip():
        return region.strip().upper()
    return _country_of_number(phone)


@lru_cache(maxsize=65_536)
def _country_of_number(phone: str) -> str | None:
    # Cached: the dispatcher asks for the same leads pass after pass while they wait.
    try:
        parsed = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return None
    # A number valid in no region of its code (a new range, a fictional one) still has
    # the main country of that code (+44: GB).
    region = phonenumbers.region_code_for_number(parsed) or (
        phonenumbers.region_code_for_country_code(parsed.country_code or 0)
    )
    return None if region in (None, _UNKNOWN_REGION) else str(region)


def closed_days(sequence: Sequence, lead_region: str | None, lead_phone: str) -> ClosedDays:
    """The days ``sequence`` sends nothing to the lead of ``lead_region`` and
    ``lead_phone``: its country's public holidays (unless ``skip_holidays`` is off) and
    the sequence's ``skip_dates``."""
    country = lead_country(lead_region, lead_phone) if sequence.skip_holidays else None
    if country is None and not sequence.skip_dates:
        return NO_CLOSED_DAYS
    return ClosedDays(country, sequence.skip_dates)
