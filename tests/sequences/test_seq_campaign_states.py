"""The campaign state machine and the start time, as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sequences import Action, CampaignError, moves, next_state, parse_start

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=1)
EARLIER = NOW - timedelta(days=1)


@pytest.mark.parametrize(
    ("current", "action", "starts_at", "expected"),
    [
        (None, Action.CREATE, None, "draft"),
        (None, Action.LAUNCH, None, "active"),
        (None, Action.LAUNCH, LATER, "scheduled"),
        (None, Action.LAUNCH, EARLIER, "active"),  # a start already past: at once
        ("draft", Action.CREATE, None, "draft"),
        ("draft", Action.LAUNCH, LATER, "scheduled"),
        ("draft", Action.LAUNCH, None, "active"),
        ("scheduled", Action.START, LATER, "active"),
        ("scheduled", Action.PAUSE, LATER, "paused"),
        ("scheduled", Action.RESUME, LATER, "scheduled"),
        ("scheduled", Action.STOP, LATER, "stopped"),
        ("active", Action.PAUSE, None, "paused"),
        ("active", Action.RESUME, None, "active"),
        ("active", Action.COMPLETE, None, "completed"),
        ("active", Action.LAUNCH, LATER, "scheduled"),  # hold it until the new start
        ("paused", Action.PAUSE, None, "paused"),
        ("paused", Action.RESUME, None, "active"),
        ("paused", Action.RESUME, LATER, "scheduled"),  # paused before its start
        ("paused", Action.STOP, None, "stopped"),
        ("stopped", Action.LAUNCH, None, "active"),
        ("stopped", Action.STOP, None, "stopped"),
        ("completed", Action.LAUNCH, None, "active"),
        ("completed", Action.STOP, None, "stopped"),
    ],
)
def test_allowed_moves(
    current: str | None, action: Action, starts_at: datetime | None, expected: str
) -> None:
    assert next_state(current, action, now=NOW, starts_at=starts_at, name="c") == expected


@pytest.mark.parametrize(
    ("current", "action", "says"),
    [
        (None, Action.PAUSE, "no campaign 'c'; start one with `outreach campaign launch c`"),
        (None, Action.STOP, "no campaign 'c'"),
        ("draft", Action.PAUSE, "is draft; there is nothing to pause"),
        ("draft", Action.RESUME, "`outreach campaign launch c` starts it"),
        ("draft", Action.STOP, "nothing was launched"),
        ("active", Action.CREATE, "it was launched already"),
        ("stopped", Action.PAUSE, "is stopped; there is nothing to pause"),
        ("stopped", Action.RESUME, "is stopped"),
        ("completed", Action.PAUSE, "is completed"),
        ("completed", Action.RESUME, "is completed"),
        ("paused", Action.COMPLETE, "only an active campaign completes"),
        ("active", Action.START, "only a scheduled campaign starts"),
    ],
)
def test_refused_moves_say_why_and_what_to_do(
    current: str | None, action: Action, says: str
) -> None:
    with pytest.raises(CampaignError) as raised:
        next_state(current, action, now=NOW, name="c")
    assert says in str(raised.value)


@pytest.mark.parametrize(
    ("text", "zone", "expected"),
    [
        ("2026-12-08 09:00", "Europe/Bucharest", datetime(2026, 12, 8, 7, 0, tzinfo=UTC)),
        ("2026-12-08T09:00", "UTC", datetime(2026, 12, 8, 9, 0, tzinfo=UTC)),
        ("2026-12-08", "America/New_York", datetime(2026, 12, 8, 5, 0, tzinfo=UTC)),
        ("2026-07-01 09:00", "Europe/Bucharest", datetime(2026, 7, 1, 6, 0, tzinfo=UTC)),  # DST
        ("2026-12-08 09:00+01:00", "UTC", datetime(2026, 12, 8, 8, 0, tzinfo=UTC)),
    ],
)
def test_a_start_is_read_in_the_zone_unless_it_says_its_own(
    text: str, zone: str, expected: datetime
) -> None:
    assert parse_start(text, zone) == expected


@pytest.mark.parametrize("text", ["tomorrow", "2026-13-01 09:00", "08.12.2026 09:00", ""])
def test_a_start_that_is_no_time_says_the_form(text: str) -> None:
    with pytest.raises(ValueError, match='like "2026-12-08 09:00"'):
        parse_start(text, "UTC")


@pytest.mark.parametrize(
    ("current", "expected"),
    [
        ("draft", ()),  # a draft is launched, not paused or stopped
        ("scheduled", (Action.PAUSE, Action.STOP)),
        ("active", (Action.PAUSE, Action.STOP)),  # resuming it would change nothing
        ("paused", (Action.RESUME, Action.STOP)),  # pausing it again would change nothing
        ("stopped", ()),
        ("completed", (Action.STOP,)),
    ],
)
def test_the_moves_a_person_may_make_change_the_state(
    current: str, expected: tuple[Action, ...]
) -> None:
    assert moves(current) == expected
    for action in expected:
        assert next_state(current, action, now=NOW) != current
