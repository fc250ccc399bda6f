"""The safety benchmark's figures, computed from what TimelinesAI (the simulator) received.

Pure: the run (:mod:`bench.safety`) reads the simulator's request log and the database,
turns them into :class:`Attempt` rows in virtual time, and these functions count, per
phone and virtual day, what a careful human would and would not have done. Every
"never" figure has a test that feeds it known-bad input (tests/bench/test_safety.py).
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta

_WORD = re.compile(r"\w+")
_HOUR = timedelta(hours=1)

# The figures that must be 0, with the words the table prints for them.
NEVER = {
    "to_suppressed": "sends to suppressed numbers",
    "quota_overruns": "new chats over the day's quota",
    "hourly_overruns": "new chats over the hourly cap",
    "near_duplicates": "near-identical first-message pairs",
    "overlaps": "two sends of one phone at once",
    "steps_twice": "steps sent twice",
    "after_reply": "steps claimed after a reply",
}


@dataclass(frozen=True)
class Attempt:
    """One send TimelinesAI received (accepted or refused), times virtual UTC.

    ``step``: the sequence step (the ``[sN]`` marker in the text).
    """

    phone_id: str
    recipient: str
    step: int
    text: str
    received_at: datetime
    answered_at: datetime
    accepted: bool


@dataclass
class PhoneDay:
    """One phone's figures on one virtual day."""

    phone_id: str
    day: date
    quota: int
    new_chats: int = 0
    followups: int = 0
    refused: int = 0
    max_per_hour: int = 0
    min_gap_s: float | None = None
    near_duplicates: int = 0
    to_suppressed: int = 0
    breaker_trips: int = 0
    quota_overruns: int = 0
    hourly_overruns: int = 0
    overlaps: int = 0

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["day"] = self.day.isoformat()
        return data


@dataclass
class Figures:
    """The whole run: a row per phone and day, and the totals of the "never" checks."""

    rows: list[PhoneDay] = field(default_factory=list)
    steps_twice: int = 0
    after_reply: int = 0
    problems: list[str] = field(default_factory=list)

    def never(self) -> dict[str, int]:
        """Each "never" figure over the run (all must be 0)."""
        totals = {name: sum(getattr(row, name, 0) for row in self.rows) for name in NEVER}
        totals["steps_twice"], totals["after_reply"] = self.steps_twice, self.after_reply
        return totals

    @property
    def ok(self) -> bool:
        return not any(self.never().values())


def shingles(text: str, size: int = 3) -> frozenset[tuple[str, ...]]:
    """The text's runs of ``size`` words, case-folded (the whole text when it is shorter):
    the issue's word shingles, three words as the engine's rule counts them."""
    words = [word.casefold() for word in _WORD.findall(text)]
    if len(words) <= size:
        return frozenset({tuple(words)})
    return frozenset(tuple(words[i : i + size]) for i in range(len(words) - size + 1))


def jaccard(a: frozenset[tuple[str, ...]], b: frozenset[tuple[str, ...]]) -> float:
    """|a ∩ b| / |a ∪ b|; 1.0 for two empty sets."""
    union = len(a | b)
    return len(a & b) / union if union else 1.0


def text_similarity(first: str, second: str) -> float:
    """Word-shingle Jaccard of two texts: the benchmark's own measure, used until the
    engine has one (``spintax.text_similarity``), which the run then uses instead."""
    return jaccard(shingles(first), shingles(second))


Similarity = Callable[[str, str], float]


def near_duplicates(
    texts: list[str], *, window: int, threshold: float, similarity: Similarity = text_similarity
) -> list[int]:
    """For each text, how many of the ``window`` texts before it are at least ``threshold``
    similar: what a phone should never send."""
    return [
        sum(similarity(texts[i], texts[j]) >= threshold for j in range(max(0, i - window), i))
        for i in range(len(texts))
    ]


def rolling_hour_counts(moments: list[datetime]) -> list[int]:
    """For each of ``moments`` (sorted), how many fall in the hour that ends with it."""
    counts, start = [], 0
    for end, moment in enumerate(moments):
        while moment - moments[start] >= _HOUR:
            start += 1
        counts.append(end - start + 1)
    return counts


class _Rows(dict[tuple[str, date], PhoneDay]):
    """The rows by (phone, day), made on first use with that day's quota."""

    def __init__(self, quotas: Mapping[tuple[str, date], int]) -> None:
        super().__init__()
        self._quotas = quotas
        for phone_id, day in quotas:
            self.at(phone_id, day)

    def at(self, phone_id: str, day: date) -> PhoneDay:
        key = (phone_id, day)
        if key not in self:
            self[key] = PhoneDay(phone_id, day, self._quotas.get(key, 0))
        return self[key]


