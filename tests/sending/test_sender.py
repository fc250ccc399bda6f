"""One send, every branch: sent, held, put back, reconciled, or turned into a named state."""

from __future__ import annotations

import dataclasses
import logging
import random
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from sqlalchemy import make_url, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import select

from engine.db import Database
from engine.models import Alert, Campaign, Enrollment, Phone, QuotaUsage, StepState
from engine.sending import decision
from engine.sending.outcome import Done, PutBack
from engine.sending.schedule import Schedule
from engine.sending.service import send_with_lease
from engine.storage import dispatch_id, send_store
from engine.timelinesai import SendOutcomeUnknown, ServerError
from phones.lease import MemoryLease
from sequences import choose_variant, compiled_sequences
from tests.sending.conftest import Harness


def test_first_message_is_sent_recorded_scheduled_and_paced(harness: Harness) -> None:
    eid = harness.enroll()
    outcome = harness.send(eid, 0, "01")
    assert outcome == Done("sent")
    [message] = harness.messages()
    assert message.direction == "out"
    assert message.step == 0
    assert message.message_uid
    assert "{" not in message.text
    assert "Ana" in message.text
    assert message.content_hash
    enrollment = harness.enrollment(eid)
    assert (enrollment.state, enrollment.step, enrollment.step_state) == ("active", 1, "due")
    assert enrollment.due_at == harness.clock.now() + timedelta(days=2)
    phone = harness.phone()
    assert phone.next_send_at is not None
    gap = (phone.next_send_at - harness.clock.now()).total_seconds()
    assert 30 <= gap <= 150
    assert phone.sent_total == 1
    assert harness.quota_used() == 1
    [send] = harness.sim.sends()
    assert send.account_phone == "+447700900001"
    assert send.recipient_phone == "+40712345678"


def test_the_rendering_is_seeded_by_enrollment_and_step(harness: Harness) -> None:
    # "{Hi|Hello}" is one bit per send: 18 sends leave a wrong seed one chance in 2**18.
    phones = ["01", "01", "01", "02", "02", "02"]  # quota is 3 a day per phone
    sent: dict[int, str] = {}
    for day in range(3):
        for i, phone in enumerate(phones):
            number = f"+4071234{day}{i:03d}"
            eid = harness.enroll(number, phone_id=phone)
            harness.clock.advance(200)
            assert harness.send(eid, 0, phone) == Done("sent")
            sent[eid] = number
        harness.clock.advance(days=1)
    templates = compiled_sequences(harness.settings)["intro"].steps[0].templates
    variables = {"name": "Ana", "company": "Acme"}  # what the harness enrolls leads with
    texts_sent = {r.recipient_phone: r.text for r in harness.sim.sends() if r.status_code == 200}
    messages = {m.enrollment_id: m for m in harness.messages()}
    assert messages.keys() == sent.keys()
    for eid, number in sent.items():
        variant = choose_variant(eid, 0, len(templates))
        rendered = templates[variant].render(variables, seed=f"{eid}:0")
        message = messages[eid]
        assert (message.template_variant, message.variant_id) == (variant, rendered.variant_id)
        assert message.text == texts_sent[number] == rendered.text
    assert len({m.text for m in messages.values()}) > 1  # not all byte-identical


def test_a_duplicate_delivery_never_sends_twice(harness: Harness) -> None:
    eid = harness.enroll()
    assert harness.send(eid, 0, "01") == Done("sent")
    harness.clock.advance(300)
    assert harness.send(eid, 0, "01") == Done("step already moved on")
    assert harness.sends() == 1


def test_last_step_completes_the_enrollment(harness: Harness) -> None:
    eid = harness.enroll(step=1, state="active", chat_id=None)
    assert harness.send(eid, 1, "01") == Done("sent")
    enrollment = harness.enrollment(eid)
    assert (enrollment.state, enrollment.end_reason) == ("completed", "sequence_completed")
    assert enrollment.ended_at is not None
    assert harness.quota_used() == 0  # follow-ups are free


