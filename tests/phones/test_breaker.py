"""The breaker's pure decisions: when a phone trips, how long it cools, how it comes back,
and that TimelinesAI's account status does not end its round."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.settings import BreakerSettings, HealthSettings
from phones.breaker import (
    BreakerPhone,
    Close,
    HalfOpen,
    Probe,
    Trip,
    Verdict,
    breaker_verdict,
    cooling_span,
    may_send,
)
from phones.health import Attempt, FirstMessage, PhoneHealth, Reply, assess
from phones.states import next_phone_state

NOW = datetime(2027, 2, 3, 12, 0, tzinfo=UTC)
SETTINGS = BreakerSettings()
WINDOWS = HealthSettings()
ACTIVE = BreakerPhone("03", "active")


def _health(**counts: int) -> PhoneHealth:
    return PhoneHealth("03", **counts)


def _trip(reason: str, minutes: float, trips: int = 1) -> Trip:
    return Trip(reason, NOW + timedelta(minutes=minutes), trips)


INVALID = "3 of its last 20 numbers were invalid"
ACTIVE_CASES: dict[str, tuple[BreakerPhone, PhoneHealth, Verdict | None]] = {
    "healthy": (ACTIVE, _health(first_messages=10, delivered=9, sends=20, invalid=1), None),
    "no history": (ACTIVE, _health(), None),
    "delivery under 40% of 10": (
        ACTIVE,
        _health(first_messages=10, delivered=3, stuck=7),
        _trip("only 3 of its last 10 first messages were delivered (under 40%)", 30),
    ),
    "delivery at 40% of 10": (ACTIVE, _health(first_messages=10, delivered=4, failed=6), None),
    "delivery 0 of 9: too few to judge": (ACTIVE, _health(first_messages=9, failed=9), None),
    "3 invalid of 20": (ACTIVE, _health(sends=20, invalid=3), _trip(INVALID, 30)),
    "2 invalid of 20": (ACTIVE, _health(sends=20, invalid=2), None),
    "3 invalid of 3: no minimum needed": (
        ACTIVE,
        _health(sends=3, invalid=3),
        _trip("3 of its last 3 numbers were invalid", 30),
    ),
    "opt-outs over 10% of 50": (
        ACTIVE,
        _health(replies=50, opt_outs=6),
        _trip("6 of its last 50 replies opted out (over 10%)", 30),
    ),
    "opt-outs at 10% of 50": (ACTIVE, _health(replies=50, opt_outs=5), None),
    "opt-outs 5 of 19: too few replies": (ACTIVE, _health(replies=19, opt_outs=5), None),
    "repeat trip within a day doubles": (
        BreakerPhone("03", "active", trips=1, tripped_at=NOW - timedelta(hours=2)),
        _health(sends=20, invalid=3),
        _trip(INVALID, 60, trips=2),
    ),
    "third recent trip doubles again": (
        BreakerPhone("03", "active", trips=2, tripped_at=NOW - timedelta(hours=2)),
        _health(sends=20, invalid=3),
        _trip(INVALID, 120, trips=3),
    ),
    "a day healthy resets the count": (
        BreakerPhone("03", "active", trips=4, tripped_at=NOW - timedelta(hours=25)),
        _health(sends=20, invalid=3),
        _trip(INVALID, 30),
    ),
}


@pytest.mark.parametrize(
    ("phone", "health", "expected"), ACTIVE_CASES.values(), ids=ACTIVE_CASES.keys()
)
def test_an_active_phone_trips_on_each_threshold_and_only_on_enough_history(
    phone: BreakerPhone, health: PhoneHealth, expected: Verdict | None
) -> None:
    verdict = breaker_verdict(phone, health, Probe(), NOW, settings=SETTINGS, windows=WINDOWS)
    assert verdict == expected


def test_a_disabled_breaker_never_trips() -> None:
    off = BreakerSettings(enabled=False)
    health = _health(sends=20, invalid=20)
    assert breaker_verdict(ACTIVE, health, Probe(), NOW, settings=off, windows=WINDOWS) is None


def test_cooling_is_capped() -> None:
    assert cooling_span(0, SETTINGS) == timedelta(minutes=30)
    assert cooling_span(5, SETTINGS) == timedelta(minutes=960)
    assert cooling_span(6, SETTINGS) == timedelta(hours=24)
    assert cooling_span(500, SETTINGS) == timedelta(hours=24)


def test_the_alert_names_the_phone_the_time_and_the_reason() -> None:
    trip = _trip(INVALID, 30)
    assert trip.message("p3", NOW) == (
        "phone p3 cooling for 30 min: 3 of its last 20 numbers were invalid (one probe send "
        "reopens it; `outreach phones resume p3` does so at once)"
    )
    assert _trip(INVALID, 240).message("p3", NOW).startswith("phone p3 cooling for 4 h:")


STARTED = NOW - timedelta(minutes=5)
PROBING = BreakerPhone("03", "probing", STARTED, trips=1, tripped_at=NOW - timedelta(hours=1))
ROUND_CASES: dict[str, tuple[BreakerPhone, Probe, Verdict | None]] = {
    "cooling, time not up": (
        BreakerPhone("03", "cooling", cooling_until=NOW + timedelta(seconds=1)),
        Probe(),
        None,
    ),
    "cooling, time up": (BreakerPhone("03", "cooling", cooling_until=NOW), Probe(), HalfOpen()),
    "half-open waits for its probe": (
        BreakerPhone("03", "half_open", NOW - timedelta(minutes=29)),
        Probe(),
        None,
    ),
    "half-open with nothing to probe it for the probe's time: close": (
        BreakerPhone("03", "half_open", NOW - timedelta(minutes=30)),
        Probe(),
        Close("nothing came to probe it with in 30 min"),
    ),
    "probe went out: close": (PROBING, Probe(sent=True), Close()),
    "probe refused as invalid: trip again, twice as long": (
        PROBING,
        Probe(refused=True),
        _trip("its probe's number was invalid", 60, trips=2),
    ),
    "probe still going": (PROBING, Probe(in_flight=True), None),
    "probe never went out, not yet timed out": (PROBING, Probe(), None),
    "probe never went out, timed out: another may": (
        BreakerPhone("03", "probing", NOW - timedelta(minutes=30)),
        Probe(),
        HalfOpen(),
    ),
    "timed out but a send is still in flight": (
        BreakerPhone("03", "probing", NOW - timedelta(minutes=30)),
        Probe(in_flight=True),
        None,
    ),
    "paused by a person: not the breaker's": (BreakerPhone("03", "paused"), Probe(), None),
}


@pytest.mark.parametrize(("phone", "probe", "expected"), ROUND_CASES.values(), ids=ROUND_CASES)
def test_a_tripped_phone_cools_half_opens_and_closes_on_its_probe(
    phone: BreakerPhone, probe: Probe, expected: Verdict | None
) -> None:
    # Health never matters in the round: the phone sent nothing new but its probe.
    bad = _health(sends=20, invalid=20)
    verdict = breaker_verdict(phone, bad, probe, NOW, settings=SETTINGS, windows=WINDOWS)
    assert verdict == expected


def test_only_history_after_the_trip_counts() -> None:
    tripped = NOW - timedelta(hours=1)
    before, after = tripped - timedelta(minutes=1), tripped + timedelta(minutes=1)
    invalid = [Attempt("03", n, before, invalid=True) for n in range(3)]
    failed = [FirstMessage("03", n, before, "failed") for n in range(10)]
    opted = [Reply("03", n, before, opt_out=True) for n in range(50)]
    fresh = [Attempt("03", 99, after, invalid=False)]

    def verdict(since: dict[str, datetime] | None) -> Verdict | None:
        health = assess(
            ["03"], failed, invalid + fresh, opted, now=NOW, windows=WINDOWS, since=since
        )["03"]
        phone = BreakerPhone("03", "active", trips=1, tripped_at=tripped)
        return breaker_verdict(phone, health, Probe(), NOW, settings=SETTINGS, windows=WINDOWS)

    assert verdict({"03": tripped}) is None
    # Without the restart, the old failures trip the phone again at once.
    assert isinstance(verdict(None), Trip)


UNDELIVERED = "only 0 of its last 10 first messages were delivered (under 40%)"
READINGS: dict[str, tuple[float | None, Verdict | None]] = {
    # Ten first messages sent 10 h ago, still only "sent": their grace ended 4 h ago.
    "fresh reading, still undelivered: trip": (1.0, _trip(UNDELIVERED, 30)),
    "stale reading (the poll stopped before the grace ended): no trip": (5.0, None),
    "never read (no poll, no webhook): no trip": (None, None),
}


@pytest.mark.parametrize(("read_hours_ago", "expected"), READINGS.values(), ids=READINGS)
def test_the_delivery_rule_trips_only_on_statuses_read_after_the_grace_period(
    read_hours_ago: float | None, expected: Verdict | None
) -> None:
    read = None if read_hours_ago is None else NOW - timedelta(hours=read_hours_ago)
    sent = NOW - timedelta(hours=10)
    firsts = [FirstMessage("03", n, sent, "sent", status_read_at=read) for n in range(10)]
    health = assess(["03"], firsts, [], [], now=NOW, windows=WINDOWS)["03"]
    assert breaker_verdict(ACTIVE, health, Probe(), NOW, settings=SETTINGS, windows=WINDOWS) == (
        expected
    )


STEPS = {
    ("active", 0): True,
    ("active", 1): True,
    ("half_open", 0): True,
    ("half_open", 1): False,
    ("probing", 0): False,
    ("cooling", 0): False,
    ("cooling", 2): False,
    ("banned", 0): False,
    (None, 0): False,
}


@pytest.mark.parametrize(("state", "step"), STEPS, ids=[f"{s} step {n}" for s, n in STEPS])
def test_a_half_open_phone_sends_only_its_probe_and_a_cooling_one_nothing(
    state: str | None, step: int
) -> None:
    assert may_send(state, step) is STEPS[(state, step)]


SYNC = {
    ("cooling", "active"): None,
    ("half_open", "active"): None,
    ("probing", "active"): None,
    ("cooling", "banned"): "banned",
    ("probing", "offline"): "offline",
    ("paused", "active"): None,
    ("offline", "active"): "active",
    ("banned", "offline"): None,
}


@pytest.mark.parametrize(("current", "reported"), SYNC, ids=[f"{c} {r}" for c, r in SYNC])
def test_a_connected_account_does_not_end_a_breakers_round_but_a_ban_does(
    current: str, reported: str
) -> None:
    assert next_phone_state(current, reported) == SYNC[(current, reported)]