def compute(
    attempts: Iterable[Attempt],
    *,
    quotas: Mapping[tuple[str, date], int],
    hourly_cap: int,
    suppressed_at: Mapping[str, datetime],
    in_flight: Collection[tuple[str, int]],
    replied_at: Mapping[str, datetime],
    breaker_trips: Iterable[tuple[str, datetime]],
    similarity: tuple[int, float] = (20, 0.8),
    measure: Similarity = text_similarity,
) -> Figures:
    """Count everything per phone and virtual (UTC) day.

    ``quotas``: each phone's new-chat quota per day (its warm-up); ``suppressed_at``: when
    each suppressed number went on the list; ``replied_at``: each lead's first reply
    answered by the receiver; ``in_flight``: (lead, step) sends a reply or a suppression
    found already claimed (they may still arrive; nothing else may); ``breaker_trips``:
    (phone, moment) of each ``phone_cooling`` alert; ``similarity``: the last N first
    messages a new one is compared with, and the Jaccard that makes two near-identical;
    ``measure``: how alike two texts are (0 to 1). ``hourly_cap`` 0: no cap.
    """
    ordered = sorted(attempts, key=lambda a: a.received_at)
    figures = Figures()
    rows = _Rows(quotas)
    by_phone: dict[str, list[Attempt]] = defaultdict(list)
    for attempt in ordered:
        by_phone[attempt.phone_id].append(attempt)
        _count_suppressed(attempt, suppressed_at, in_flight, rows, figures.problems)
    for items in by_phone.values():
        _phone_figures(items, rows, hourly_cap, (*similarity, measure), figures.problems)
    accepted = [a for a in ordered if a.accepted]
    seen: set[tuple[str, int]] = set()
    for attempt in accepted:
        key = (attempt.recipient, attempt.step)
        if key in seen:
            figures.steps_twice += 1
            figures.problems.append(f"{attempt.recipient}: step {attempt.step + 1} sent twice")
        seen.add(key)
        replied = replied_at.get(attempt.recipient)
        if replied is not None and attempt.received_at > replied and key not in in_flight:
            figures.after_reply += 1
            figures.problems.append(f"{attempt.recipient}: step {attempt.step + 1} after a reply")
    for phone_id, moment in breaker_trips:
        rows.at(phone_id, moment.date()).breaker_trips += 1
    for item in rows.values():
        item.quota_overruns = max(0, item.new_chats - item.quota)
    figures.rows = sorted(rows.values(), key=lambda r: (r.day, r.phone_id))
    return figures


def _count_suppressed(
    attempt: Attempt,
    suppressed_at: Mapping[str, datetime],
    in_flight: Collection[tuple[str, int]],
    rows: _Rows,
    problems: list[str],
) -> None:
    listed = suppressed_at.get(attempt.recipient)
    if listed is None or attempt.received_at <= listed:
        return
    if (attempt.recipient, attempt.step) in in_flight:
        return  # claimed before the number was listed: it may finish
    rows.at(attempt.phone_id, attempt.received_at.date()).to_suppressed += 1
    problems.append(f"{attempt.recipient}: step {attempt.step + 1} after it was suppressed")


def _phone_figures(
    items: list[Attempt],
    rows: _Rows,
    hourly_cap: int,
    similarity: tuple[int, float, Similarity],
    problems: list[str],
) -> None:
    """One phone's new chats, follow-ups, refusals, overlaps, gaps, hourly peaks and
    near-duplicates (``items`` in arrival order)."""

    def day_of(attempt: Attempt) -> PhoneDay:
        return rows.at(attempt.phone_id, attempt.received_at.date())

    for attempt in items:
        if not attempt.accepted:
            day_of(attempt).refused += 1
        elif attempt.step == 0:
            day_of(attempt).new_chats += 1
        else:
            day_of(attempt).followups += 1
    for previous, current in itertools.pairwise(items):
        if current.received_at < previous.answered_at:
            day_of(current).overlaps += 1
            problems.append(f"phone {current.phone_id}: two sends at once at {current.received_at}")
    accepted = [a for a in items if a.accepted]
    for previous, current in itertools.pairwise(accepted):
        gap_s = (current.received_at - previous.answered_at).total_seconds()
        day = day_of(current)
        day.min_gap_s = gap_s if day.min_gap_s is None else min(day.min_gap_s, gap_s)
    firsts = [a for a in accepted if a.step == 0]
    window, threshold, measure = similarity
    texts = [a.text for a in firsts]
    pairs_of = near_duplicates(texts, window=window, threshold=threshold, similarity=measure)
    for attempt, pairs in zip(firsts, pairs_of, strict=True):
        day_of(attempt).near_duplicates += pairs
    # An hour is counted on the day it ends (one crossing midnight counts for the new day).
    for attempt, count in zip(
        firsts, rolling_hour_counts([a.received_at for a in firsts]), strict=True
    ):
        day = day_of(attempt)
        day.max_per_hour = max(day.max_per_hour, count)
        if hourly_cap:
            day.hourly_overruns = max(day.hourly_overruns, count - hourly_cap)
