"""Automatic answers go out like follow-ups: queued by the dispatcher, sent once under the
phone's pacing and the sequence's send window, recorded and paced after."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlmodel import select

from engine.dispatcher import Dispatcher
from engine.models import AutoReply, Enrollment, Message, Phone, Suppression
from engine.sending.autoreply import AutoReplySender
from engine.sending.outcome import Done, Outcome, PutBack
from engine.timelinesai import SendOutcomeUnknown
from phones.lease import holding
from sequences import compiled_sequences
from tests.sending.conftest import Harness

LEAD = "+40712345678"


@dataclass
class Answering:
    harness: Harness
    sender: AutoReplySender
    queued: list[tuple[str, int]]
    dispatcher: Dispatcher

    def send(self, answer_id: int, phone_id: str = "01") -> Outcome:
        """Send the answer holding its phone's lease, as the worker does."""
        with holding(self.harness.lease, phone_id) as held:
            assert held is not None
            return self.sender.send(held, answer_id)


@pytest.fixture
def answering(harness: Harness) -> Answering:
    sender = AutoReplySender(
        settings=harness.settings, sequences=compiled_sequences(harness.settings),
        database=harness.database, client=harness.sender.client, clock=harness.clock,
        halt=harness.halt, rng=random.Random(1),
    )  # fmt: skip
    queued: list[tuple[str, int]] = []
    dispatcher = Dispatcher(
        harness.settings, compiled_sequences(harness.settings), harness.database,
        lambda *_: None, lambda phone, answer_id: queued.append((phone, answer_id)),
    )  # fmt: skip
    return Answering(harness, sender, queued, dispatcher)


def _answer_due(answering: Answering, *, sequence: str = "intro") -> int:
    """A lead got step 1, replied, and its reply's rule has an answer due now."""
    harness = answering.harness
    eid = harness.enroll(LEAD, sequence=sequence)
    harness.send(eid, 0, "01")
    harness.clock.advance(200)  # past the phone's pacing gap
    with harness.database.session() as session:
        enrollment = harness.enrollment(eid)
        reply = Message(direction="in", enrollment_id=eid, lead_id=enrollment.lead_id,
                        phone_id="01", step=0, text="STOP", status="received")  # fmt: skip
        session.add(reply)
        session.flush()
        answer = AutoReply(lead_id=enrollment.lead_id, message_id=reply.id or 0,
                           enrollment_id=eid, phone_id="01", rule="opt_out",
                           text="Done, you will not hear from us again.", state="due",
                           due_at=harness.clock.now())  # fmt: skip
        session.add(answer)
        session.flush()
        assert answer.id is not None
        return answer.id


def _answer(answering: Answering, answer_id: int) -> AutoReply:
    with answering.harness.database.session() as session:
        found = session.get(AutoReply, answer_id)
        assert found is not None
        return found


def test_a_due_answer_is_queued_then_sent_once_and_paces_the_phone(answering: Answering) -> None:
    harness = answering.harness
    answer_id = _answer_due(answering)
    report = answering.dispatcher.run_once(harness.clock.now())
    assert report.answers == 1 and answering.queued == [("01", answer_id)]
    assert _answer(answering, answer_id).state == "queued"
    assert answering.dispatcher.run_once(harness.clock.now()).answers == 0  # queued once
    assert answering.send(answer_id) == Done("auto-reply sent")
    answer = _answer(answering, answer_id)
    assert answer.state == "sent" and answer.message_uid
    send = harness.sim.sends()[-1]
    assert (send.recipient_phone, send.text) == (LEAD, "Done, you will not hear from us again.")
    with harness.database.session() as session:
        recorded = session.exec(select(Message).where(Message.origin == "auto_reply")).one()
        phone = session.get(Phone, "01")
    assert (recorded.direction, recorded.step, recorded.message_uid) == (
        "out", None, answer.message_uid,
    )  # fmt: skip
    assert phone is not None and phone.next_send_at is not None
    assert phone.next_send_at >= harness.clock.now() + timedelta(seconds=30)
    # A duplicate delivery of the same message sends nothing.
    assert answering.send(answer_id) == Done("auto-reply gone or not queued")
    assert harness.sends() == 2  # step 1 and the answer


def test_an_answer_waits_out_the_phones_pacing(answering: Answering) -> None:
    harness = answering.harness
    answer_id = _answer_due(answering)
    answering.dispatcher.run_once(harness.clock.now())
    with harness.database.session() as session:  # another send of the phone just went out
        phone = session.get(Phone, "01")
        assert phone is not None
        phone.next_send_at = harness.clock.now() + timedelta(seconds=60)
        session.add(phone)
    outcome = answering.send(answer_id)
    assert isinstance(outcome, PutBack) and outcome.reason == "pacing"
    assert _answer(answering, answer_id).state == "queued"


def test_an_answer_outside_the_send_window_waits_for_its_opening(answering: Answering) -> None:
    harness = answering.harness
    harness.clock.set(harness.clock.now().replace(hour=20))  # Tuesday 20:00, window 09-17
    answer_id = _answer_due(answering, sequence="windowed")
    answering.dispatcher.run_once(harness.clock.now())
    assert answering.send(answer_id) == Done("auto-reply waits: outside the send window")
    answer = _answer(answering, answer_id)
    assert answer.state == "due" and answer.due_at.hour == 9  # Wednesday 09:00
    assert harness.sends() == 0  # nothing goes out after 17:00, the first message neither


