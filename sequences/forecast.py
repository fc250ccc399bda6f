"""A campaign's forecast: day by day, the first messages and follow-ups it sends, and its last day.

Pure: it takes what is left to send, the phones, the limits and ``now``. The model
follows what the engine does, at the grain of a day:

* Days are calendar days in ``zone``: the sequence's zone, or for a ``"lead"`` sequence
  one zone the caller chooses (``[quota] timezone``) to stand for every lead's.
* A day's sending time is the time its send window is open (the whole day without a
  window); today, only what is left of it after ``now``. A closed day (``closed``: the
  public holidays of one country the caller chooses to stand for the leads', the
  sequence's skip dates) has none, as the engine sends nothing on it.
* Each active phone sends at most one message per mean jitter, ``(jitter_min_s +
  jitter_max_s) / 2``, of that time, and at most its quota of first messages (its
  warm-up ramp while young); follow-ups take no quota. Phones are pooled.
* Every send is one API call, and a follow-up ``calls_per_followup`` (2 when the sender
  reads the chat for a reply first): at most ``requests_per_minute`` for each minute of
  sending time and ``monthly_call_budget`` a calendar month, counting calls already spent.
* Every send is one of the workspace's monthly messages: at most ``messages_left_this_month``
  this month and ``messages_per_month`` each month after (both less the reserve the engine
  halts at; 0 / ``None``: not capped), as the engine halts before the reserve.
* Follow-ups go before first messages, as the dispatcher sends them. A step sent on a
  day makes the next one due as many whole days later as its delay holds (a delay under
  a day keeps it on the same day); a step not sent on its day waits for the next.
* Nobody replies, so the forecast is the longest the campaign can take.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Final
from zoneinfo import ZoneInfo

from sequences.closed_days import NO_CLOSED_DAYS, ClosedDays
from sequences.definition import SendWindow, Sequence

__all__ = [
    "HORIZON_DAYS",
    "Backlog",
    "Forecast",
    "ForecastDay",
    "Limit",
    "Limits",
    "PhoneCapacity",
    "forecast",
]

HORIZON_DAYS: Final = 3 * 366
"""How far ahead a forecast looks before it calls a campaign unfinished."""

_DAY_S: Final = 86_400
_UNPACED: Final = 10**9  # sends a phone could make in a day with no jitter at all


@dataclass(frozen=True)
class PhoneCapacity:
    """An active phone: its full daily quota, its warm-up ramp from today, today's use."""

    id: str
    quota: int
    ramp: tuple[int, ...] = ()
    """The quota of today, tomorrow, ... while the phone warms up; ``quota`` after."""
    used_today: int = 0

    def first_messages_on(self, offset_days: int) -> int:
        """New contacts the phone may still start ``offset_days`` after today."""
        limit = self.ramp[offset_days] if offset_days < len(self.ramp) else self.quota
        return max(0, limit - (self.used_today if offset_days == 0 else 0))


@dataclass(frozen=True)
class Limits:
    """Pacing (virtual seconds between two sends of a phone) and the API's limits."""

    jitter_min_s: float
    jitter_max_s: float
    requests_per_minute: int
    monthly_call_budget: int
    calls_used_this_month: int = 0
    calls_per_followup: int = 1
    """API calls a follow-up costs: 2 when the chat is read for a reply before it."""
    messages_per_month: int = 0
    """The workspace's messages a calendar month the engine may send (the limit less the
    reserve); 0: not capped after this month."""
    messages_left_this_month: int | None = None
    """What is left of them this month (the latest reading less the reserve); ``None``:
    ``messages_per_month``."""

    def messages_in(self, month: tuple[int, int], this_month: tuple[int, int]) -> int | None:
        """The messages the engine may send in ``month`` (``None``: not capped)."""
        if month == this_month and self.messages_left_this_month is not None:
            return max(0, self.messages_left_this_month)
        return self.messages_per_month if self.messages_per_month > 0 else None

    @property
    def mean_gap_s(self) -> float:
        return (self.jitter_min_s + self.jitter_max_s) / 2


