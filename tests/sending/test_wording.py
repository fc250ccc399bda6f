"""No phone sends near-identical first messages: reworded, or the step waits; and a reworded
step left ``sending`` is reconciled, never sent twice."""

from __future__ import annotations

import dataclasses
import itertools
import logging
from datetime import timedelta

import pytest

from engine.models import StepState
from engine.sending.outcome import Done, PutBack
from engine.sending.wording import TOO_ALIKE
from engine.settings import TextsSettings
from spintax import text_similarity
from tests.sending.conftest import Harness

# Leads here all have the same variables, so the wording alone tells texts apart.
TEXTS = TextsSettings(enabled=True, similarity_threshold=0.8, window=20, rewordings=5)


@pytest.fixture
def worded(harness: Harness) -> Harness:
    """The harness with the rule on and room for 40 first messages a day per phone."""
    settings = dataclasses.replace(
        harness.settings,
        texts=TEXTS,
        quota=dataclasses.replace(harness.settings.quota, new_contacts_per_day=40),
    )
    harness.settings = settings
    harness.sender = dataclasses.replace(harness.sender, settings=settings)
    return harness


def first_texts(harness: Harness, phone_id: str = "01") -> list[str]:
    return [
        m.text or ""
        for m in sorted(harness.messages(), key=lambda m: m.id or 0)
        if m.direction == "out" and m.step == 0 and m.phone_id == phone_id
    ]


def plain_text(harness: Harness, eid: int, sequence: str) -> str:
    """The step's usual text (rewording 0), as it would go without the rule."""
    template = harness.sender.sequences[sequence].steps[0].templates[0]
    return template.render({"name": "Ana", "company": "Acme"}, seed=f"{eid}:0").text


def test_a_repeated_wording_is_reworded_and_no_two_texts_of_a_phone_are_alike(
    worded: Harness,
) -> None:
    # 9 wordings, each pair under 0.8 alike, for 12 leads on one phone: some go reworded,
    # the rest wait (6 tries cannot always find the last free wordings), none repeats.
    reworded, waited = 0, []
    for i in range(12):
        eid = worded.enroll(f"+4071234{i:04d}", sequence="varied")
        worded.clock.advance(200)
        outcome = worded.send(eid, 0, "01")
        if outcome == Done("sent"):
            reworded += first_texts(worded)[-1] != plain_text(worded, eid, "varied")
            continue
        assert outcome == Done(f"back to due: {TOO_ALIKE}")
        waited.append(eid)
        row = worded.enrollment(eid)
        assert (row.step_state, row.phone_id, row.state) == (StepState.DUE, None, "pending")
        assert row.due_at == worded.clock.now() + timedelta(seconds=TEXTS.retry_after_s)
    texts = first_texts(worded)
    for first, second in itertools.combinations(texts, 2):
        assert text_similarity(first, second) < 0.8, (first, second)
    assert reworded > 0  # the rule had something to do
    assert len(texts) >= 5 and len(waited) >= 3  # at most 9 wordings for 12 leads
    assert worded.sends() == len(texts) == worded.quota_used()


def test_with_one_wording_a_phones_second_first_message_waits(
    worded: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    first, second = (
        worded.enroll("+40712340001", sequence="keep"),
        worded.enroll("+40712340002", sequence="keep"),
    )
    assert worded.send(first, 0, "01") == Done("sent")
    worded.clock.advance(200)
    with caplog.at_level(logging.INFO, logger="outreach.send"):
        assert worded.send(second, 0, "01") == Done(f"back to due: {TOO_ALIKE}")
        waiting = worded.enroll("+40712340003", sequence="keep")
        worded.clock.advance(200)
        assert worded.send(waiting, 0, "01") == Done(f"back to due: {TOO_ALIKE}")
    # One warning for the sequence and phone, however many leads wait.
    waits = [r for r in caplog.records if "needs more variety" in r.getMessage()]
    assert [r.levelno for r in waits] == [logging.WARNING, logging.INFO]
    assert worded.sends() == 1 and worded.quota_used() == 1
    assert worded.enrollment(second).step_state == StepState.DUE
    # Another phone, whose texts differ, sends it.
    worded.clock.advance(200)
    with worded.database.session() as session:
        row = worded.enrollment(second)
        row.step_state, row.phone_id, row.queued_at = StepState.QUEUED, "02", worded.clock.now()
        session.add(row)
    assert worded.send(second, 0, "02") == Done("sent")


def test_the_rule_turned_off_sends_the_same_text_again(harness: Harness) -> None:
    # The harness has [texts] enabled = false.
    for i in range(2):
        eid = harness.enroll(f"+4071234000{i}", sequence="keep")
        harness.clock.advance(200)
        assert harness.send(eid, 0, "01") == Done("sent")
    assert len(set(first_texts(harness))) == 1


def test_a_follow_up_is_never_reworded(worded: Harness) -> None:
    for i in range(2):
        eid = worded.enroll(f"+4071234000{i}", sequence="keep", step=1, chat_id=None)
        worded.clock.advance(200)
        assert worded.send(eid, 1, "01") == Done("sent")
    assert worded.sends() == 2


def test_a_reworded_step_left_sending_is_reconciled_not_sent_again(worded: Harness) -> None:
    first = worded.enroll("+40712340001", sequence="intro")
    assert worded.send(first, 0, "01") == Done("sent")
    [sent_before] = first_texts(worded)
    # A lead whose usual text is the one just sent: it goes reworded.
    for i in itertools.count(2):
        eid = worded.enroll(f"+4071234{i:04d}", sequence="intro")
        if plain_text(worded, eid, "intro") == sent_before:
            break
    worded.clock.advance(200)
    worded.sim.configure(timeout_after_record_rate=1.0, stall_s=2.0)
    assert worded.send(eid, 0, "01") == PutBack(120.0, "outcome unknown: reconcile")
    assert worded.enrollment(eid).step_state == StepState.SENDING
    [in_chat] = [r.text for r in worded.sim.sends() if r.recipient_phone == f"+4071234{i:04d}"]
    assert in_chat != sent_before  # it went out reworded
    worded.sim.configure(timeout_after_record_rate=0.0)
    worded.clock.advance(121)  # past the grace after which an unfound step is sent again
    assert worded.send(eid, 0, "01") == Done("reconciled: it had been sent")
    assert len(worded.sim.sends()) == 2  # the stalled send was recorded; nothing went again
    assert first_texts(worded) == [sent_before, in_chat]
