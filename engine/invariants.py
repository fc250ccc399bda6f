"""Checks of the design's invariants from the outside: the simulator's request log.

Used by the end-to-end tests, the fault-injection suite and ``outreach demo``. Every
figure comes from what TimelinesAI (the simulator) received, not from what the
engine believes it did.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select

from engine.tables import E, L, M
from engine.timelinesai.simulator import LoggedRequest

STEP_MARKER = re.compile(r"\[s(\d+)\]")


@dataclass(frozen=True)
class Send:
    """One accepted send as TimelinesAI saw it."""

    account: str
    recipient: str
    step: int
    received_at: datetime
    answered_at: datetime


@dataclass
class InvariantReport:
    """The figures of one run; ``ok`` when every invariant held."""

    sends: int = 0
    duplicates: int = 0
    overlaps: int = 0
    short_gaps: int = 0
    quota_overruns: int = 0
    min_gap_s: float | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.duplicates or self.overlaps or self.short_gaps or self.quota_overruns)

    def line(self) -> str:
        gap = "-" if self.min_gap_s is None else f"{self.min_gap_s:.1f}s"
        return (
            f"sends={self.sends} duplicates={self.duplicates} overlaps={self.overlaps} "
            f"short_gaps={self.short_gaps} quota_overruns={self.quota_overruns} min_gap={gap}"
        )


def accepted_sends(
    log: Iterable[LoggedRequest], account_of_chat: Mapping[int, str] | None = None
) -> list[Send]:
    """The accepted sends whose text carries a ``[sN]`` step marker, in arrival order."""
    sends = []
    for entry in log:
        if not entry.is_send or entry.status_code != 200 or entry.answered_at is None:
            continue
        marker = STEP_MARKER.search(entry.text or "")
        account = entry.account_phone or (account_of_chat or {}).get(entry.chat_id or -1, "")
        if marker is None or not entry.recipient_phone:
            continue
        sends.append(
            Send(
                account,
                entry.recipient_phone,
                int(marker.group(1)),
                entry.received_at,
                entry.answered_at,
            )
        )
    return sorted(sends, key=lambda s: s.received_at)


def check(
    sends: list[Send],
    *,
    jitter_min_s: float,
    speed: float,
    epoch: datetime,
    quota_per_day: Mapping[str, int],
    quota_timezone: str,
    tolerance_s: float = 0.002,
) -> InvariantReport:
    """Check one send in flight per phone, gaps, daily quotas and one send per (lead, step).

    Gaps and days are in virtual time: ``virtual = epoch + (real - epoch) * speed``.
    ``tolerance_s`` (real) absorbs timestamp rounding between processes.
    """
    report = InvariantReport(sends=len(sends))
    per_step = Counter((s.recipient, s.step) for s in sends)
    report.duplicates = sum(count - 1 for count in per_step.values() if count > 1)
    by_account: dict[str, list[Send]] = defaultdict(list)
    for send in sends:
        by_account[send.account].append(send)
    zone = ZoneInfo(quota_timezone)
    for account, items in by_account.items():
        for previous, current in itertools.pairwise(items):
            if current.received_at < previous.answered_at:
                report.overlaps += 1
                report.problems.append(f"{account}: overlapping sends at {current.received_at}")
            gap_s = (current.received_at - previous.answered_at).total_seconds() * speed
            report.min_gap_s = gap_s if report.min_gap_s is None else min(report.min_gap_s, gap_s)
            if gap_s < jitter_min_s - tolerance_s * speed:
                report.short_gaps += 1
                report.problems.append(
                    f"{account}: gap of {gap_s:.1f}s virtual before {current.received_at}"
                )
        firsts: Counter[date] = Counter(
            _virtual(s.received_at, epoch, speed).astimezone(zone).date()
            for s in items
            if s.step == 0
        )
        limit = quota_per_day.get(account)
        for day, count in firsts.items():
            if limit is not None and count > limit:
                report.quota_overruns += count - limit
                report.problems.append(f"{account}: {count} first messages on {day}, quota {limit}")
    return report


def _virtual(real: datetime, epoch: datetime, speed: float) -> datetime:
    return epoch + timedelta(seconds=(real - epoch).total_seconds() * speed)


def sends_after_replies(
    sends: Iterable[Send],
    answered_at: Mapping[str, datetime],
    in_flight: Collection[tuple[str, int]],
) -> list[str]:
    """Steps TimelinesAI received after their lead's reply was answered 200 and that were
    not in flight then: each one was claimed after the reply committed (invariant 5).

    ``answered_at``: each lead's first reply answered 200 (real time, the sender of the
    webhook's clock); ``in_flight``: (lead, step) pairs a reply found being sent
    (:func:`in_flight_at_replies`). Such a step was claimed before the reply and may
    reach TimelinesAI after the 200; nothing else may.
    """
    return [
        f"{send.recipient}: step {send.step + 1} at {send.received_at:%H:%M:%S.%f} "
        f"after a reply answered at {answered_at[send.recipient]:%H:%M:%S.%f}"
        for send in sends
        if send.recipient in answered_at
        and send.received_at > answered_at[send.recipient]
        and (send.recipient, send.step) not in in_flight
    ]


def in_flight_at_replies(connection: Connection) -> set[tuple[str, int]]:
    """(lead number, step) of every send a reply found claimed and not yet recorded."""
    rows = connection.execute(
        select(L.c.phone, M.c.in_flight_step)
        .select_from(M.join(E, E.c.id == M.c.enrollment_id).join(L, L.c.id == E.c.lead_id))
        .where(M.c.direction == "in", M.c.in_flight_step.is_not(None))
    ).all()
    return {(str(phone), int(step)) for phone, step in rows}
