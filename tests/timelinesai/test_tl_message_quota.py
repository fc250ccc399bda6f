"""The workspace's message quota read out of ``GET /workspace/quotas``, whatever its shape."""

from __future__ import annotations

from typing import Any

import pytest

from engine.timelinesai.message_quota import MessageQuota, read_message_quota

UNKNOWN = MessageQuota()


@pytest.mark.parametrize(
    ("raw", "configured", "expected"),
    [
        # The shape integrations read from TimelinesAI: a table with total and used.
        ({"messaging_quota": {"total": 2000, "used": 760}}, 0, MessageQuota(2000, 1240)),
        # ... beside the API-call table, which must not be mistaken for it.
        (
            {"api_calls_quota": {"total": 200_000, "used": 5}, "messaging_quota": {"used": 10}},
            2000,
            MessageQuota(2000, 1990),
        ),
        # Flat figures: what is left wins over limit - used.
        ({"messages_left": 40, "messages_monthly_limit": 2000, "messages_sent": 1}, 0,
         MessageQuota(2000, 40)),
        ({"messages_remaining": "300", "messages_limit": 4000}, 0, MessageQuota(4000, 300)),
        # Only what is left: the limit stays unknown.
        ({"messages_left": 12}, 0, MessageQuota(None, 12)),
        # Only what was used: the configured limit fills in; without one, unknown.
        ({"messages_sent": 1500}, 2000, MessageQuota(2000, 500)),
        ({"messages_sent": 1500}, 0, UNKNOWN),
        # Used past the limit: nothing left, never negative.
        ({"messaging_quota": {"total": 2000, "used": 2100}}, 0, MessageQuota(2000, 0)),
        # One level down, under data or quotas.
        ({"data": {"messaging_quota": {"limit": 500, "remaining": 7}}}, 0, MessageQuota(500, 7)),
        ({"quotas": {"messages_left": 9.0}}, 0, MessageQuota(None, 9)),
        # Unreadable: unknown, never a crash.
        ({}, 2000, UNKNOWN),
        ({"data": [1, 2, 3]}, 2000, UNKNOWN),
        ({"messaging_quota": "plenty"}, 2000, UNKNOWN),
        ({"messages_left": -1, "messages_limit": True}, 0, UNKNOWN),
        ({"messages_left": None, "messaging_quota": {"total": "n/a"}}, 0, UNKNOWN),
        # What the simulator answers (the API-call figures beside it).
        (
            {"messaging_quota": {"total": 100_000, "used": 3}, "api_calls_monthly_limit": 200_000,
             "api_calls_left": 199_990, "messages_monthly_limit": 100_000,
             "messages_left": 99_997, "messages_sent": 3},
            0,
            MessageQuota(100_000, 99_997),
        ),
    ],
)  # fmt: skip
def test_the_message_quota_is_read_from_any_plausible_shape(
    raw: dict[str, Any], configured: int, expected: MessageQuota
) -> None:
    assert read_message_quota(raw, configured_limit=configured) == expected
    assert read_message_quota(raw, configured_limit=configured).known is (expected.left is not None)