def test_an_answer_whose_outcome_is_unknown_is_never_sent_again(
    answering: Answering, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness = answering.harness
    answer_id = _answer_due(answering)
    answering.dispatcher.run_once(harness.clock.now())

    def timeout(**_: object) -> None:
        raise SendOutcomeUnknown("timed out after the request left", text="Done")

    monkeypatch.setattr(answering.sender.client, "send_message", timeout)
    assert answering.send(answer_id) == Done("auto-reply failed")
    answer = _answer(answering, answer_id)
    assert answer.state == "failed" and "not sent again" in (answer.error or "")
    assert answering.dispatcher.run_once(harness.clock.now()).answers == 0


def test_an_answer_for_a_phone_not_active_waits(answering: Answering) -> None:
    harness = answering.harness
    answer_id = _answer_due(answering)
    answering.dispatcher.run_once(harness.clock.now())
    with harness.database.session() as session:
        phone = session.get(Phone, "01")
        assert phone is not None
        phone.state = "offline"
        session.add(phone)
    outcome = answering.send(answer_id)
    assert outcome == Done("auto-reply waits: phone not active or sending halted")
    assert _answer(answering, answer_id).state == "due"
    assert answering.dispatcher.run_once(harness.clock.now() + timedelta(hours=1)).answers == 0


def test_an_answer_interrupted_mid_send_is_given_up_not_resent(answering: Answering) -> None:
    harness = answering.harness
    answer_id = _answer_due(answering)
    answering.dispatcher.run_once(harness.clock.now())
    with harness.database.session() as session:  # a worker claimed it, then was killed
        answer = session.get(AutoReply, answer_id)
        assert answer is not None
        answer.state, answer.updated_at = "sending", harness.clock.now()
        session.add(answer)
    answering.dispatcher.run_once(harness.clock.now() + timedelta(seconds=60))
    assert _answer(answering, answer_id).state == "sending"  # maybe still in flight
    later = harness.clock.now() + timedelta(hours=1)
    assert answering.dispatcher.run_once(later).answers == 0
    answer = _answer(answering, answer_id)
    assert answer.state == "failed" and "not sent again" in (answer.error or "")


def test_an_answer_to_a_lead_who_opted_out_since_is_cancelled(answering: Answering) -> None:
    harness = answering.harness
    answer_id = _answer_due(answering)
    with harness.database.session() as session:
        answer = session.get(AutoReply, answer_id)
        assert answer is not None
        answer.rule = "pricing"  # an answer to an earlier question, not the confirmation
        session.add(answer)
        session.add(Suppression(phone=LEAD, reason="opt_out"))
    answering.dispatcher.run_once(harness.clock.now())
    outcome = answering.send(answer_id)
    assert outcome == Done("auto-reply cancelled: the lead opted out")
    assert _answer(answering, answer_id).state == "cancelled"
    assert harness.sends() == 1  # the first message only


def test_the_opt_out_confirmation_itself_goes_to_the_suppressed_number(
    answering: Answering,
) -> None:
    harness = answering.harness
    answer_id = _answer_due(answering)  # rule opt_out
    with harness.database.session() as session:
        session.add(Suppression(phone=LEAD, reason="opt_out"))
    answering.dispatcher.run_once(harness.clock.now())
    assert answering.send(answer_id) == Done("auto-reply sent")


def test_an_answer_to_a_lead_a_person_took_over_is_cancelled(answering: Answering) -> None:
    harness = answering.harness
    answer_id = _answer_due(answering)
    with harness.database.session() as session:
        answer = session.get(AutoReply, answer_id)
        assert answer is not None and answer.enrollment_id is not None
        answer.rule = "pricing"
        session.add(answer)
        enrollment = session.get(Enrollment, answer.enrollment_id)
        assert enrollment is not None
        enrollment.state, enrollment.end_reason = "stopped", "manual_takeover"
        session.add(enrollment)
    answering.dispatcher.run_once(harness.clock.now())
    assert answering.send(answer_id) == Done("auto-reply cancelled: a person took the chat over")


def test_answers_in_an_outage_wait_for_the_probe_and_the_probe_closes_it(
    answering: Answering,
) -> None:
    harness = answering.harness
    answer_id = _answer_due(answering)
    answering.dispatcher.run_once(harness.clock.now())
    harness.sim.configure(error_rate=1.0)
    outcome = answering.send(answer_id)
    assert outcome == Done("auto-reply failed for now; due again")  # not failed for good
    watch = answering.sender.watch
    for _ in range(harness.settings.timelinesai.outage_after - 1):
        watch.breaker.failed(harness.clock.now())  # the other senders' failures
    assert watch.admit(harness.clock.now()).paused
    backoff_s = harness.settings.timelinesai.outage_backoff_s
    probe_at = harness.clock.now() + timedelta(seconds=backoff_s)
    answering.dispatcher.run_once(probe_at - timedelta(seconds=1))
    assert _answer(answering, answer_id).state == "queued"  # queued again by the dispatcher
    assert answering.send(answer_id) == Done("auto-reply waits: TimelinesAI outage")
    waiting = _answer(answering, answer_id)
    assert waiting.state == "due"
    assert waiting.due_at.replace(tzinfo=None) == probe_at.replace(tzinfo=None)
    harness.sim.configure(error_rate=0.0)
    harness.clock.advance(backoff_s)
    answering.dispatcher.run_once(harness.clock.now())
    assert answering.send(answer_id) == Done("auto-reply sent")  # the probe
    assert not watch.admit(harness.clock.now()).paused
