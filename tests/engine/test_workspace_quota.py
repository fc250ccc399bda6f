"""The workspace message quota's pure rules: when to halt, how status says it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.blockers import SendingFacts, WorkspaceFacts, find_blockers, halt_label
from engine.timelinesai.message_quota import MessageQuota
from engine.workspace_quota import (
    QuotaReading,
    describe_reading,
    forecast_messages,
    should_halt,
)

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("left", "reserve", "expected"),
    [
        (1240, 100, False),
        (101, 100, False),
        (100, 100, True),  # at the reserve: halt before it runs out
        (0, 100, True),
        (0, 0, True),
        (1, 0, False),
        (None, 100, None),  # unknown: the halt stays as it is
    ],
)
def test_sending_halts_at_or_below_the_reserve(
    left: int | None, reserve: int, expected: bool | None
) -> None:
    assert should_halt(MessageQuota(2000, left), reserve) is expected


@pytest.mark.parametrize(
    ("reading", "expected"),
    [
        (
            QuotaReading(2000, 1240, NOW - timedelta(minutes=3)),
            "workspace messages: 1,240 of 2,000 left this month, read 3 min ago",
        ),
        (QuotaReading(None, 12, NOW), "workspace messages: 12 left this month, read just now"),
        (
            QuotaReading(None, None, NOW - timedelta(hours=2)),
            "workspace messages: unknown (TimelinesAI's answer did not say), read 2 h ago",
        ),
        (None, "workspace messages: not read yet (the scheduler reads them)"),
    ],
)
def test_status_says_the_last_reading_and_its_age(
    reading: QuotaReading | None, expected: str
) -> None:
    assert describe_reading(reading, NOW) == expected


def test_a_reading_survives_its_json_and_garbage_is_no_reading() -> None:
    reading = QuotaReading(2000, 40, NOW)
    assert QuotaReading.from_json(reading.to_json()) == reading
    assert QuotaReading.from_json("not json") is None
    assert QuotaReading.from_json('{"left": 3}') is None


def test_the_quota_halt_is_a_critical_blocker_and_labels_the_phones() -> None:
    reading = QuotaReading(2000, 80, NOW)
    halted = WorkspaceFacts(messages=reading, messages_halted=True)
    blockers = find_blockers(SendingFacts(now=NOW, workspace=halted))
    assert [(b.kind, b.severity) for b in blockers] == [("workspace_quota", "critical")]
    assert "only 80 of 2,000 TimelinesAI workspace messages are left" in blockers[0].reason
    assert halt_label(blockers) == "workspace messages used up"
    room = WorkspaceFacts(messages=reading, messages_halted=False)
    assert find_blockers(SendingFacts(now=NOW, workspace=room)) == []


@pytest.mark.parametrize(
    ("reading", "configured", "expected"),
    [
        # Read this month: its limit, and what is left, both less the reserve of 100.
        (QuotaReading(2000, 1240, NOW - timedelta(minutes=3)), 0, (1900, 1140)),
        (QuotaReading(2000, 60, NOW), 0, (1900, 0)),
        # The answer gave no limit: the configured one (0: not capped after this month).
        (QuotaReading(None, 500, NOW), 4000, (3900, 400)),
        (QuotaReading(None, 500, NOW), 0, (0, 400)),
        # Read last month: this month's is a whole month's.
        (QuotaReading(2000, 5, datetime(2026, 2, 28, 23, 0, tzinfo=UTC)), 0, (1900, None)),
        (None, 2000, (1900, None)),
        (None, 0, (0, None)),
    ],
)
def test_the_forecast_may_send_the_reading_less_the_reserve(
    reading: QuotaReading | None, configured: int, expected: tuple[int, int | None]
) -> None:
    assert forecast_messages(reading, configured_limit=configured, reserve=100, now=NOW) == (
        expected
    )
