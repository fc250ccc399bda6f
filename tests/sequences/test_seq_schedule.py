"""Due times of steps (delay, then the window) and the deterministic A/B variant choice."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, time

import pytest

from sequences import SendWindow, Sequence, Step, choose_variant, first_due, next_due
from sequences.syntax import parse_days

ZONE = "Europe/Bucharest"  # UTC+2 in January


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def sequence(*delays_s: float, window: SendWindow | None) -> Sequence:
    steps = tuple(Step(index, delay, (), ()) for index, delay in enumerate(delays_s))
    return Sequence("intro", "lead", window, True, steps)


OFFICE = SendWindow(parse_days("mon-fri"), time(9), time(18))
THREE_STEPS = sequence(0, 2 * 86_400, 90 * 60, window=OFFICE)


@pytest.mark.parametrize(
    ("enrolled_at", "due"),
    [
        ("2026-01-05T08:00:00", "2026-01-05T08:00:00"),  # Monday 10:00 local: now
        ("2026-01-05T05:00:00", "2026-01-05T07:00:00"),  # 07:00 local: at 09:00
        ("2026-01-09T17:00:00", "2026-01-12T07:00:00"),  # Friday 19:00: Monday 09:00
    ],
)
def test_first_due_waits_for_the_window(enrolled_at: str, due: str) -> None:
    assert first_due(THREE_STEPS, ZONE, utc(enrolled_at)) == utc(due)


def test_first_due_adds_the_first_delay() -> None:
    delayed = sequence(3_600, window=None)
    assert first_due(delayed, ZONE, utc("2026-01-05T08:00:00")) == utc("2026-01-05T09:00:00")


@pytest.mark.parametrize(
    ("step", "sent_at", "due"),
    [
        (1, "2026-01-05T08:00:00", "2026-01-07T08:00:00"),  # Monday + 2d = Wednesday
        (1, "2026-01-08T08:00:00", "2026-01-12T07:00:00"),  # Thursday + 2d = Saturday
        (2, "2026-01-05T08:00:00", "2026-01-05T09:30:00"),  # + 90 minutes, still open
        (2, "2026-01-05T15:00:00", "2026-01-06T07:00:00"),  # + 90 minutes is after 18:00
    ],
)
def test_next_due_counts_from_the_previous_send(step: int, sent_at: str, due: str) -> None:
    assert next_due(THREE_STEPS, step, ZONE, utc(sent_at)) == utc(due)


def test_next_due_without_a_window_is_the_delay() -> None:
    anytime = sequence(0, 90, window=None)
    assert next_due(anytime, 1, ZONE, utc("2026-01-10T23:59:00")) == utc("2026-01-11T00:00:30")


@pytest.mark.parametrize("step", [0, 3, -1])
def test_next_due_is_for_follow_ups_only(step: int) -> None:
    with pytest.raises(ValueError, match="no follow-up step"):
        next_due(THREE_STEPS, step, ZONE, utc("2026-01-05T08:00:00"))


@pytest.mark.parametrize("count", [1, 2, 3, 5])
def test_variants_are_spread_evenly(count: int) -> None:
    enrollments = 20_000
    seen = Counter(choose_variant(enrollment, 1, count) for enrollment in range(enrollments))
    assert set(seen) == set(range(count))
    expected = enrollments / count
    assert all(abs(n - expected) < 0.05 * expected for n in seen.values()), seen


def test_steps_choose_independently() -> None:
    pairs = Counter((choose_variant(e, 1, 2), choose_variant(e, 2, 2)) for e in range(8_000))
    assert all(abs(n - 2_000) < 200 for n in pairs.values()), pairs


@pytest.mark.parametrize(
    ("enrollment", "step", "count", "variant"),
    [
        (1, 0, 2, 1),
        (1, 1, 2, 1),
        (2, 0, 2, 0),
        (42, 1, 3, 1),
        (42, 2, 3, 0),
        (7, 0, 5, 4),
        (1_000_000, 4, 4, 0),
    ],
)
def test_the_choice_is_pinned(enrollment: int, step: int, count: int, variant: int) -> None:
    # Fixed expectations: a lead keeps its variant across processes, hosts and releases.
    assert choose_variant(enrollment, step, count) == variant


@pytest.mark.parametrize("count", [0, -1])
def test_at_least_one_variant(count: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        choose_variant(1, 0, count)