def test_follow_up_goes_into_the_leads_chat(harness: Harness) -> None:
    first = harness.enroll()
    harness.send(first, 0, "01")
    first_send = harness.sim.sends()[0]
    [chat] = list(harness.sender.client.find_chats(phone="+40712345678"))
    with harness.database.session() as session:
        row = session.get(Enrollment, first)
        assert row is not None
        row.chat_id, row.step_state, row.queued_at = chat.id, StepState.QUEUED, harness.clock.now()
        session.add(row)
    harness.clock.advance(days=2)
    assert harness.send(first, 1, "01") == Done("sent")
    follow_up = harness.sim.sends()[-1]
    assert first_send.path == "/messages"  # the first opens the chat by phone number
    assert follow_up.path == f"/chats/{chat.id}/messages"


def test_a_gone_chat_falls_back_to_the_phone_number(harness: Harness) -> None:
    eid = harness.enroll(step=1, state="active", chat_id=987654)
    assert harness.send(eid, 1, "01") == Done("sent")
    sends = harness.sim.sends()
    assert [s.status_code for s in sends] == [404, 200]
    assert sends[-1].recipient_phone == "+40712345678"


def test_pacing_puts_the_message_back_without_sending(harness: Harness) -> None:
    eid = harness.enroll()
    with harness.database.session() as session:
        phone = session.get(Phone, "01")
        assert phone is not None
        phone.next_send_at = harness.clock.now() + timedelta(seconds=60)
        session.add(phone)
    outcome = harness.send(eid, 0, "01")
    assert outcome == PutBack(60.0, "pacing")
    assert harness.sends() == 0
    assert harness.enrollment(eid).step_state == "queued"


