"""The outside judge of every end-to-end run, fed known-good and known-bad sends.

Each check must fire on a run that breaks it: a check that never fires looks exactly
like a system that never fails.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.db import Database
from engine.invariants import (
    InvariantReport,
    Send,
    accepted_sends,
    check,
    in_flight_at_replies,
    sends_after_replies,
)
from engine.models import Enrollment, Lead, Message
from engine.timelinesai.simulator import LoggedRequest
from tests.seed import campaign_id

T0 = datetime(2026, 1, 6, 10, 0, tzinfo=UTC)
LEAD = "+40712345678"
PHONE = "+447700900001"
OTHER_PHONE = "+447700900002"


def send(
    step: int,
    at_s: float,
    recipient: str = LEAD,
    *,
    account: str = PHONE,
    took_s: float = 0.005,
    start: datetime = T0,
) -> Send:
    moment = start + timedelta(seconds=at_s)
    return Send(account, recipient, step, moment, moment + timedelta(seconds=took_s))


def lead(number: int) -> str:
    return f"+4071200{number:04d}"


def judge(
    sends: list[Send],
    *,
    jitter_min_s: float = 30.0,
    speed: float = 1.0,
    quota: dict[str, int] | None = None,
    zone: str = "UTC",
) -> InvariantReport:
    return check(
        sends, jitter_min_s=jitter_min_s, speed=speed, epoch=T0, quota_per_day=quota or {},
        quota_timezone=zone,
    )  # fmt: skip


def test_a_clean_run_holds_every_invariant() -> None:
    sends = [
        send(0, 0, lead(1)),
        send(0, 1, lead(2), account=OTHER_PHONE),  # another phone: no gap between the two
        send(0, 40, lead(3)),
        send(1, 100, lead(1)),  # a follow-up: not a first message
    ]
    report = judge(sends, quota={PHONE: 2, OTHER_PHONE: 1})
    assert report.ok
    assert (report.sends, report.duplicates, report.overlaps) == (4, 0, 0)
    assert (report.short_gaps, report.quota_overruns, report.problems) == (0, 0, [])
    assert report.min_gap_s == pytest.approx(39.995)
    assert report.line() == (
        "sends=4 duplicates=0 overlaps=0 short_gaps=0 quota_overruns=0 min_gap=40.0s"
    )


def test_no_sends_is_no_gap() -> None:
    report = judge([])
    assert report.ok and report.min_gap_s is None
    assert report.line().endswith("min_gap=-")


@pytest.mark.parametrize("broken", ["duplicates", "overlaps", "short_gaps", "quota_overruns"])
def test_any_broken_figure_makes_the_run_not_ok(broken: str) -> None:
    assert InvariantReport().ok
    assert not InvariantReport(**{broken: 1}).ok  # type: ignore[arg-type]


def test_two_sends_at_once_on_one_phone_are_an_overlap() -> None:
    first, second = send(0, 0, lead(1), took_s=2.0), send(0, 1, lead(2))
    report = judge([first, second], jitter_min_s=0.0)
    assert report.overlaps == 1
    assert f"{PHONE}: overlapping sends at {second.received_at}" in report.problems
    assert not report.ok
    assert "overlaps=1" in report.line()


@pytest.mark.parametrize(
    ("second", "overlaps"),
    [
        (send(0, 2, lead(2)), 0),  # received the moment the first was answered
        (send(0, 1, lead(2), account=OTHER_PHONE), 0),  # at once, but on another phone
        (send(0, 1.999, lead(2)), 1),
    ],
)
def test_only_a_send_that_starts_before_its_phones_last_one_ended_overlaps(
    second: Send, overlaps: int
) -> None:
    report = judge([send(0, 0, lead(1), took_s=2.0), second], jitter_min_s=0.0)
    assert report.overlaps == overlaps


@pytest.mark.parametrize(
    ("gap_real_s", "speed", "short"),
    [
        (29.0, 1.0, True),
        (29.999, 1.0, False),  # within the 2 ms tolerance
        (30.0, 1.0, False),
        (0.027, 1000.0, True),  # 27 s virtual
        (0.029, 1000.0, False),  # 29 s virtual: the 2 ms real tolerance is 2 s virtual
        (0.030, 1000.0, False),
    ],
)
def test_sends_of_one_phone_closer_than_the_shortest_jitter_are_a_short_gap(
    gap_real_s: float, speed: float, short: bool
) -> None:
    first = send(0, 0, lead(1), took_s=1.0)
    second = send(0, 1.0 + gap_real_s, lead(2))
    report = judge([first, second], speed=speed)
    assert report.short_gaps == int(short)
    assert report.ok is not short
    assert report.min_gap_s == pytest.approx(gap_real_s * speed)
    message = f"{PHONE}: gap of {gap_real_s * speed:.1f}s virtual before {second.received_at}"
    assert (message in report.problems) is short
    assert report.overlaps == 0


def test_short_gaps_are_measured_per_phone() -> None:
    sends = [send(0, 0, lead(1)), send(0, 5, lead(2), account=OTHER_PHONE), send(0, 31, lead(3))]
    report = judge(sends)
    assert (report.short_gaps, report.problems) == (0, [])
    assert report.min_gap_s == pytest.approx(30.995)


@pytest.mark.parametrize(
    ("sends", "duplicates"),
    [
        ([send(0, 0), send(0, 40)], 1),
        ([send(0, 0), send(0, 40), send(0, 80)], 2),
        ([send(1, 0), send(1, 0, account=OTHER_PHONE)], 1),  # the same step from two phones
        ([send(0, 0), send(1, 40)], 0),  # the same lead, the next step
        ([send(0, 0, lead(1)), send(0, 40, lead(2))], 0),  # the same step, another lead
    ],
)
def test_a_step_sent_twice_to_one_lead_is_a_duplicate(sends: list[Send], duplicates: int) -> None:
    report = judge(sends)
    assert report.duplicates == duplicates
    assert report.ok is (duplicates == 0)
    assert f"duplicates={duplicates} " in report.line()


def test_more_first_messages_in_a_day_than_the_quota_is_an_overrun() -> None:
    sends = [send(0, 40 * i, lead(i)) for i in range(3)]
    report = judge(sends, quota={PHONE: 2})
    assert report.quota_overruns == 1
    assert report.problems == [f"{PHONE}: 3 first messages on 2026-01-06, quota 2"]
    assert not report.ok
    assert "quota_overruns=1" in report.line()


@pytest.mark.parametrize(
    ("sends", "quota", "overruns"),
    [
        # Follow-ups are free.
        ([send(0, 0, lead(1)), send(1, 40, lead(2)), send(1, 80, lead(3))], {PHONE: 1}, 0),
        # Each phone has its own quota.
        ([send(0, 0, lead(1)), send(0, 40, lead(2), account=OTHER_PHONE)], {PHONE: 1}, 0),
        ([send(0, 0, lead(1)), send(0, 40, lead(2), account=OTHER_PHONE)], {OTHER_PHONE: 0}, 1),
        # Each first message over the quota is one overrun.
        ([send(0, 40 * i, lead(i)) for i in range(3)], {PHONE: 1}, 2),
        # A phone without a known quota is not judged.
        ([send(0, 40 * i, lead(i)) for i in range(3)], {OTHER_PHONE: 1}, 0),
        # Each day has its own quota: 10:00 today and 10:00 tomorrow.
        ([send(0, 0, lead(1)), send(0, 86_400, lead(2))], {PHONE: 1}, 0),
    ],
)
def test_the_quota_counts_first_messages_per_phone_and_day(
    sends: list[Send], quota: dict[str, int], overruns: int
) -> None:
    assert judge(sends, quota=quota).quota_overruns == overruns


@pytest.mark.parametrize(("zone", "overruns"), [("UTC", 1), ("America/New_York", 0)])
def test_quota_days_are_local_to_the_quota_time_zone(zone: str, overruns: int) -> None:
    # 04:00 and 06:00 UTC: one day in UTC, 23:00 and 01:00 (two days) in New York.
    night = datetime(2026, 1, 6, 4, 0, tzinfo=UTC)
    sends = [send(0, 0, lead(1), start=night), send(0, 7200, lead(2), start=night)]
    assert judge(sends, quota={PHONE: 1}, zone=zone).quota_overruns == overruns


@pytest.mark.parametrize(("speed", "overruns"), [(1.0, 1), (1000.0, 0)])
def test_quota_days_are_virtual_days(speed: float, overruns: int) -> None:
    # 60 s real after 10:00: still today at speed 1, 02:40 tomorrow (virtual) at speed 1000.
    sends = [send(0, 0, lead(1)), send(0, 60, lead(2))]
    report = judge(sends, speed=speed, quota={PHONE: 1})
    assert report.quota_overruns == overruns


def logged(
    seq: int,
    *,
    at_s: float = 0.0,
    method: str = "POST",
    path: str = "/messages",
    account: str | None = PHONE,
    recipient: str | None = LEAD,
    chat_id: int | None = None,
    text: str | None = "Hello [s0]",
    status_code: int | None = 200,
    answered: bool = True,
) -> LoggedRequest:
    received = T0 + timedelta(seconds=at_s)
    return LoggedRequest(
        seq, method, path, "", received, account_phone=account, recipient_phone=recipient,
        chat_id=chat_id, text=text, status_code=status_code,
        answered_at=received + timedelta(milliseconds=5) if answered else None,
    )  # fmt: skip


def test_accepted_sends_are_the_answered_200_sends_with_a_step_marker_in_arrival_order() -> None:
    log = [
        logged(1, at_s=10, path="/chats/7/messages", account=None, chat_id=7, text="Again [s1]"),
        logged(2, at_s=0, recipient=lead(2), text="Hi [s0] there"),
        logged(3, method="GET", path="/messages"),  # not a send
        logged(4, status_code=500),  # refused
        logged(5, answered=False),  # its answer never finished
        logged(6, text="Hi, no marker"),
        logged(7, text=None),
        logged(8, recipient=None),
        logged(9, at_s=20, path="/chats/8/messages", account=None, chat_id=8, text="[s2]"),
    ]
    sends = accepted_sends(log, {7: OTHER_PHONE})
    assert sends == [
        send(0, 0, lead(2)),
        send(1, 10, account=OTHER_PHONE),
        send(2, 20, account=""),  # a chat of no known account
    ]


def test_a_step_claimed_after_the_reply_is_named() -> None:
    answered = {LEAD: T0 + timedelta(seconds=10)}
    assert sends_after_replies([send(0, 0), send(1, 11)], answered, set()) == [
        f"{LEAD}: step 2 at 10:00:11.000000 after a reply answered at 10:00:10.000000"
    ]


@pytest.mark.parametrize(
    ("sends", "in_flight", "broken"),
    [
        ([send(0, 0), send(1, 5)], set(), 0),  # everything before the 200 at 10 s
        ([send(0, 0), send(1, 11)], set(), 1),  # claimed after the reply: broken
        ([send(0, 0), send(1, 11)], {(LEAD, 1)}, 0),  # the reply found step 2 in flight
        ([send(0, 0), send(1, 11), send(2, 20)], {(LEAD, 1)}, 1),  # and then one more
        ([send(0, 0), send(1, 11)], {(LEAD, 2)}, 1),  # another step was in flight
        ([send(1, 11, "+40700000000")], set(), 0),  # a lead who never replied
    ],
)
def test_only_a_step_in_flight_at_the_reply_may_arrive_after_its_200(
    sends: list[Send], in_flight: set[tuple[str, int]], broken: int
) -> None:
    answered = {LEAD: T0 + timedelta(seconds=10)}
    assert len(sends_after_replies(sends, answered, in_flight)) == broken


def test_in_flight_steps_are_read_from_the_replies(database: Database) -> None:
    with database.session() as session:
        leads = [Lead(phone=lead(i)) for i in range(3)]
        session.add_all(leads)
        session.flush()
        cid = campaign_id(session, "intro")
        enrollments = [
            Enrollment(lead_id=row.id or 0, campaign_id=cid, sequence="intro") for row in leads
        ]
        session.add_all(enrollments)
        session.flush()
        first, second, third = (row.id for row in enrollments)
        session.add_all(
            [
                # Lead 0 replied while its step 2 was being sent.
                Message(direction="out", enrollment_id=first, step=0, text="Hi"),
                Message(direction="in", enrollment_id=first, step=0, in_flight_step=1),
                # Lead 1 replied with nothing in flight.
                Message(direction="in", enrollment_id=second, step=0),
                # Only a reply records an in-flight step; an outbound one is not read.
                Message(direction="out", enrollment_id=third, step=0, in_flight_step=2),
            ]
        )
    with database.engine.connect() as connection:
        assert in_flight_at_replies(connection) == {(lead(0), 1)}
