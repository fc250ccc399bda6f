"""How long a phone may be away before the leads it contacted are given up on: the pure
rule (:func:`phones.states.grace_end`), per state, at the edges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.settings import SchedulerSettings
from phones.states import grace_end, past_grace

NOW = datetime(2027, 2, 10, 12, 0, tzinfo=UTC)
SETTINGS = SchedulerSettings(banned_phone_grace_s=7 * 86_400.0, offline_phone_grace_s=3 * 86_400.0)
HOUR = timedelta(hours=1)

GRACES: dict[str, tuple[str, timedelta | None, bool]] = {
    # state, away for, past the grace at NOW
    "offline past 3 days": ("offline", timedelta(days=3) + HOUR, True),
    "offline just under 3 days": ("offline", timedelta(days=3) - HOUR, False),
    "offline exactly 3 days: not yet": ("offline", timedelta(days=3), False),
    "banned 4 days: a ban waits longer": ("banned", timedelta(days=4), False),
    "banned past 7 days": ("banned", timedelta(days=7) + HOUR, True),
    "paused for a month: a person holds it": ("paused", timedelta(days=30), False),
    "cooling a month: its breaker's round ends by itself": ("cooling", timedelta(days=30), False),
    "active": ("active", timedelta(days=30), False),
    "offline since an unknown moment": ("offline", None, False),
}


@pytest.mark.parametrize(("state", "away", "past"), GRACES.values(), ids=GRACES)
def test_a_phone_away_past_its_states_grace_gives_up_its_leads(
    state: str, away: timedelta | None, past: bool
) -> None:
    since = None if away is None else NOW - away
    assert past_grace(state, since, NOW, SETTINGS) is past


def test_the_grace_ends_its_states_seconds_after_the_phone_left() -> None:
    since = NOW - timedelta(days=1)
    assert grace_end("offline", since, SETTINGS) == since + timedelta(days=3)
    assert grace_end("banned", since, SETTINGS) == since + timedelta(days=7)
    assert grace_end("paused", since, SETTINGS) is None
    shorter = SchedulerSettings(offline_phone_grace_s=3600.0)
    assert past_grace("offline", NOW - 2 * HOUR, NOW, shorter)