@dataclass(frozen=True)
class Backlog:
    """What the campaign still has to send."""

    first_messages: int = 0
    """Leads waiting for their first message."""
    followups: Mapping[tuple[int, date], int] = field(default_factory=dict)
    """Scheduled follow-ups: (step index, the local day it is due) -> how many."""


class Limit(StrEnum):
    """What left a day's due work for later."""

    WINDOW = "send window closed"
    QUOTA = "daily quota"
    PACING = "pacing"
    API_RATE = "API rate limit"
    API_BUDGET = "monthly API budget"
    MESSAGES = "workspace message quota"


@dataclass(frozen=True)
class ForecastDay:
    """One day: sends per step index (0 is the first message) and what held it back."""

    day: date
    sends: tuple[int, ...]
    limited_by: Limit | None = None

    @property
    def first_messages(self) -> int:
        return self.sends[0]

    @property
    def followups(self) -> int:
        return sum(self.sends[1:])


@dataclass(frozen=True)
class Forecast:
    """Every day from today to the last send; ``finishes_on`` is ``None`` past the horizon."""

    days: tuple[ForecastDay, ...]
    finishes_on: date | None
    unsent: int = 0
    """Sends still left at the horizon (0 when the campaign finishes)."""

    @property
    def first_messages(self) -> int:
        return sum(day.first_messages for day in self.days)

    @property
    def followups(self) -> int:
        return sum(day.followups for day in self.days)

    @property
    def sends(self) -> int:
        """Every send the campaign has left: the forecast's and those past the horizon."""
        return self.first_messages + self.followups + self.unsent


def forecast(
    sequence: Sequence,
    backlog: Backlog,
    phones: tuple[PhoneCapacity, ...],
    limits: Limits,
    *,
    zone: str,
    now: datetime,
    closed: ClosedDays = NO_CLOSED_DAYS,
    horizon_days: int = HORIZON_DAYS,
) -> Forecast:
    """Project the campaign day by day from ``now``, sending nothing on ``closed`` days
    (see the module's model)."""
    tz = ZoneInfo(zone)
    today = now.astimezone(tz).date()
    plan = _Plan(sequence, backlog, today)
    if plan.left == 0 or not phones:
        return Forecast((), None, plan.left)
    this_month = (today.year, today.month)
    spent = Counter({this_month: limits.calls_used_this_month})
    messages_sent: Counter[tuple[int, int]] = Counter()
    days: list[ForecastDay] = []
    for offset in range(horizon_days):
        day = today + timedelta(days=offset)
        open_s = 0.0 if day in closed else _open_seconds(sequence.window, tz, day, now)
        per_phone = math.floor(open_s / limits.mean_gap_s) if limits.mean_gap_s > 0 else _UNPACED
        capacity = _Capacity(
            pacing=len(phones) * per_phone if open_s > 0 else 0,
            rate=math.floor(limits.requests_per_minute * open_s / 60),
            budget=max(0, limits.monthly_call_budget - spent[(day.year, day.month)]),
            quota=sum(phone.first_messages_on(offset) for phone in phones),
            followup_calls=max(1, limits.calls_per_followup),
            messages=_messages_room(limits, (day.year, day.month), this_month, messages_sent),
        )
        sends = plan.send_day(offset, capacity)
        spent[(day.year, day.month)] += sends[0] + sum(sends[1:]) * capacity.followup_calls
        messages_sent[(day.year, day.month)] += sum(sends)
        limited_by = capacity.limit(open_s) if plan.held_back() else None
        days.append(ForecastDay(day, sends, limited_by))
        if plan.left == 0:
            return Forecast(tuple(days), day)
    while days and not any(days[-1].sends):
        days.pop()
    return Forecast(tuple(days), None, plan.left)


def _messages_room(
    limits: Limits, month: tuple[int, int], this_month: tuple[int, int],
    sent: Counter[tuple[int, int]],
) -> int:  # fmt: skip
    """The workspace's messages still left in ``month`` (very many when not capped)."""
    allowed = limits.messages_in(month, this_month)
    return _UNPACED if allowed is None else max(0, allowed - sent[month])


