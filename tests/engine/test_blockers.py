"""What stops sending right now: one pure decision, judged by a table of plain facts."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from engine.alert_log import AlertSpan
from engine.blockers import (
    Blocker,
    PhoneFacts,
    SendingFacts,
    WorkspaceFacts,
    find_blockers,
    halt_label,
    next_month_start,
)

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
UP = (PhoneFacts("01", "active"), PhoneFacts("02", "active"))
REFUSED = AlertSpan(7, NOW - timedelta(hours=2), NOW - timedelta(minutes=3))
SPENT = AlertSpan(1, NOW - timedelta(hours=1), NOW - timedelta(hours=1))
CLEAR = WorkspaceFacts(calls_used=10)
BANNED_01 = (PhoneFacts("01", "banned"), PhoneFacts("02", "active"))
HALTED = WorkspaceFacts(halted=True, halted_at=NOW - timedelta(minutes=1), calls_used=10)
OUTAGE = WorkspaceFacts(
    calls_used=10, outage_since=NOW - timedelta(minutes=3),
    outage_probe_at=NOW + timedelta(minutes=1), outage_failures=6,
)  # fmt: skip


def facts(**changes: object) -> SendingFacts:
    values: dict[str, object] = {"now": NOW, "phones": UP, "workspace": CLEAR}
    values.update(changes)
    return SendingFacts(**values)  # type: ignore[arg-type]


Row = tuple[str, str, str | None]


def kinds(found: list[Blocker]) -> list[Row]:
    return [(blocker.kind, blocker.command, blocker.phone_id) for blocker in found]


SYNC = "outreach phones sync"

TABLE = [
    pytest.param(facts(), [], id="all-clear"),
    pytest.param(facts(workspace=None), [], id="redis-not-asked"),
    pytest.param(
        facts(token_refused=REFUSED, workspace=HALTED),
        [("token_refused", SYNC, None)],
        id="token-refused-halted",
    ),
    pytest.param(
        facts(token_refused=REFUSED),
        [("token_refused", SYNC, None)],
        id="token-refused-halt-expired-still-counts-until-a-send",
    ),
    pytest.param(
        facts(token_refused=REFUSED, workspace=None),
        [("token_refused", SYNC, None)],
        id="token-refused-without-redis",
    ),
    pytest.param(
        facts(workspace=HALTED), [("halted", "outreach alerts", None)], id="halt-without-alert"
    ),
    pytest.param(
        facts(workspace=WorkspaceFacts(calls_used=200_000)),
        [("budget_used_up", "outreach serve", None)],
        id="budget-used-up",
    ),
    pytest.param(facts(workspace=OUTAGE), [("api_outage", "outreach alerts", None)], id="outage"),
    pytest.param(
        facts(workspace=OUTAGE, token_refused=REFUSED),
        [("api_outage", "outreach alerts", None), ("token_refused", SYNC, None)],
        id="outage-beside-a-token-refusal",
    ),
    pytest.param(
        facts(budget_spent=SPENT, workspace=HALTED),
        [("budget_used_up", "outreach serve", None)],
        id="budget-alert-explains-the-halt",
    ),
    pytest.param(
        facts(token_refused=REFUSED, budget_spent=SPENT, workspace=HALTED),
        [("token_refused", SYNC, None)],
        id="newer-alert-is-the-cause",
    ),
    pytest.param(
        facts(workspace=WorkspaceFacts(calls_used=160_000)),
        [("budget_low", "outreach serve", None)],
        id="budget-low-at-80-percent",
    ),
    pytest.param(facts(workspace=WorkspaceFacts(calls_used=159_999)), [], id="budget-below-80"),
    pytest.param(
        facts(workspace=HALTED, monthly_call_budget=11),
        [("halted", "outreach alerts", None), ("budget_low", "outreach serve", None)],
        id="low-budget-does-not-hide-an-unexplained-halt",
    ),
    pytest.param(
        facts(workspace=WorkspaceFacts(error="Connection refused")),
        [("redis_unreachable", "redis-server", None)],
        id="redis-down",
    ),
    pytest.param(
        facts(phones=(PhoneFacts("01", "active"), PhoneFacts("02", "banned", "status banned"))),
        [("phone_banned", SYNC, "02")],
        id="phone-banned",
    ),
    pytest.param(
        facts(phones=(PhoneFacts("01", "offline"), PhoneFacts("02", "active"))),
        [("phone_offline", SYNC, "01")],
        id="phone-offline",
    ),
    pytest.param(
        facts(phones=(PhoneFacts("01", "paused", "operator"), PhoneFacts("02", "active"))),
        [("phone_paused", "outreach phones resume 01", "01")],
        id="phone-paused",
    ),
    pytest.param(
        facts(phones=(PhoneFacts("01", "paused"), PhoneFacts("02", "offline"))),
        [
            ("no_phone_active", "outreach phones list", None),
            ("phone_paused", "outreach phones resume 01", "01"),
            ("phone_offline", SYNC, "02"),
        ],
        id="no-phone-left",
    ),
    pytest.param(
        facts(dead_letters=3), [("dead_letters", "outreach dlq list", None)], id="dead-letters"
    ),
    pytest.param(
        facts(
            dead_letters=2,
            token_refused=REFUSED,
            phones=(PhoneFacts("01", "banned"), PhoneFacts("02", "active")),
        ),
        [
            ("token_refused", SYNC, None),
            ("phone_banned", SYNC, "01"),
            ("dead_letters", "outreach dlq list", None),
        ],
        id="critical-first",
    ),
]


@pytest.mark.parametrize(("given", "expected"), TABLE)
def test_what_stops_sending(
    given: SendingFacts, expected: list[tuple[str, str, str | None]]
) -> None:
    assert kinds(find_blockers(given)) == expected


@pytest.mark.parametrize(("given", "expected"), TABLE)
def test_every_fix_names_its_command(given: SendingFacts, expected: object) -> None:
    for blocker in find_blockers(given):
        assert f"`{blocker.command}" in blocker.fix
        assert blocker.severity in ("critical", "warning")


def test_a_refused_token_says_how_often_and_since_when() -> None:
    [blocker] = find_blockers(facts(token_refused=REFUSED, workspace=HALTED))
    assert "7 times since 2026-03-02 08:00 UTC" in blocker.reason
    assert "sending is halted" in blocker.reason
    assert "TIMELINESAI_TOKEN" in blocker.fix


def test_an_outage_says_since_when_and_when_it_probes() -> None:
    [blocker] = find_blockers(facts(workspace=OUTAGE))
    assert "failed 6 times in a row" in blocker.reason
    assert "paused since 2026-03-02 09:57:00 UTC" in blocker.reason
    assert "one probe send at 2026-03-02 10:01:00 UTC" in blocker.reason
    late = replace(OUTAGE, outage_probe_at=NOW - timedelta(seconds=1))
    [blocker] = find_blockers(facts(workspace=late))
    assert "a probe send goes now" in blocker.reason


def test_the_budget_fix_says_when_it_resets() -> None:
    [blocker] = find_blockers(facts(workspace=WorkspaceFacts(calls_used=200_000)))
    assert "200000 of 200000 calls" in blocker.reason
    assert "2026-04-01 00:00 UTC" in blocker.fix
    assert "monthly_call_budget" in blocker.fix


@pytest.mark.parametrize(
    ("given", "label"),
    [
        (facts(), None),
        (facts(dead_letters=1, phones=BANNED_01), None),
        (facts(token_refused=REFUSED), "token refused"),
        (facts(workspace=WorkspaceFacts(calls_used=200_000)), "API budget used up"),
        (facts(workspace=HALTED), "sending halted"),
        (facts(workspace=OUTAGE), "TimelinesAI outage"),
        (facts(workspace=WorkspaceFacts(error="down")), "Redis unreachable"),
    ],
)
def test_what_an_active_phone_shows(given: SendingFacts, label: str | None) -> None:
    assert halt_label(find_blockers(given)) == label


@pytest.mark.parametrize(
    ("now", "reset"),
    [
        (NOW, datetime(2026, 4, 1, tzinfo=UTC)),
        (datetime(2026, 12, 31, 23, 59, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
    ],
)
def test_next_month_start(now: datetime, reset: datetime) -> None:
    assert next_month_start(now) == reset


def test_an_offline_phone_says_since_when_and_what_its_grace_does() -> None:
    since = NOW - timedelta(hours=30)
    offline = PhoneFacts("01", "offline", "TimelinesAI account status disconnected", since=since)
    [blocker] = find_blockers(facts(phones=(offline, PhoneFacts("02", "active"))))
    assert blocker.reason == (
        "phone 01 is offline since 2026-03-01 04:00 UTC (TimelinesAI account status disconnected)"
    )
    assert "offline_phone_grace_s" in blocker.fix
