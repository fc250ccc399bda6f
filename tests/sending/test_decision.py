"""May this step be sent now, and if not, what happens to it: the pure decision's table.

Each row is one work item as the sender reads it (a change from a ready first message)
and the verdict it must get. No database, no clock, no I/O.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.sending.decision import (
    BackToDue,
    Drop,
    End,
    Go,
    Later,
    Policy,
    Reconcile,
    Verdict,
    after_chat_read,
    after_claim,
    busy_delay_s,
    decide,
    lease_wait_s,
)
from engine.storage import Claim, Request, WorkItem, dispatch_id
from sequences import (
    EndReason,
    Sequence,
    SequenceSettings,
    StepSettings,
    WindowSettings,
    closed_days,
    compile_sequences,
)

NOW = datetime(2026, 1, 13, 10, 0, tzinfo=UTC)  # a Tuesday, 10:00 UTC
QUEUED_AT = NOW - timedelta(seconds=5)
POLICY = Policy(speed=1.0, max_inline_wait_s=1.0, quota_timezone="UTC", jitter_min_s=30.0)
WEEKDAYS = WindowSettings(days="mon-fri", start="09:00", end="17:00")


def _sequence(
    *, window: WindowSettings | None = None, stop_on_reply: bool = True, strict: bool = False
) -> Sequence:
    first = "Hello {{name}}" if strict else "{Hi|Hello} {{name|there}}"
    raw = SequenceSettings(
        timezone="UTC", send_window=window, stop_on_reply=stop_on_reply,
        steps=(
            StepSettings(after="0m", template=first), StepSettings(after="2d", template="Again"),
        ),
    )  # fmt: skip
    return compile_sequences({"s": raw}, path="test")["s"]


ITEM = WorkItem(
    enrollment_id=7, state="pending", step=0, step_state="queued", sequence="s",
    phone_id="01", chat_id=None, sending_at=None, queued_at=QUEUED_AT, attempts=0, lead_id=3,
    lead_phone="+40712345678", lead_variables={"name": "Ana"}, lead_timezone=None, lead_region=None,
    from_phone="+447700900001", phone_state="active", next_send_at=None, campaign_state="active",
)  # fmt: skip
REQUEST = Request(7, 0, "01", dispatch_id(QUEUED_AT))


# (the item's changes, the request's changes, the sequence, halted, the expected verdict)
Expected = type | Verdict | str
CASES: dict[str, tuple[dict[str, Any], dict[str, Any], Sequence | None, bool, Expected]] = {
    "ready": ({}, {}, _sequence(), False, Go),
    "enrollment gone": ({"gone": True}, {}, _sequence(), False, Drop("enrollment gone")),
    "enrollment ended": ({"state": "replied"}, {}, _sequence(), False, Drop("enrollment replied")),
    "step moved on": ({"step": 1}, {}, _sequence(), False, Drop("step already moved on")),
    "moved to another phone": (
        {"phone_id": "02"},
        {},
        _sequence(),
        False,
        Drop("enrollment moved to another phone"),
    ),
    "step already sent": ({"step_state": "sent"}, {}, _sequence(), False, Drop("step is sent")),
    "older dispatch": (
        {},
        {"dispatch_id": dispatch_id(QUEUED_AT - timedelta(seconds=1))},
        _sequence(),
        False,
        Drop("superseded by a newer dispatch"),
    ),
    "any dispatch": ({}, {"dispatch_id": 0}, _sequence(), False, Go),
    "unknown sequence": (
        {},
        {},
        None,
        False,
        End(EndReason.UNKNOWN_SEQUENCE, "no sequence 's' in the config"),
    ),
    "left sending": ({"step_state": "sending"}, {}, _sequence(), False, Reconcile()),
    "left sending, ended since": (
        {"step_state": "sending", "state": "replied"},
        {},
        _sequence(),
        False,
        Reconcile(),
    ),
    "campaign paused": (
        {"campaign_state": "paused"},
        {},
        _sequence(),
        False,
        BackToDue("campaign paused"),
    ),
    "no campaign": ({"campaign_state": None}, {}, _sequence(), False, Go),
    "phone banned": (
        {"phone_state": "banned"},
        {},
        _sequence(),
        False,
        BackToDue("phone not active", release_phone=True),
    ),
    "sending halted": (
        {},
        {},
        _sequence(),
        True,
        BackToDue("sending halted: TimelinesAI token refused"),
    ),
    "phone paced for a while": (
        {"next_send_at": NOW + timedelta(seconds=45)},
        {},
        _sequence(),
        False,
        Later(45.0, "pacing"),
    ),
    "phone paced a moment": (
        {"next_send_at": NOW + timedelta(seconds=0.5)},
        {},
        _sequence(),
        False,
        "wait 0.5",
    ),
    "outside the window": (
        {},
        {},
        _sequence(window=replace(WEEKDAYS, start="11:00")),
        False,
        BackToDue("outside the send window", due_at=NOW + timedelta(hours=1)),
    ),
    "inside the window": ({}, {}, _sequence(window=WEEKDAYS), False, Go),
    "missing variable": (
        {"lead_variables": {}},
        {},
        _sequence(strict=True),
        False,
        End(EndReason.MISSING_VARIABLE, "missing required variable 'name'"),
    ),
}


@pytest.mark.parametrize(
    ("item_changes", "request_changes", "sequence", "halted", "expected"),
    CASES.values(),
    ids=CASES.keys(),
)
def test_the_verdict(
    item_changes: dict[str, Any], request_changes: dict[str, Any], sequence: Sequence | None,
    halted: bool, expected: Expected,
) -> None:  # fmt: skip
    changes = dict(item_changes)
    item = None if changes.pop("gone", False) else replace(ITEM, **changes)
    request = replace(REQUEST, **request_changes)
    verdict = decide(item, request, sequence, NOW, halted=halted, policy=POLICY)
    if isinstance(expected, type):
        assert isinstance(verdict, expected), verdict
    elif expected == "wait 0.5":  # a short pacing wait is waited out here, then it goes
        assert isinstance(verdict, Go) and verdict.wait_s == 0.5
    elif isinstance(expected, End) and isinstance(verdict, End):
        assert verdict.reason == expected.reason
        assert expected.error in verdict.error
    else:
        assert verdict == expected


PAUSED = BackToDue("sending paused: TimelinesAI outage", due_at=NOW + timedelta(seconds=60))


@pytest.mark.parametrize(
    ("changes", "halted", "expected"),
    [
        ({}, False, PAUSED),
        ({"step": 1, "state": "active", "chat_id": 5}, False, PAUSED),
        ({}, True, BackToDue("sending halted: TimelinesAI token refused")),
        ({"phone_state": "offline"}, False, BackToDue("phone not active", release_phone=True)),
    ],
    ids=["first-message-keeps-its-phone", "follow-up", "a-halt-says-so-first", "phone-first"],
)
def test_an_api_outage_sends_the_step_back_to_due_until_the_probe_time(
    changes: dict[str, Any], halted: bool, expected: Verdict
) -> None:
    item = replace(ITEM, **changes)
    request = replace(REQUEST, step=item.step)
    until = NOW + timedelta(seconds=60)
    verdict = decide(
        item, request, _sequence(), NOW, halted=halted, policy=POLICY, outage_until=until
    )
    assert verdict == expected


def test_a_follow_up_that_cannot_be_rendered_reads_the_chat_before_it_ends() -> None:
    raw = SequenceSettings(
        timezone="UTC", steps=(
            StepSettings(after="0m", template="Hi"), StepSettings(after="2d", template="{{name}}?"),
        ),
    )  # fmt: skip
    sequence = compile_sequences({"s": raw}, path="test")["s"]
    item = replace(ITEM, step=1, state="active", lead_variables={})
    request = replace(REQUEST, step=1)
    policy = replace(POLICY, read_chat_before_followups=True)
    verdict = decide(item, request, sequence, NOW, halted=False, policy=policy)
    # A reply in the chat ends the lead `replied`; only a silent chat ends it for the text.
    assert isinstance(verdict, Go) and verdict.read_chat and verdict.missing
    ended = after_chat_read(verdict)
    assert isinstance(ended, End) and ended.reason is EndReason.MISSING_VARIABLE
    # Without the read, it ends at once, as a first message does.
    unread = decide(item, request, sequence, NOW, halted=False, policy=POLICY)
    assert isinstance(unread, End) and unread.reason is EndReason.MISSING_VARIABLE


def test_a_go_that_can_be_rendered_is_sent_after_the_chat_read() -> None:
    verdict = decide(ITEM, REQUEST, _sequence(), NOW, halted=False, policy=POLICY)
    assert isinstance(verdict, Go) and after_chat_read(verdict) is None


def test_a_window_that_closes_during_the_pacing_wait_makes_the_step_due() -> None:
    item = replace(ITEM, next_send_at=datetime(2026, 1, 13, 17, 0, 0, 500_000, tzinfo=UTC))
    now = datetime(2026, 1, 13, 17, 0, tzinfo=UTC) - timedelta(microseconds=1)
    verdict = decide(item, REQUEST, _sequence(window=WEEKDAYS), now, halted=False, policy=POLICY)
    assert verdict == BackToDue(
        "outside the send window", due_at=datetime(2026, 1, 14, 9, 0, tzinfo=UTC)
    )


def test_the_text_is_the_same_every_time_for_one_enrollment_and_step() -> None:
    verdicts = {decide(ITEM, REQUEST, _sequence(), NOW, halted=False, policy=POLICY)}
    verdicts.add(decide(ITEM, REQUEST, _sequence(), NOW + timedelta(hours=1), halted=False,
                        policy=POLICY))  # fmt: skip
    assert len(verdicts) == 1
    [go] = verdicts
    assert isinstance(go, Go) and go.text in {"Hi Ana", "Hello Ana"}


@pytest.mark.parametrize(
    ("step", "stop_on_reply", "reads"),
    [(0, True, False), (1, True, True), (1, False, False)],
    ids=["first message", "follow-up", "follow-up of a sequence that goes on after replies"],
)
def test_the_chat_is_read_before_a_follow_up_that_a_reply_would_stop(
    step: int, stop_on_reply: bool, reads: bool
) -> None:
    item = replace(ITEM, step=step, state="active" if step else "pending")
    request = replace(REQUEST, step=step)
    policy = replace(POLICY, read_chat_before_followups=True)
    sequence = _sequence(stop_on_reply=stop_on_reply)
    verdict = decide(item, request, sequence, NOW, halted=False, policy=policy)
    assert isinstance(verdict, Go) and verdict.read_chat is reads
    unread = decide(item, request, sequence, NOW, halted=False, policy=POLICY)
    assert isinstance(unread, Go) and not unread.read_chat


AFTER_CLAIM: dict[str, tuple[Claim, Verdict | None]] = {
    "goes ahead": (Claim(True, True), None),
    "phone taken by another send": (
        Claim(False, False, phone_free=False),
        Later(50.0, "phone busy: another send holds it"),
    ),
    "step gone meanwhile": (
        Claim(False, False),
        Drop("step no longer queued, or the enrollment ended"),
    ),
    "quota used up": (
        Claim(True, False),
        BackToDue("phone quota used up", release_phone=True),
    ),
    # The day has room: the step keeps its phone and waits for the hour to free.
    "hour full": (
        Claim(True, False, hour_frees_at=NOW + timedelta(minutes=17)),
        BackToDue("phone's hourly cap reached", due_at=NOW + timedelta(minutes=17)),
    ),
}


@pytest.mark.parametrize(("claim", "expected"), AFTER_CLAIM.values(), ids=AFTER_CLAIM.keys())
def test_what_a_claim_that_does_not_go_ahead_means(claim: Claim, expected: Verdict | None) -> None:
    policy = replace(POLICY, speed=1000.0)  # the busy floor: 50 ms real, 50 s virtual
    assert after_claim(claim, policy=policy) == expected


@pytest.mark.parametrize(
    ("speed", "jitter_min_s", "busy_s", "wait_s"),
    [(1.0, 30.0, 30.0, 0.0), (1000.0, 30.0, 50.0, 0.25), (1.0, 0.0, 0.05, 0.25)],
    ids=["real time", "sped up", "no jitter"],
)
def test_a_busy_phone_is_waited_for_only_when_its_holder_finishes_fast(
    speed: float, jitter_min_s: float, busy_s: float, wait_s: float
) -> None:
    policy = replace(POLICY, speed=speed, jitter_min_s=jitter_min_s)
    assert busy_delay_s(policy) == pytest.approx(busy_s)
    assert lease_wait_s(policy) == wait_s


# (the lead's region and number, the sequence's holiday settings, now, the expected due time
# or Go). 2026-12-01 is Romania's National Day; the sequence's window is UTC weekdays.
HOLIDAY_CASES: dict[str, tuple[str | None, str, bool, tuple[str, ...], datetime, Any]] = {
    "a Romanian lead waits past the holiday": (
        None, "+40712345678", True, (), datetime(2026, 12, 1, 10, tzinfo=UTC),
        datetime(2026, 12, 2, 9, tzinfo=UTC),
    ),
    "the imported region decides": (
        "GB", "+40712345678", True, (), datetime(2026, 12, 1, 10, tzinfo=UTC), Go,
    ),
    "a UK lead is not held by a Romanian holiday": (
        None, "+447400123456", True, (), datetime(2026, 12, 1, 10, tzinfo=UTC), Go,
    ),
    "holidays off: it goes": (
        None, "+40712345678", False, (), datetime(2026, 12, 1, 10, tzinfo=UTC), Go,
    ),
    "a skip date holds every lead": (
        None, "+447400123456", True, ("2026-12-02",), datetime(2026, 12, 2, 10, tzinfo=UTC),
        datetime(2026, 12, 3, 9, tzinfo=UTC),
    ),
}  # fmt: skip


@pytest.mark.parametrize(
    ("region", "number", "skip_holidays", "skip", "now", "expected"),
    HOLIDAY_CASES.values(),
    ids=HOLIDAY_CASES.keys(),
)
def test_a_closed_day_of_the_lead_makes_the_step_due_at_the_next_open_day(
    region: str | None,
    number: str,
    skip_holidays: bool,
    skip: tuple[str, ...],
    now: datetime,
    expected: Any,
) -> None:
    sequence = compile_sequences(
        {"s": SequenceSettings(
            timezone="UTC", send_window=WEEKDAYS, skip_holidays=skip_holidays, skip_dates=skip,
            steps=(StepSettings(template="Hi {{name}}"),),
        )},
        path="test",
    )["s"]  # fmt: skip
    item = replace(ITEM, lead_region=region, lead_phone=number, queued_at=now)
    request = replace(REQUEST, dispatch_id=dispatch_id(now))
    verdict = decide(item, request, sequence, now, halted=False, policy=POLICY)
    if expected is Go:
        assert isinstance(verdict, Go)
        # The next step's due time steps over the same closed days.
        assert verdict.closed == closed_days(sequence, region, number)
    else:
        assert verdict == BackToDue("outside the send window", due_at=expected)
