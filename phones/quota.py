"""Daily new-contact quotas: the day boundary, the warm-up ramp, what is left. Pure.

A quota day is a calendar day in ``[quota] timezone``. A young phone (``started_on``
set and recent) gets a ramped quota: the warm-up is a list of steps ``(age_days,
new_contacts)``, each holding from that age (days since ``started_on``) until the next
step; ``0`` is the full quota, and the last step is always one (the age from which the
phone is warmed up). Never more than the full quota. Beside the day, an hourly cap
(``[quota] new_contacts_per_hour``) bounds the new contacts of any hour; the claim
enforces it (:mod:`engine.storage`), the dispatcher hands a phone no more than it leaves.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

HOUR: Final = timedelta(hours=1)
"""The span of the hourly cap: a sliding hour, ``(now - HOUR, now]``."""

Warmup = Sequence[Sequence[int]]
"""Steps ``(age_days, new_contacts_per_day)``, sorted by age, the first at 0: each holds
from that age until the next; ``0`` new contacts is the phone's full quota."""


def quota_day(moment: datetime, timezone: str) -> date:
    """The local day (in the quota's ``timezone``) that ``moment`` falls on."""
    return moment.astimezone(ZoneInfo(timezone)).date()


def next_quota_day_start(moment: datetime, timezone: str) -> datetime:
    """The instant the next quota day begins (local midnight), timezone-aware."""
    zone = ZoneInfo(timezone)
    tomorrow = quota_day(moment, timezone) + timedelta(days=1)
    return datetime.combine(tomorrow, time(0, 0), tzinfo=zone)


def daily_quota(full_quota: int, *, started_on: date | None, today: date, warmup: Warmup) -> int:
    """The phone's new-contact quota for ``today``, following the warm-up ramp."""
    if started_on is None or not warmup:
        return full_quota
    return warmup_quota(full_quota, (today - started_on).days, warmup)


def warmup_quota(full_quota: int, age_days: int, warmup: Warmup) -> int:
    """The quota of a phone ``age_days`` old (``warmup`` sorted by age, first at 0)."""
    if age_days < 0:
        return 0  # not started yet: no new contacts before its first day
    limit = full_quota
    for since_days, new_contacts in warmup:
        if since_days > age_days:
            break
        limit = new_contacts or full_quota
    return min(limit, full_quota)


def warmup_end(started_on: date | None, warmup: Warmup) -> date | None:
    """The first day the phone has its full quota; ``None`` without a ramp."""
    if started_on is None or not warmup:
        return None
    return started_on + timedelta(days=warmup[-1][0])


def warmup_ramp(
    full_quota: int, *, started_on: date | None, today: date, warmup: Warmup
) -> tuple[int, ...]:
    """The daily quotas of today, tomorrow, ... until the ramp ends (the forecast's view
    of :func:`daily_quota`); empty once the phone has its full quota."""
    end = warmup_end(started_on, warmup)
    days = 0 if end is None else max(0, (end - today).days)
    return tuple(
        daily_quota(full_quota, started_on=started_on, today=today + timedelta(days=offset),
                    warmup=warmup)
        for offset in range(days)
    )  # fmt: skip


def quota_left(limit: int, used: int) -> int:
    """New contacts the phone may still start today (never negative)."""
    return max(0, limit - used)


def left_now(day_left: int, *, per_hour: int, sent_in_hour: int) -> int:
    """New contacts the phone may start now: what is left of its day, and under an hourly
    cap (``per_hour``; 0: none) of its last hour, in which it started ``sent_in_hour``."""
    if per_hour <= 0:
        return day_left
    return max(0, min(day_left, per_hour - sent_in_hour))


def day_moved(claimed_day: date, sent_at: datetime, timezone: str) -> date | None:
    """The day a first message's unit must move to, if it went out on another day than the
    one it was claimed in; ``None`` when it did not.

    One claimed just before the day's end may reach TimelinesAI after it. Its unit then
    counts on the new day, where it is the phone's first send (one send in flight per
    phone, and no other send of the phone can claim before it ends), so within any
    quota; left on the old day, the new day would start one over.
    """
    sent_day = quota_day(sent_at, timezone)
    return sent_day if sent_day != claimed_day else None
