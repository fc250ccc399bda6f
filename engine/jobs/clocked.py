"""A cron trigger on the engine's clock, so sped-up runs keep their jobs' virtual rhythm.

APScheduler fires jobs on the wall clock. At ``[clock] speed = 200`` a delivery sync
every 15 minutes of the engine's time is every 4.5 real seconds: this trigger reads
APScheduler's real ``now`` as the engine's virtual time, lets a :class:`CronTrigger`
find the next virtual moment, and answers the real moment the clock shows it. At
speed 1 it is the plain cron trigger.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger


class MappedClock(Protocol):
    """A clock whose virtual and real moments map to each other (:class:`SystemClock`)."""

    def virtual_time_of(self, real: datetime) -> datetime: ...

    def real_time_of(self, virtual: datetime) -> datetime: ...


class ClockedCron(BaseTrigger):  # type: ignore[misc]
    """``expression`` (5-field cron, UTC) read on ``clock``'s virtual time."""

    def __init__(self, expression: str, clock: MappedClock) -> None:
        self.cron = CronTrigger.from_crontab(expression, timezone="UTC")
        self.clock = clock

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        """The next real moment to fire, from APScheduler's real ``now`` and last firing.

        Always after ``previous_fire_time``: a real moment is kept to the microsecond, so
        the virtual image of the last firing can fall just before the cron moment it came
        from, and that same moment must not be answered again (APScheduler would loop).
        """
        now_v = self.clock.virtual_time_of(now)
        previous_v = (
            None if previous_fire_time is None else self.clock.virtual_time_of(previous_fire_time)
        )
        while True:
            upcoming = self.cron.get_next_fire_time(previous_v, now_v)
            if upcoming is None:
                return None
            real = self.clock.real_time_of(upcoming)
            if previous_fire_time is None or real > previous_fire_time:
                return real
            previous_v = upcoming
            now_v = max(now_v, upcoming + timedelta(microseconds=1))

    def __str__(self) -> str:
        return f"{self.cron} on the engine's clock"