@dataclass
class _Capacity:
    """Sends a day still allows: pacing, API rate and budget and the workspace's messages
    bind all; quota first messages."""

    pacing: int
    rate: int
    budget: int
    quota: int
    followup_calls: int = 1
    messages: int = _UNPACED
    start: tuple[int, int, int, int] = field(init=False)
    """Pacing, rate, budget and messages as the day began, to tell which bound it."""

    def __post_init__(self) -> None:
        self.start = (self.pacing, self.rate, self.budget, self.messages)

    def room(self, calls: int = 1) -> int:
        """Sends of ``calls`` API calls each the day still allows."""
        return min(self.pacing, self.rate // calls, self.budget // calls, self.messages)

    def calls(self, step: int) -> int:
        return 1 if step == 0 else self.followup_calls

    def take(self, count: int, calls: int = 1) -> None:
        self.pacing -= count
        self.rate -= count * calls
        self.budget -= count * calls
        self.messages -= count

    def limit(self, open_s: float) -> Limit:
        """What kept the day from sending all it had due."""
        if open_s <= 0:
            return Limit.WINDOW
        if self.room(self.followup_calls) > 0:
            return Limit.QUOTA
        pacing, rate, budget, messages = self.start
        return min(
            (messages, Limit.MESSAGES),
            (budget, Limit.API_BUDGET),
            (rate, Limit.API_RATE),
            (pacing, Limit.PACING),
        )[1]


class _Plan:
    """The work left: leads waiting for step 0 and follow-ups due by day offset."""

    def __init__(self, sequence: Sequence, backlog: Backlog, today: date) -> None:
        self.steps = len(sequence.steps)
        self.delay_days = tuple(int(step.after_s // _DAY_S) for step in sequence.steps)
        self.waiting_first = max(0, backlog.first_messages)
        self.due: defaultdict[int, Counter[int]] = defaultdict(Counter)
        self.carry: Counter[int] = Counter()
        self.left = self.waiting_first * self.steps
        for (step, day), count in backlog.followups.items():
            if 0 < step < self.steps and count > 0:
                self.due[max(0, (day - today).days)][step] += count
                self.left += count * (self.steps - step)

    def send_day(self, offset: int, capacity: _Capacity) -> tuple[int, ...]:
        """Send what the day allows: due follow-ups, then first messages, then same-day steps."""
        self.carry += self.due.pop(offset, Counter())
        sends = [0] * self.steps
        progress = True
        while progress and capacity.room() > 0:
            progress = False
            for step in sorted(self.carry):
                count = min(self.carry[step], capacity.room(capacity.calls(step)))
                if count:
                    self.carry[step] -= count
                    self._sent(offset, step, count, sends, capacity)
                    progress = True
            count = min(self.waiting_first, capacity.quota, capacity.room())
            if count:
                self.waiting_first -= count
                capacity.quota -= count
                self._sent(offset, 0, count, sends, capacity)
                progress = True
        self.carry = +self.carry  # drop the steps whose count reached zero
        return tuple(sends)

    def _sent(
        self, offset: int, step: int, count: int, sends: list[int], capacity: _Capacity
    ) -> None:
        sends[step] += count
        capacity.take(count, capacity.calls(step))
        self.left -= count
        following = step + 1
        if following < self.steps:
            if self.delay_days[following] == 0:
                self.carry[following] += count
            else:
                self.due[offset + self.delay_days[following]][following] += count

    def held_back(self) -> bool:
        """Whether work due by the day just sent is left for a later one."""
        return bool(self.carry) or self.waiting_first > 0


def _open_seconds(window: SendWindow | None, tz: ZoneInfo, day: date, now: datetime) -> float:
    """Seconds of ``day`` (local in ``tz``) the window is open, from ``now`` on."""
    midnight = datetime.combine(day, time(0), tzinfo=tz)
    next_midnight = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    if window is None:
        opens, closes = midnight, next_midnight
    elif day.weekday() not in window.days:
        return 0.0
    else:
        opens = datetime.combine(day, window.start, tzinfo=tz)
        closes = next_midnight
        if window.end is not None:
            closes = datetime.combine(day, window.end, tzinfo=tz)
    # Subtract in UTC: two times of one zone subtract as wall clocks, wrong on DST days.
    start = max(opens.astimezone(UTC), now.astimezone(UTC))
    return max(0.0, (closes.astimezone(UTC) - start).total_seconds())
