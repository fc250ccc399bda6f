"""Before a follow-up the sender reads the chat: a reply whose webhook never came stops it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlmodel import select

from engine.models import Alert, Enrollment, Message
from engine.replies.followups import CLASSIFY_REPLY
from engine.sending.outcome import Done, PutBack
from engine.sending.replycheck import Found
from engine.storage import WorkItem
from engine.timelinesai import BadToken, ServerError
from tests.sending.conftest import PHONES, Checked, Harness

LEAD = "+40712345678"


def _first_message_sent(checked: Checked, sequence: str = "intro") -> int:
    eid = checked.harness.enroll(LEAD, sequence=sequence)
    assert checked.harness.send(eid, 0, "01") == Done("sent")
    checked.harness.clock.advance(days=2)
    _dispatch(checked.harness, eid)
    return eid


def _dispatch(harness: Harness, enrollment_id: int) -> None:
    """What the dispatcher does when the follow-up is due: queue it."""
    with harness.database.session() as session:
        enrollment = session.get(Enrollment, enrollment_id)
        assert enrollment is not None and enrollment.step_state == "due"
        enrollment.step_state, enrollment.queued_at = "queued", harness.clock.now()
        session.add(enrollment)


def _chat_reads(harness: Harness) -> list[str]:
    return [
        f"{r.path}?{r.query}"
        for r in harness.sim.requests()
        if r.method == "GET" and r.path.endswith("/messages")
    ]


def test_a_reply_the_webhook_never_brought_stops_the_follow_up(checked: Checked) -> None:
    harness = checked.harness
    eid = _first_message_sent(checked)
    harness.sim.inbound("Da, sunați-mă mâine", phone=LEAD, account_phone=PHONES[0])
    outcome = checked.harness.send(eid, 1, "01")
    assert outcome == Done("the lead replied before the follow-up")
    assert harness.sends() == 1  # the follow-up never went
    enrollment = harness.enrollment(eid)
    assert (enrollment.state, enrollment.end_reason) == ("replied", "replied")
    with harness.database.session() as session:
        [reply] = session.exec(select(Message).where(Message.direction == "in"))
    assert (reply.text, reply.step, reply.in_flight_step) == ("Da, sunați-mă mâine", 0, None)
    assert [f.actor for f in checked.follow_ups] == [CLASSIFY_REPLY]
    [read] = _chat_reads(harness)
    assert "from_me=false" in read and "after_message=" in read


@pytest.mark.parametrize(
    ("replied", "outcome", "state", "end_reason"),
    [
        (True, Done("the lead replied before the follow-up"), "replied", "replied"),
        (False, Done("missing variable"), "failed", "missing_variable"),
    ],
    ids=["the lead wrote", "it did not"],
)
def test_a_follow_up_that_cannot_be_rendered_still_reads_the_chat_first(
    checked: Checked, replied: bool, outcome: Done, state: str, end_reason: str
) -> None:
    """A lead who wrote ends ``replied``, whatever the follow-up's text would have been."""
    harness = checked.harness
    eid = _first_message_sent(checked, "strictfollow")  # the lead has no {{city}}
    if replied:
        harness.sim.inbound("Who is this?", phone=LEAD, account_phone=PHONES[0])
    assert checked.harness.send(eid, 1, "01") == outcome
    enrollment = harness.enrollment(eid)
    assert (enrollment.state, enrollment.end_reason) == (state, end_reason)
    assert len(_chat_reads(harness)) == 1 and harness.sends() == 1


def test_without_a_newer_message_the_follow_up_goes_after_one_read(checked: Checked) -> None:
    harness = checked.harness
    eid = _first_message_sent(checked)
    assert harness.enrollment(eid).chat_id is None  # first messages come back without one
    assert checked.harness.send(eid, 1, "01") == Done("sent")
    assert harness.sends() == 2
    assert len(_chat_reads(harness)) == 1  # one bounded read, the first page only
    assert harness.enrollment(eid).chat_id is not None  # the chat found is kept


def test_a_reply_to_an_older_message_does_not_stop_it(checked: Checked) -> None:
    harness = checked.harness
    eid = harness.enroll(LEAD)
    harness.sim.inbound("Hello?", phone=LEAD, account_phone=PHONES[0])  # before our message
    assert checked.harness.send(eid, 0, "01") == Done("sent")
    harness.clock.advance(days=2)  # nothing the lead wrote is newer than our first message
    _dispatch(harness, eid)
    assert checked.harness.send(eid, 1, "01") == Done("sent")


class _Failing:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def read(self, _item: WorkItem) -> Found:
        raise self.error


def test_a_read_that_fails_puts_the_follow_up_back_without_using_a_retry(
    checked: Checked,
) -> None:
    harness = checked.harness
    eid = _first_message_sent(checked)
    checked.sender.replies = _Failing(ServerError("503"))  # type: ignore[assignment]
    outcome = checked.harness.send(eid, 1, "01", last_try=True)
    assert isinstance(outcome, PutBack) and outcome.reason == "reply check failed"
    enrollment = harness.enrollment(eid)
    assert (enrollment.state, enrollment.step_state) == ("active", "queued")
    assert harness.sends() == 1


def test_a_refused_token_on_the_read_halts_sending(checked: Checked) -> None:
    harness = checked.harness
    eid = _first_message_sent(checked)
    checked.sender.replies = _Failing(BadToken("401"))  # type: ignore[assignment]
    assert checked.harness.send(eid, 1, "01") == Done("back to due: bad token")
    assert harness.halt.active()
    with harness.database.session() as session:
        assert [a.kind for a in session.exec(select(Alert))] == ["bad_token"]


def test_a_sequence_that_keeps_running_is_not_read(checked: Checked) -> None:
    harness = checked.harness
    eid = harness.enroll(LEAD, sequence="keep")
    assert checked.harness.send(eid, 0, "01") == Done("sent")
    harness.clock.advance(days=1)
    _dispatch(harness, eid)
    harness.sim.inbound("Thanks", phone=LEAD, account_phone=PHONES[0])
    assert checked.harness.send(eid, 1, "01") == Done("sent")
    assert _chat_reads(harness) == []


def test_an_out_of_office_found_in_the_chat_postpones_the_follow_up(checked: Checked) -> None:
    harness = checked.harness
    eid = _first_message_sent(checked)  # the follow-up is read on 15 January
    harness.sim.inbound(
        "Automatic reply: I am out of the office until 26 January.", phone=LEAD,
        account_phone=PHONES[0],
    )  # fmt: skip
    outcome = checked.harness.send(eid, 1, "01")
    assert outcome == Done("the lead is away: the follow-up waits for its return")
    assert harness.sends() == 1
    enrollment = harness.enrollment(eid)
    assert (enrollment.state, enrollment.step, enrollment.step_state) == ("active", 1, "due")
    assert enrollment.due_at == datetime(2026, 1, 26, tzinfo=UTC)
    assert enrollment.queued_at is None  # the queued message is superseded
    # On the day it is due, the same notice read again is no reply: the follow-up goes.
    harness.clock.advance(days=11)
    _dispatch(harness, eid)
    assert checked.harness.send(eid, 1, "01") == Done("sent")
    assert harness.enrollment(eid).state == "completed"
