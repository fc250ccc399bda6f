"""The send store's contract, one parameter table run against both implementations.

Every test here runs on SQLite (the reference store, plain statements) and on
PostgreSQL (fused statements): the two must agree on every row they leave behind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlmodel import select

from engine.models import Campaign, Enrollment, Message, StepState, Suppression
from engine.storage import Claim, Hold, Quota, Request, Sent, WorkItem, dispatch_id
from sequences import EndReason, suppression
from tests.seed import campaign_id
from tests.storage.conftest import DAY, HOLD, NOW, QUOTA, Stored

LATER = NOW + timedelta(days=2)


def _nothing(stored: Stored, eid: int) -> None:
    return None


def _quota_full(stored: Stored, eid: int) -> None:
    stored.queued()  # another lead of the phone took today's only unit
    [other] = stored.queued()
    assert stored.claim(stored.item(other), Quota(DAY, 1)).goes_ahead
    stored.set_phone(next_send_at=None)  # its send is over; the phone is free again


def _moved_to_phone_02(stored: Stored, eid: int) -> None:
    stored.set_enrollment(eid, phone_id="02")  # the dispatcher gave it to another phone


def _ended(stored: Stored, eid: int) -> None:
    stored.set_enrollment(eid, state="replied")


def _already_sending(stored: Stored, eid: int) -> None:
    stored.set_enrollment(eid, step_state=StepState.SENDING, sending_at=NOW, attempts=1)


def _phone_taken(stored: Stored, eid: int) -> None:
    # Redis lost the lease and another sender held the phone after this one read it.
    stored.set_phone(next_send_at=NOW + timedelta(seconds=30))


@dataclass(frozen=True)
class ClaimCase:
    change: Callable[[Stored, int], None]
    quota: Quota | None
    claim: Claim
    step_state: str  # after the claim, released when it did not go ahead
    next_send_at: datetime | None  # the phone's, likewise
    used: int  # the phone's units today, likewise


CLAIMS = {
    "first message": ClaimCase(_nothing, QUOTA, Claim(True, True), "sending", HOLD, 1),
    "follow-up takes no quota": ClaimCase(_nothing, None, Claim(True, True), "sending", HOLD, 0),
    "quota of zero": ClaimCase(_nothing, Quota(DAY, 0), Claim(True, False), "queued", None, 0),
    "quota used up": ClaimCase(_quota_full, Quota(DAY, 1), Claim(True, False), "queued", None, 1),
    "moved to another phone": ClaimCase(
        _moved_to_phone_02, QUOTA, Claim(False, False), "queued", None, 0
    ),
    "moved, follow-up": ClaimCase(_moved_to_phone_02, None, Claim(False, True), "queued", None, 0),
    "enrollment ended": ClaimCase(_ended, QUOTA, Claim(False, False), "queued", None, 0),
    "already being sent": ClaimCase(
        _already_sending, QUOTA, Claim(False, False), "sending", None, 0
    ),
    "phone taken meanwhile": ClaimCase(
        _phone_taken,
        QUOTA,
        Claim(False, False, phone_free=False),
        "queued",
        NOW + timedelta(seconds=30),
        0,
    ),
}


@pytest.mark.parametrize("case", CLAIMS.values(), ids=CLAIMS.keys())
def test_a_claim_and_its_release(stored: Stored, case: ClaimCase) -> None:
    [eid] = stored.queued()
    item = stored.item(eid)  # read before the change, as a sender reads it
    case.change(stored, eid)
    claim = stored.claim(item, case.quota)
    assert claim == case.claim
    if not claim.goes_ahead:
        hold = Hold(item.next_send_at, HOLD)
        stored.store.release(item, claim, now=NOW, hold=hold, quota=case.quota)
    row = stored.enrollment(eid)
    assert row.step_state == case.step_state
    if claim.goes_ahead:
        assert (row.sending_at, row.attempts) == (NOW, 1)
    assert stored.phone().next_send_at == case.next_send_at
    assert stored.used() == case.used


def test_a_claim_is_the_moment_the_step_starts_and_only_one_wins(stored: Stored) -> None:
    [eid] = stored.queued()
    item = stored.item(eid)
    assert stored.claim(item).goes_ahead
    stored.set_phone(next_send_at=None)
    assert stored.claim(item) == Claim(False, False)
    assert stored.used() == 1


def test_the_day_quota_is_never_overrun(stored: Stored) -> None:
    ids = stored.queued(4)
    taken = []
    for eid in ids:
        item = stored.item(eid)
        claim = stored.claim(item, Quota(DAY, 2))
        if not claim.goes_ahead:
            stored.store.release(item, claim, now=NOW, hold=Hold(None, HOLD), quota=Quota(DAY, 2))
        stored.set_phone(next_send_at=None)
        taken.append(claim.goes_ahead)
    assert taken == [True, True, False, False]
    assert stored.used() == 2


def _sent(next_due: datetime | None, at: datetime = NOW) -> Sent:
    return Sent("u-1", "Hi", 0, "v", None, at, next_due, at + timedelta(seconds=60))


@pytest.mark.parametrize(
    ("next_due", "state", "step", "step_state", "end_reason"),
    [
        (LATER, "active", 1, "due", None),
        (None, "completed", 0, "sent", EndReason.SEQUENCE_COMPLETED),
    ],
    ids=["advances", "completes"],
)
def test_a_record_stores_the_message_moves_the_journey_and_paces_the_phone(
    stored: Stored, next_due: datetime | None, state: str, step: int, step_state: str,
    end_reason: str | None,
) -> None:  # fmt: skip
    [eid] = stored.queued()
    item = stored.item(eid)
    assert stored.claim(item).goes_ahead
    assert stored.store.record(item, _sent(next_due)) is True
    row = stored.enrollment(eid)
    assert (row.state, row.step, row.step_state, row.end_reason) == (
        state, step, step_state, end_reason,
    )  # fmt: skip
    if next_due is not None:
        assert (row.due_at, row.sending_at, row.attempts) == (next_due, None, 0)
    phone = stored.phone()
    assert (phone.sent_total, phone.last_send_at) == (1, NOW)
    assert phone.next_send_at == NOW + timedelta(seconds=60)
    assert stored.store.sent_message(item) == "u-1"


def test_a_record_after_the_enrollment_ended_marks_the_step_sent_and_nothing_more(
    stored: Stored,
) -> None:
    [eid] = stored.queued()
    item = stored.item(eid)
    assert stored.claim(item).goes_ahead
    stored.set_enrollment(eid, state="replied")  # the lead replied while it was in flight
    assert stored.store.record(item, _sent(LATER)) is False
    row = stored.enrollment(eid)
    assert (row.state, row.step, row.step_state) == ("replied", 0, "sent")
    with stored.database.session() as session:
        [message] = session.exec(select(Message))
    assert (message.direction, message.step, message.message_uid) == ("out", 0, "u-1")


@pytest.mark.parametrize(
    ("step_state", "reason", "state", "after"),
    [
        ("queued", EndReason.REPLIED, "replied", "due"),
        ("sending", EndReason.SEND_FAILED, "failed", "failed"),
        ("due", EndReason.MISSING_VARIABLE, "failed", "due"),
        ("queued", EndReason.UNKNOWN_SEQUENCE, "failed", "due"),
        ("queued", EndReason.OPTED_OUT, "opted_out", "due"),
    ],
)
def test_an_end_takes_its_state_from_the_journey(
    stored: Stored, step_state: str, reason: EndReason, state: str, after: str
) -> None:
    [eid] = stored.queued()
    stored.set_enrollment(eid, step_state=step_state)
    item = stored.item(eid)
    stored.store.end(item, reason=reason, error="why", now=NOW)
    row = stored.enrollment(eid)
    assert (row.state, row.end_reason, row.step_state, row.last_error) == (
        state, reason, after, "why",
    )  # fmt: skip
    assert row.ended_at == NOW


def test_an_end_leaves_an_ended_enrollment_as_it_ended(stored: Stored) -> None:
    [eid] = stored.queued()
    item = stored.item(eid)
    stored.set_enrollment(eid, state="opted_out", end_reason="opted_out")
    stored.store.end(item, reason=EndReason.SEND_FAILED, error="late", now=NOW)
    row = stored.enrollment(eid)
    assert (row.state, row.end_reason, row.last_error) == ("opted_out", "opted_out", None)


def _listed(stored: Stored) -> list[tuple[str, str, str | None]]:
    with stored.database.session() as session:
        rows = session.exec(select(Suppression))
        return [(row.phone, row.reason, row.source) for row in rows]


def test_a_number_not_on_whatsapp_ends_its_enrollment_and_goes_on_the_list(
    stored: Stored,
) -> None:
    [eid] = stored.queued()
    item = stored.item(eid)
    assert stored.claim(item).goes_ahead
    assert stored.store.end_not_on_whatsapp(item, error="Wrong phone number", now=NOW)
    row = stored.enrollment(eid)
    assert (row.state, row.end_reason, row.step_state, row.last_error, row.ended_at) == (
        "invalid_number", "invalid_number", "failed", "Wrong phone number", NOW,
    )  # fmt: skip
    assert _listed(stored) == [
        (item.lead_phone, "not_on_whatsapp", "not on WhatsApp: phone 01, campaign s")
    ]


def test_a_number_listed_already_stays_as_it_was(stored: Stored) -> None:
    [eid] = stored.queued()
    item = stored.item(eid)
    with stored.database.engine.begin() as connection:
        # Listed by hand while the send was in flight: that ended the enrollment too.
        suppression.add(connection, item.lead_phone, reason="manual", source="by hand", now=NOW)
    assert not stored.store.end_not_on_whatsapp(item, error="Wrong phone number", now=LATER)
    row = stored.enrollment(eid)
    assert (row.state, row.end_reason) == ("stopped", "suppressed")
    assert _listed(stored) == [(item.lead_phone, "manual", "by hand")]


def test_a_number_not_on_whatsapp_leaves_the_leads_ended_enrollments_alone(
    stored: Stored,
) -> None:
    [eid] = stored.queued()
    item = stored.item(eid)
    with stored.database.session() as session:
        earlier = Enrollment(
            lead_id=item.lead_id, campaign_id=campaign_id(session, "earlier"),
            sequence="earlier", state="completed", end_reason="sequence_completed",
            step_state=StepState.SENT,
        )  # fmt: skip
        session.add(earlier)
        session.flush()
        assert earlier.id is not None
        earlier_id = earlier.id
    stored.store.end_not_on_whatsapp(item, error="Wrong phone number", now=NOW)
    assert stored.enrollment(eid).state == "invalid_number"
    assert (stored.enrollment(earlier_id).state, stored.enrollment(earlier_id).ended_at) == (
        "completed", None,
    )  # fmt: skip


def test_pacing_after_a_failure_gives_the_first_messages_unit_back(stored: Stored) -> None:
    [eid] = stored.queued()
    assert stored.claim(stored.item(eid)).goes_ahead
    later = NOW + timedelta(seconds=45)
    stored.store.pace("01", now=NOW, next_send_at=later, sent=False, quota_back=DAY)
    phone = stored.phone()
    assert (phone.next_send_at, phone.failures_total, phone.sent_total) == (later, 1, 0)
    assert stored.used() == 0


@pytest.mark.parametrize("again", ["queued", "due"])
def test_a_step_that_never_went_out_is_let_go(stored: Stored, again: str) -> None:
    [eid] = stored.queued()
    item = stored.item(eid)
    assert stored.claim(item).goes_ahead
    stored.store.let_go(stored.item(eid), now=NOW, step_state=again, quota_back=DAY)
    assert stored.enrollment(eid).step_state == again
    assert stored.used() == 0


def test_a_send_counts_on_the_day_it_went_out_even_over_that_days_limit(stored: Stored) -> None:
    ids = stored.queued(2)
    tomorrow = DAY + timedelta(days=1)
    for eid in ids:
        assert stored.claim(stored.item(eid)).goes_ahead
        stored.set_phone(next_send_at=None)
    stored.store.move_quota("01", DAY, tomorrow)
    assert (stored.used(), stored.used(tomorrow)) == (1, 1)
    stored.store.move_quota("01", DAY, tomorrow)  # it went out: counted whatever the count
    assert (stored.used(), stored.used(tomorrow)) == (0, 2)


def test_a_phone_changes_state_once(stored: Stored) -> None:
    stored.queued()
    assert stored.store.set_phone_state("01", "banned", "TimelinesAI said so", NOW) is True
    assert stored.store.set_phone_state("01", "banned", "again", NOW) is False
    phone = stored.phone()
    assert (phone.state, phone.state_reason) == ("banned", "TimelinesAI said so")


def test_a_step_moves_only_from_the_state_its_caller_saw(stored: Stored) -> None:
    [eid] = stored.queued()
    item = stored.item(eid)
    assert stored.store.set_step(item, expect="sending", now=NOW, step_state="sent") is False
    assert stored.store.set_step(item, expect="queued", now=NOW, step_state="due") is True
    assert stored.enrollment(eid).step_state == "due"


# The read: a store may claim with it, only when everything it can check says go ----------


def _paced(stored: Stored, eid: int) -> None:
    stored.set_phone(next_send_at=NOW + timedelta(seconds=1))


def _phone_paused(stored: Stored, eid: int) -> None:
    stored.set_phone(state="paused")


def _campaign_paused(stored: Stored, eid: int) -> None:
    with stored.database.session() as session:
        campaign = session.exec(select(Campaign).where(Campaign.name == "s")).one()
        campaign.state = "paused"
        session.add(campaign)


def _older_dispatch(stored: Stored, eid: int) -> None:
    stored.set_enrollment(eid, queued_at=NOW + timedelta(seconds=5))


NOT_NOW = {
    "paced": _paced,
    "phone paused": _phone_paused,
    "campaign paused": _campaign_paused,
    "enrollment ended": _ended,
    "moved to another phone": _moved_to_phone_02,
    "older dispatch": _older_dispatch,
    "already being sent": _already_sending,
}


@pytest.mark.parametrize("change", NOT_NOW.values(), ids=NOT_NOW.keys())
def test_a_read_changes_nothing_when_the_step_may_not_go_now(
    stored: Stored, change: Callable[[Stored, int], None]
) -> None:
    [eid] = stored.queued()
    stored.set_enrollment(eid, queued_at=NOW)
    change(stored, eid)
    before = (stored.enrollment(eid).step_state, stored.phone().next_send_at)
    request = Request(eid, 0, "01", dispatch_id=dispatch_id(NOW))
    reading = stored.store.read(request, now=NOW, hold_until=HOLD, quota=QUOTA)
    assert reading.item is not None and reading.item.enrollment_id == eid
    assert reading.claim is None
    assert (stored.enrollment(eid).step_state, stored.phone().next_send_at) == before
    assert stored.used() == 0


def test_a_read_that_claims_returns_the_item_as_it_was_before(stored: Stored) -> None:
    [eid] = stored.queued()
    reading = stored.store.read(Request(eid, 0, "01"), now=NOW, hold_until=HOLD, quota=QUOTA)
    item = reading.item
    assert item is not None
    assert (item.step_state, item.next_send_at) == ("queued", None)
    if reading.claim is None:  # the reference store claims separately
        assert stored.claim(item).goes_ahead
    else:
        assert reading.claim.goes_ahead
    assert (stored.enrollment(eid).step_state, stored.phone().next_send_at) == ("sending", HOLD)
    assert stored.used() == 1


def test_a_read_of_a_gone_enrollment_finds_nothing_and_changes_nothing(stored: Stored) -> None:
    stored.queued()
    reading = stored.store.read(Request(999_999, 0, "01"), now=NOW, hold_until=HOLD, quota=QUOTA)
    assert reading.item is None and reading.claim is None
    assert stored.phone().next_send_at is None


def test_a_claim_read_with_its_item_over_quota_is_released_whole(stored: Stored) -> None:
    first, second = stored.queued(2)
    one = Quota(DAY, 1)
    for eid in (first, second):
        reading = stored.store.read(Request(eid, 0, "01"), now=NOW, hold_until=HOLD, quota=one)
        assert reading.item is not None
        claim = reading.claim or stored.claim(reading.item, one)
        if not claim.goes_ahead:
            hold = Hold(reading.item.next_send_at, HOLD)
            stored.store.release(reading.item, claim, now=NOW, hold=hold, quota=one)
        stored.set_phone(next_send_at=NOW)  # the send recorded its pacing
    assert stored.enrollment(second).step_state == "queued"
    assert stored.phone().next_send_at == NOW
    assert stored.used() == 1


# The hourly cap ----------------------------------------------------------------------

HOURLY = Quota(DAY, 100, per_hour=2)
HOUR_START = NOW - timedelta(minutes=50)


def _claim_at(
    stored: Stored, eid: int, at: datetime, quota: Quota, *, fused: bool
) -> tuple[WorkItem, Claim]:
    """Claim ``eid``'s first message at ``at`` as a sender does: with the read when
    ``fused`` (where the store claims with its read), else read, then claim."""
    hold_until = at + timedelta(seconds=90)
    reading = stored.store.read(
        Request(eid, 0, "01"), now=at, hold_until=hold_until if fused else None, quota=quota
    )
    assert reading.item is not None
    if reading.claim is not None:
        return reading.item, reading.claim
    hold = Hold(reading.item.next_send_at, hold_until)
    return reading.item, stored.store.claim(reading.item, now=at, hold=hold, quota=quota)


@pytest.mark.parametrize("fused", [False, True], ids=["claim", "read and claim"])
def test_the_hourly_cap_counts_sent_and_in_flight_first_messages(
    stored: Stored, fused: bool
) -> None:
    sent, in_flight, third = stored.queued(3)
    item, claim = _claim_at(stored, sent, HOUR_START, HOURLY, fused=fused)
    assert claim.goes_ahead
    stored.store.record(item, _sent(LATER, at=HOUR_START))
    # Claimed ten minutes later and never recorded: in flight, it counts too.
    in_flight_at = HOUR_START + timedelta(minutes=10)
    assert _claim_at(stored, in_flight, in_flight_at, HOURLY, fused=fused)[1].goes_ahead

    item, claim = _claim_at(stored, third, NOW, HOURLY, fused=fused)
    # The hour is full (the day is not): no unit taken, and it frees an hour after the send.
    assert claim == Claim(True, False, hour_frees_at=HOUR_START + timedelta(hours=1))
    hold = Hold(item.next_send_at, NOW + timedelta(seconds=90))
    stored.store.release(item, claim, now=NOW, hold=hold, quota=HOURLY)
    assert stored.enrollment(third).step_state == "queued"
    assert stored.phone().next_send_at == item.next_send_at
    assert stored.used() == 2

    # Once the sent one has left the hour, the in-flight one alone is under the cap.
    freed = HOUR_START + timedelta(hours=1, seconds=1)
    assert _claim_at(stored, third, freed, HOURLY, fused=fused)[1].goes_ahead
    assert stored.used() == 3


def test_an_hourly_cap_of_zero_is_no_cap(stored: Stored) -> None:
    ids = stored.queued(3)
    for eid in ids:
        assert _claim_at(stored, eid, NOW, Quota(DAY, 100, per_hour=0), fused=False)[1].goes_ahead
        stored.set_phone(next_send_at=None)  # its send is over
    assert stored.used() == 3
