"""Build the runtime's shared objects (clock, database) from settings, once, at the edge."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from engine.clock import SystemClock
from engine.db import Database
from engine.settings import Settings


def build_clock(settings: Settings) -> SystemClock:
    """The runtime clock: real time, or sped up around the configured shared epoch."""
    return SystemClock(speed=settings.clock.speed, epoch=settings.clock.epoch)


def build_database(settings: Settings, *, pool_size: int = 5) -> Database:
    """The database of ``settings`` (not migrated: see :meth:`Database.upgrade`)."""
    return Database(settings.database.url, pool_size=pool_size)


def quota_day(moment: datetime, timezone: str) -> date:
    """The local day (in the quota's ``timezone``) that ``moment`` falls on."""
    return moment.astimezone(ZoneInfo(timezone)).date()