def test_a_pacing_wait_across_midnight_takes_the_unit_of_the_new_day(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The short wait for the phone's gap is taken here; the claim after it, and so the
    quota unit, belongs to the day it is made on: the day reconciliation gives it back to
    if the send never went out."""
    midnight = datetime(2026, 1, 14, tzinfo=UTC)
    harness.clock.set(midnight - timedelta(seconds=0.4))
    eid = harness.enroll()
    with harness.database.session() as session:
        phone = session.get(Phone, "01")
        assert phone is not None
        phone.next_send_at = midnight + timedelta(seconds=0.2)  # within the inline wait
        session.add(phone)

    def unknown(**_: object) -> None:
        raise SendOutcomeUnknown("the answer never came", text="Hello")

    monkeypatch.setattr(harness.sender.client, "send_message", unknown)
    assert harness.send(eid, 0, "01") == PutBack(120.0, "outcome unknown: reconcile")
    assert _units(harness) == {("2026-01-14", 1)}
    harness.clock.advance(121)  # not in the chat history: it never went out
    monkeypatch.undo()
    assert harness.send(eid, 0, "01") == Done("sent")
    assert _units(harness) == {("2026-01-14", 1)}  # given back, then taken again: one


def _units(harness: Harness) -> set[tuple[str, int]]:
    with harness.database.session() as session:
        return {(u.day.isoformat(), u.used) for u in session.exec(select(QuotaUsage)) if u.used}


def test_a_busy_phone_puts_the_message_back(harness: Harness) -> None:
    eid = harness.enroll()
    assert harness.lease.take("01") is not None
    outcome = harness.send(eid, 0, "01")
    assert isinstance(outcome, PutBack)
    assert outcome.reason == "phone busy"
    assert outcome.delay_s >= 30
    assert harness.sends() == 0


@pytest.mark.parametrize("state", ["replied", "opted_out", "stopped", "completed"])
def test_an_ended_enrollment_is_never_sent(harness: Harness, state: str) -> None:
    eid = harness.enroll(step=1, state="active")
    with harness.database.session() as session:
        row = session.get(Enrollment, eid)
        assert row is not None
        row.state = state
        session.add(row)
    assert harness.send(eid, 1, "01") == Done(f"enrollment {state}")
    assert harness.sends() == 0


def _set_campaign(harness: Harness, name: str, state: str) -> None:
    with harness.database.session() as session:
        campaign = session.exec(select(Campaign).where(Campaign.name == name)).one()
        campaign.state = state
        session.add(campaign)


def test_a_paused_campaign_holds_its_sends(harness: Harness) -> None:
    eid = harness.enroll()
    _set_campaign(harness, "intro", "paused")
    assert harness.send(eid, 0, "01") == Done("back to due: campaign paused")
    assert harness.enrollment(eid).step_state == "due"
    assert harness.sends() == 0


def test_the_held_campaign_is_the_enrollments_own_not_its_sequences(harness: Harness) -> None:
    """Two campaigns of one sequence: pausing one holds only its own sends."""
    held = harness.enroll(campaign="autumn")
    sent = harness.enroll("+40712345679", campaign="spring")
    _set_campaign(harness, "autumn", "paused")
    assert harness.send(sent, 0, "01") == Done("sent")
    assert harness.send(held, 0, "01") == Done("back to due: campaign paused")
    assert harness.sends() == 1


def test_a_message_of_an_older_dispatch_is_dropped(harness: Harness) -> None:
    eid = harness.enroll()
    old = dispatch_id(harness.clock.now() - timedelta(seconds=1))
    assert harness.send(eid, 0, "01", dispatch_id=old) == Done("superseded by a newer dispatch")
    current = dispatch_id(harness.clock.now())
    assert harness.send(eid, 0, "01", dispatch_id=current) == Done("sent")


def test_outside_the_send_window_the_step_waits_for_the_opening(harness: Harness) -> None:
    harness.clock.set(datetime(2026, 1, 17, 12, 0, tzinfo=UTC))  # a Saturday
    eid = harness.enroll(sequence="windowed")
    assert harness.send(eid, 0, "01") == Done("back to due: outside the send window")
    enrollment = harness.enrollment(eid)
    assert enrollment.step_state == "due"
    assert enrollment.due_at == datetime(2026, 1, 19, 9, 0, tzinfo=UTC)  # Monday 09:00
    assert harness.sends() == 0
    assert (harness.quota_used(), harness.phone().next_send_at) == (0, None)  # as they were


def test_a_window_that_closes_during_the_pacing_wait_holds_the_send(harness: Harness) -> None:
    harness.clock.set(datetime(2026, 1, 16, 16, 59, 59, 800000, tzinfo=UTC))  # Friday, 0.2 s left
    eid = harness.enroll(sequence="windowed")
    with harness.database.session() as session:
        phone = session.get(Phone, "01")
        assert phone is not None
        phone.next_send_at = harness.clock.now() + timedelta(seconds=0.5)  # a short inline wait
        session.add(phone)
    assert harness.send(eid, 0, "01") == Done("back to due: outside the send window")
    assert harness.enrollment(eid).due_at == datetime(2026, 1, 19, 9, 0, tzinfo=UTC)
    assert harness.sends() == 0


def test_over_quota_the_first_message_waits_and_may_move_phone(harness: Harness) -> None:
    with harness.database.session() as session:
        session.add(QuotaUsage(phone_id="01", day=harness.clock.now().date(), used=3))
    eid = harness.enroll()
    assert harness.send(eid, 0, "01") == Done("back to due: phone quota used up")
    enrollment = harness.enrollment(eid)
    assert (enrollment.step_state, enrollment.phone_id, enrollment.state) == (
        "due",
        None,
        "pending",
    )
    assert harness.quota_used() == 3
    assert harness.sends() == 0


def test_over_the_hourly_cap_the_first_message_waits_for_the_hour_on_its_phone(
    harness: Harness,
) -> None:
    quota = dataclasses.replace(harness.settings.quota, new_contacts_per_hour=1)
    settings = dataclasses.replace(harness.settings, quota=quota)
    harness.sender.schedule = Schedule(settings, harness.clock.speed, random.Random(3))
    first, second = harness.enroll(), harness.enroll("+40712345679")
    assert harness.send(first, 0, "01") == Done("sent")
    [message] = harness.messages()
    harness.clock.advance(minutes=20)  # long past the pacing, inside the hour
    assert harness.send(second, 0, "01") == Done("back to due: phone's hourly cap reached")
    enrollment = harness.enrollment(second)
    assert message.sent_at is not None
    assert (enrollment.step_state, enrollment.phone_id, enrollment.due_at) == (
        "due", "01", message.sent_at + timedelta(hours=1),
    )  # fmt: skip
    assert harness.quota_used() == 1  # the day's unit was not taken
    assert harness.sends() == 1


def test_a_first_message_that_crosses_midnight_in_flight_counts_for_the_new_day(
    harness: Harness,
) -> None:
    """Claimed on one quota day, accepted on the next: the new day counts it (invariant 3)."""
    harness.clock.set(datetime(2026, 1, 13, 23, 59, 59, 500000, tzinfo=UTC))
    claimed_day = harness.clock.now().date()
    client = harness.sender.client
    send = client.send_message

    def slow_send(**kwargs: object) -> object:
        harness.clock.advance(1)  # the answer comes back after midnight
        return send(**kwargs)  # type: ignore[arg-type]

    client.send_message = slow_send  # type: ignore[method-assign]
    eid = harness.enroll()
    assert harness.send(eid, 0, "01") == Done("sent")
    with harness.database.session() as session:
        usage = {row.day: row.used for row in session.exec(select(QuotaUsage))}
    assert usage == {claimed_day: 0, claimed_day + timedelta(days=1): 1}


def test_an_invalid_number_ends_the_enrollment_and_gives_the_quota_back(harness: Harness) -> None:
    harness.sim.configure(invalid_recipient_pattern=r"^\+40799")
    eid = harness.enroll("+40799000000")
    assert harness.send(eid, 0, "01") == Done("invalid number")
    enrollment = harness.enrollment(eid)
    assert (enrollment.state, enrollment.end_reason) == ("invalid_number", "invalid_number")
    assert harness.quota_used() == 0


def test_a_disconnected_sender_is_not_blamed_on_the_lead(harness: Harness) -> None:
    harness.sim.set_account_status("+447700900001", "disconnected")
    eid = harness.enroll()
    assert harness.send(eid, 0, "01") == Done("back to due: phone offline")
    assert harness.phone().state == "offline"
    enrollment = harness.enrollment(eid)
    assert (enrollment.state, enrollment.step_state, enrollment.phone_id) == (
        "pending",
        "due",
        None,
    )
    assert harness.quota_used() == 0


def test_a_banned_phone_leaves_the_pool_with_an_alert(harness: Harness) -> None:
    harness.sim.set_account_status("+447700900001", "banned")
    eid = harness.enroll()
    assert harness.send(eid, 0, "01") == Done("back to due: phone banned")
    assert harness.phone().state == "banned"
    assert harness.enrollment(eid).phone_id is None  # its lead can go out from another phone
    with harness.database.session() as session:
        alerts = list(session.exec(select(Alert)))
    assert [a.kind for a in alerts] == ["phone_banned"]


def test_a_transient_error_is_retried_then_lands_in_the_dead_letters(harness: Harness) -> None:
    harness.sim.configure(error_rate=1.0)
    eid = harness.enroll()
    with pytest.raises(ServerError):
        harness.send(eid, 0, "01")
    enrollment = harness.enrollment(eid)
    assert enrollment.step_state == "queued"
    assert enrollment.last_error
    assert harness.quota_used() == 0
    harness.clock.advance(300)
    assert harness.send(eid, 0, "01", last_try=True) == Done("dead letter")
    enrollment = harness.enrollment(eid)
    assert (enrollment.step_state, enrollment.state) == ("failed", "pending")
    assert "ServerError" in (enrollment.last_error or "")
    with harness.database.session() as session:
        [alert] = session.exec(select(Alert).where(Alert.kind == "dead_letter"))
    # Steps are numbered from 1 wherever a person reads them; the alert says what to do.
    assert alert.message.startswith(f"step 1 of enrollment {eid} failed: ServerError")
    assert f"outreach dlq retry {eid}" in alert.message


def test_an_unknown_outcome_is_reconciled_not_resent(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    harness.sim.configure(timeout_after_record_rate=1.0, stall_s=2.0)
    eid = harness.enroll()
    with caplog.at_level(logging.INFO):
        outcome = harness.send(eid, 0, "01")
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and warnings[0].startswith(f"step 1 of enrollment {eid}: outcome")
    assert outcome == PutBack(120.0, "outcome unknown: reconcile")
    assert harness.enrollment(eid).step_state == "sending"
    harness.sim.configure(timeout_after_record_rate=0.0)
    harness.clock.advance(10)
    assert harness.send(eid, 0, "01") == Done("reconciled: it had been sent")
    accepted = list(harness.sim.sends())
    assert len(accepted) == 1  # the stalled request was recorded; nothing sent again
    [message] = harness.messages()
    assert message.message_uid
    assert harness.enrollment(eid).step == 1


def test_a_step_stuck_in_sending_that_never_went_out_is_sent_after_the_grace(
    harness: Harness,
) -> None:
    eid = harness.enroll()
    harness.left_sending(eid)
    outcome = harness.send(eid, 0, "01")
    assert isinstance(outcome, PutBack)  # too early to conclude it never went out
    harness.clock.advance(121)
    assert harness.send(eid, 0, "01") == Done("sent")
    assert harness.sends() == 1


def test_a_refused_token_halts_all_sending_with_an_alert(harness: Harness) -> None:
    harness.sim.configure(token="the-real-token")
    eid = harness.enroll()
    assert harness.send(eid, 0, "01") == Done("back to due: bad token")
    assert harness.halt.active()
    other = harness.enroll("+40712345679")
    assert harness.send(other, 0, "01") == Done(
        "back to due: sending halted: TimelinesAI token refused"
    )
    with harness.database.session() as session:
        assert [a.kind for a in session.exec(select(Alert))] == ["bad_token"]


def test_an_enrollment_of_a_sequence_gone_from_the_config_fails_visibly(harness: Harness) -> None:
    eid = harness.enroll(sequence="retired")
    assert harness.send(eid, 0, "01") == Done("unknown sequence")
    enrollment = harness.enrollment(eid)
    assert (enrollment.state, enrollment.end_reason) == ("failed", "unknown_sequence")
    assert harness.sends() == 0
    assert (harness.quota_used(), harness.phone().next_send_at) == (0, None)


def test_a_missing_variable_ends_the_enrollment_and_takes_nothing(harness: Harness) -> None:
    eid = harness.enroll(sequence="strict")  # the lead has no city
    assert harness.send(eid, 0, "01") == Done("missing variable")
    enrollment = harness.enrollment(eid)
    assert (enrollment.state, enrollment.end_reason) == ("failed", "missing_variable")
    assert "city" in (enrollment.last_error or "")
    assert harness.sends() == 0
    assert (harness.quota_used(), harness.phone().next_send_at) == (0, None)


def test_a_check_that_raises_after_the_claim_lets_go_of_it(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL the step is claimed before Python's checks: one that raises (a bug,
    a config the item no longer fits) must not leave the step, phone and quota held."""
    eid = harness.enroll()

    def broken(*_: object, **__: object) -> None:
        raise IndexError("no such step")

    monkeypatch.setattr(decision, "decide", broken)
    with pytest.raises(IndexError):
        harness.send(eid, 0, "01")
    assert harness.enrollment(eid).step_state == "queued"
    assert (harness.quota_used(), harness.phone().next_send_at) == (0, None)
    assert harness.sends() == 0


def test_a_send_reads_and_claims_in_one_statement_on_postgresql(harness: Harness) -> None:
    """Read and claim, then record: two statements for a send (SQLite takes more)."""
    if harness.database.dialect != "postgresql":
        pytest.skip("the one-statement claim is PostgreSQL's")
    counted = Database(harness.database.url, count_round_trips=True)
    sender = dataclasses.replace(harness.sender, store=send_store(counted))
    eid = harness.enroll()
    assert counted.round_trips is not None
    counted.round_trips.take()
    assert send_with_lease(sender, harness.lease, eid, 0, "01") == Done("sent")
    assert counted.round_trips.take() == 2
    sender.close()
    counted.dispose()
    assert harness.quota_used() == 1


def _mark_replied(harness: Harness, enrollment_id: int) -> None:
    with harness.database.session() as session:
        row = session.get(Enrollment, enrollment_id)
        assert row is not None
        row.state, row.end_reason = "replied", "replied"
        session.add(row)


def test_a_reply_during_the_pacing_wait_stops_the_send(harness: Harness) -> None:
    """Invariant 5: the claim is where a send starts; a reply stored before it wins."""
    eid = harness.enroll(step=1, state="active")
    with harness.database.session() as session:
        phone = session.get(Phone, "01")
        assert phone is not None
        phone.next_send_at = harness.clock.now() + timedelta(seconds=0.5)  # a short inline wait
        session.add(phone)
    waited = harness.clock.sleep

    def reply_while_waiting(seconds: float) -> None:
        _mark_replied(harness, eid)  # the webhook stores the reply during the wait
        waited(seconds)

    harness.clock.sleep = reply_while_waiting  # type: ignore[method-assign]
    assert harness.send(eid, 1, "01") == Done("step no longer queued, or the enrollment ended")
    assert harness.sends() == 0
    assert harness.enrollment(eid).state == "replied"


def test_a_reply_during_an_in_flight_send_is_not_undone(harness: Harness) -> None:
    """A send already started may finish, but recording it must not revive the lead."""
    eid = harness.enroll(step=0)
    client = harness.sender.client
    send = client.send_message

    def reply_arrives_mid_send(**kwargs: object) -> object:
        answer = send(**kwargs)  # type: ignore[arg-type]
        _mark_replied(harness, eid)
        return answer

    client.send_message = reply_arrives_mid_send  # type: ignore[method-assign]
    assert harness.send(eid, 0, "01") == Done("sent")
    enrollment = harness.enrollment(eid)
    assert (enrollment.state, enrollment.step) == ("replied", 0)  # no next step scheduled
    assert len(harness.messages()) == 1  # the message that did go out is on record


def test_a_send_whose_lease_redis_lost_waits_for_the_send_in_flight(harness: Harness) -> None:
    """Invariants 1 and 2 without the lease: the claim's hold on the phone row keeps them.

    Redis forgets the lease (FLUSHALL, a restart) while a send is in flight; a second
    worker then takes the lease and reads the phone: it must not send before the first
    send has ended and paced the phone.
    """
    first, second = harness.enroll("+40712345671"), harness.enroll("+40712345672")
    client = harness.sender.client
    send = client.send_message
    outcomes = []

    def redis_loses_the_lease_mid_send(**kwargs: object) -> object:
        harness.lease = MemoryLease()  # flushed: nobody holds phone 01
        outcomes.append(harness.send(second, 0, "01"))  # another worker's turn
        return send(**kwargs)  # type: ignore[arg-type]

    client.send_message = redis_loses_the_lease_mid_send  # type: ignore[method-assign]
    assert harness.send(first, 0, "01") == Done("sent")
    [late] = outcomes
    assert isinstance(late, PutBack)
    assert late.reason == "pacing"  # it read the hold the first send's claim put on the phone
    assert harness.sends() == 1
    assert harness.enrollment(second).step_state == "queued"


def test_a_sender_that_read_the_phone_before_another_claimed_it_backs_off(
    harness: Harness,
) -> None:
    """The same without the lease, the other order: the second sender read the phone's
    pacing before the first claimed it, and finds it changed at its own claim."""
    first, second = harness.enroll("+40712345671"), harness.enroll("+40712345672")
    with harness.database.session() as session:
        phone = session.get(Phone, "01")
        assert phone is not None
        phone.next_send_at = harness.clock.now() + timedelta(seconds=0.5)  # a short inline wait
        session.add(phone)
    waited = harness.clock.sleep
    other: list[object] = []

    def the_other_worker_sends_meanwhile(seconds: float) -> None:
        waited(seconds)
        if harness.lease is lease:  # once: the other worker's own wait returns here
            harness.lease = MemoryLease()  # Redis lost the lease
            other.append(harness.send(first, 0, "01"))

    lease = harness.lease
    harness.clock.sleep = the_other_worker_sends_meanwhile  # type: ignore[method-assign]
    outcome = harness.send(second, 0, "01")
    assert other == [Done("sent")]
    assert isinstance(outcome, PutBack)
    assert outcome.reason == "phone busy: another send holds it"
    assert harness.sends() == 1
    assert harness.enrollment(second).step_state == "queued"
    assert harness.quota_used() == 1


def _end_other_connections(database: Database) -> None:
    """What a database restart does to every connection of this database but the caller's."""
    url = make_url(database.url).set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as c:
        c.execute(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


def test_a_kept_connection_found_dead_elsewhere_is_replaced_before_a_send(
    harness: Harness,
) -> None:
    """The sender keeps a connection per thread; after the server dropped them, one failed
    statement anywhere in the process is enough for the next send to take a new one."""
    if harness.database.dialect != "postgresql":
        pytest.skip("kept connections are PostgreSQL's")
    first = harness.enroll()
    assert harness.send(first, 0, "01") == Done("sent")
    second = harness.enroll("+40712345679")  # through the pool, which keeps the connection
    _end_other_connections(harness.database)
    # The pool's own connection finds the server gone.
    with pytest.raises(DBAPIError), harness.database.engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    harness.clock.advance(300)
    assert harness.send(second, 0, "01") == Done("sent")


def test_closing_the_sender_gives_its_kept_connections_back(harness: Harness) -> None:
    if harness.database.dialect != "postgresql":
        pytest.skip("kept connections are PostgreSQL's")
    eid = harness.enroll()
    assert harness.send(eid, 0, "01") == Done("sent")
    pool = harness.database.engine.pool
    assert pool.checkedout() == 1  # type: ignore[attr-defined]
    harness.sender.close()
    assert pool.checkedout() == 0  # type: ignore[attr-defined]
