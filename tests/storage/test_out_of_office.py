"""An out-of-office reply on both reply stores: it postpones the lead's next step, ends
nothing, and a real reply after it still ends the sequence."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from engine.db import Database
from engine.storage import Reply, Sent, reply_store
from sequences import EndReason
from tests.storage.conftest import NOW, Stored
from tests.storage.test_reply_store import NOTHING, Replies, _reply

BACK = NOW + timedelta(days=12)


@pytest.fixture
def replies(database: Database) -> Replies:
    return Replies(database, reply_store(database))


def _away(uid: str = "ooo-1", until: datetime = BACK, **changes: Any) -> Reply:
    return _reply(uid, text="Out of office until later", resume_at=until, **changes)


@pytest.mark.parametrize(
    ("before", "step_state"),
    [
        ({}, "due"),
        ({"state": "pending", "step": 0}, "due"),
        ({"step_state": "queued", "queued_at": NOW}, "due"),  # its message is superseded
        ({"step_state": "sending", "sending_at": NOW}, "sending"),  # it finishes
    ],
    ids=["due", "first message", "queued", "being sent"],
)
def test_an_out_of_office_reply_postpones_the_next_step(
    replies: Replies, before: dict[str, Any], step_state: str
) -> None:
    eid = replies.enrollment(due_at=NOW, **before)
    replies.sent(eid, 0)
    applied = replies.store.apply(_away(chat_id=42), keep_running=NOTHING, now=NOW)
    assert (applied.new, applied.ended, applied.postponed, applied.in_flight_step) == (
        True, False, True, None,
    )  # fmt: skip
    row = replies.row(eid)
    assert (row.state, row.step_state, row.due_at) == (before.get("state", "active"),
                                                       step_state, BACK)  # fmt: skip
    assert (row.end_reason, row.ended_at, row.chat_id) == (None, None, 42)
    if step_state == "due":
        assert row.queued_at is None
    [message] = replies.messages()
    assert (message.id, message.enrollment_id, message.step) == (applied.message_id, eid, 0)


def test_a_second_notice_postpones_again_and_a_reply_after_it_ends_the_sequence(
    replies: Replies,
) -> None:
    eid = replies.enrollment(due_at=NOW)
    replies.store.apply(_away("ooo-1"), keep_running=NOTHING, now=NOW)
    later = BACK + timedelta(days=3)
    again = replies.store.apply(_away("ooo-2", later), keep_running=NOTHING, now=NOW)
    assert again.postponed and replies.row(eid).due_at == later
    answer = replies.store.apply(_reply("r-2"), keep_running=NOTHING, now=BACK)
    assert answer.ended and not answer.postponed
    row = replies.row(eid)
    assert (row.state, row.end_reason) == ("replied", EndReason.REPLIED)
    assert len(replies.messages()) == 3


def test_an_opt_out_in_a_notice_is_an_opt_out(replies: Replies) -> None:
    eid = replies.enrollment(due_at=NOW)
    applied = replies.store.apply(
        _away(opt_out=True, reason=EndReason.OPTED_OUT), keep_running=NOTHING, now=NOW
    )
    assert applied.ended and not applied.postponed
    assert replies.row(eid).state == "opted_out"


def test_a_redelivered_notice_changes_nothing(replies: Replies) -> None:
    eid = replies.enrollment(due_at=NOW)
    replies.store.apply(_away(), keep_running=NOTHING, now=NOW)
    replies.store.apply(_reply("r-2", resume_at=None), keep_running=frozenset({"s"}), now=NOW)
    again = replies.store.apply(_away(until=BACK + timedelta(days=9)), keep_running=NOTHING,
                                now=NOW)  # fmt: skip
    assert (again.new, again.postponed) == (False, False)
    assert replies.row(eid).due_at == BACK


def test_a_sequence_that_goes_on_after_replies_is_postponed_too(replies: Replies) -> None:
    eid = replies.enrollment(due_at=NOW)
    applied = replies.store.apply(_away(), keep_running=frozenset({"s"}), now=NOW)
    assert applied.postponed and replies.row(eid).due_at == BACK


def test_an_ended_enrollment_is_not_postponed(replies: Replies) -> None:
    eid = replies.enrollment(due_at=NOW, state="completed", end_reason="sequence_completed")
    applied = replies.store.apply(_away(), keep_running=NOTHING, now=NOW)
    assert not applied.postponed
    assert (replies.row(eid).state, replies.row(eid).due_at) == ("completed", NOW)


@pytest.mark.parametrize(
    ("back", "next_due", "due_at"),
    [(BACK, NOW + timedelta(days=2), BACK), (NOW + timedelta(days=1), BACK, BACK)],
    ids=["the return is later", "the schedule is later"],
)
def test_the_step_after_one_in_flight_waits_for_the_later_of_the_two(
    stored: Stored, back: datetime, next_due: datetime, due_at: datetime
) -> None:
    [eid] = stored.queued()
    item = stored.item(eid)
    assert stored.claim(item).goes_ahead  # being sent when the notice arrives
    applied = reply_store(stored.database).apply(
        replace(_away(until=back), peer_phone="+40712340001"), keep_running=NOTHING, now=NOW
    )
    assert applied.postponed and applied.enrollment_id == eid
    sent = Sent("u-1", "Hi", 0, "v", None, NOW, next_due, NOW + timedelta(seconds=60))
    assert stored.store.record(item, sent) is True
    row = stored.enrollment(eid)
    assert (row.state, row.step, row.step_state, row.due_at) == ("active", 1, "due", due_at)
