"""Daily new-contact quotas: the day boundary, the warm-up ramp, what is left. Pure.

A quota day is a calendar day in ``[quota] timezone``. A young phone (``started_on``
set and recent) gets a ramped quota: ``warmup[k]`` new contacts a day in its week
k (counting from 0), then the full quota; never more than the full quota.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def quota_day(moment: datetime, timezone: str) -> date:
    """The local day (in the quota's ``timezone``) that ``moment`` falls on."""
    return moment.astimezone(ZoneInfo(timezone)).date()


def next_quota_day_start(moment: datetime, timezone: str) -> datetime:
    """The instant the next quota day begins (local midnight), timezone-aware."""
    zone = ZoneInfo(timezone)
    tomorrow = quota_day(moment, timezone) + timedelta(days=1)
    return datetime.combine(tomorrow, time(0, 0), tzinfo=zone)


def daily_quota(
    full_quota: int, *, started_on: date | None, today: date, warmup: Sequence[int]
) -> int:
    """The phone's new-contact quota for ``today``, following the warm-up ramp."""
    if started_on is None or not warmup:
        return full_quota
    age_days = (today - started_on).days
    if age_days < 0:
        return 0  # not started yet: no new contacts before its first day
    week = age_days // 7
    if week >= len(warmup):
        return full_quota
    return min(warmup[week], full_quota)


def quota_left(limit: int, used: int) -> int:
    """New contacts the phone may still start today (never negative)."""
    return max(0, limit - used)


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
