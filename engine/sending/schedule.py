"""When things happen around one send: its quota unit, how long its claim holds the
phone, the phone's next gap and the next step's due time. Read from the settings once;
the random gaps come from the one ``rng`` the worker seeds."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from engine.settings import Settings
from engine.storage import Quota, SendStore
from phones.pacing import hold_after_claim, next_send_at
from phones.quota import daily_quota, day_moved, quota_day
from sequences import ClosedDays, Sequence, next_due


@dataclass
class Schedule:
    """The send path's timing rules for one worker process."""

    settings: Settings
    speed: float
    rng: random.Random

    def quota(self, step: int, phone_id: str, now: datetime) -> Quota | None:
        """The unit a first message takes: today's (local) limit of its phone, under the
        hourly cap of every phone."""
        if step != 0:
            return None
        day = self.day_of(now)
        try:
            phone = self.settings.phone(phone_id)
        except KeyError:  # removed from the config: it starts nobody new
            return Quota(day, 0)
        limit = daily_quota(
            self.settings.quota_for(phone), started_on=phone.started_on, today=day,
            warmup=self.settings.quota.warmup,
        )  # fmt: skip
        return Quota(day, limit, self.settings.quota.new_contacts_per_hour)

    def day_of(self, moment: datetime) -> date:
        """The quota day ``moment`` falls on (the quota's own time zone)."""
        return quota_day(moment, self.settings.quota.timezone)

    def count_on_the_day_sent(
        self, store: SendStore, phone_id: str, claimed_day: date, sent_at: datetime
    ) -> None:
        """Move a first message's unit to the day it went out on (:func:`day_moved`)."""
        moved = day_moved(claimed_day, sent_at, self.settings.quota.timezone)
        if moved is not None:
            store.move_quota(phone_id, claimed_day, moved)

    def hold(self) -> timedelta:
        """How long a claimed send holds its phone in the database: past the lease's end."""
        return hold_after_claim(
            self.settings.pacing.jitter_min_s, self.settings.worker.lease_ttl_s, self.speed
        )

    def next_send_at(self, now: datetime) -> datetime:
        """When the phone may send again after an attempt at ``now``: a random gap."""
        pacing = self.settings.pacing
        return next_send_at(now, pacing.jitter_min_s, pacing.jitter_max_s, self.rng)

    @staticmethod
    def next_due(
        sequence: Sequence, step: int, zone: str, sent_at: datetime, closed: ClosedDays
    ) -> datetime | None:
        """When the step after ``step`` is due, in the lead's ``zone`` and off its
        ``closed`` days; ``None`` after the last."""
        if step + 1 >= len(sequence.steps):
            return None
        due: datetime = next_due(sequence, step + 1, zone, sent_at, closed)
        return due
