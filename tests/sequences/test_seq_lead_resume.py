"""Resuming a lead's sequences that a colleague's reply paused, on SQLite and PostgreSQL:
back to the running state it had, due now or at its own time if later; a send in
flight at the pause moves the journey on as its record would have; a campaign with a
paused enrollment is not completed."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from engine.db import Database
from engine.models import Enrollment, StepState
from engine.storage import Hold, Quota
from sequences import (
    SequencesError,
    SequenceSettings,
    StepSettings,
    compile_sequences,
    complete_finished,
    resume_lead,
)
from sequences.definition import Sequence
from sequences.lead_resume import Paused, resumption
from tests.storage.conftest import DAY, HOLD, NOW
from tests.storage.test_company_reply import ACME, _companies, _receiver
from tests.storage.test_reply_claim_race import _item, _record, _reply_of, _store, queued

DAYS_2 = timedelta(days=2)


def _sequence(steps: int = 3) -> Sequence:
    raw = SequenceSettings(
        timezone="UTC", skip_holidays=False,
        steps=tuple(
            StepSettings(after="2d" if i else "0m", template=f"m{i}") for i in range(steps)
        ),
    )  # fmt: skip
    return compile_sequences({"s": raw}, path="test")["s"]


def _resume(database: Database, phone: str, now: datetime, steps: int = 3) -> list[object]:
    return list(
        resume_lead(
            database, phone, sequences={"s": _sequence(steps)}, fallback_zone="UTC", now=now
        )
    )


def _row(database: Database, eid: int) -> Enrollment:
    with database.session() as session:
        row = session.get(Enrollment, eid)
        assert row is not None
        return row


def _paused_pair(database: Database) -> tuple[int, str]:
    """A colleague's reply pauses the other lead's queued first message: (enrollment, number)."""
    replier, colleague = queued(database, 2)
    numbers = _companies(database, {replier: ACME, colleague: ACME})
    _receiver(database, "pause").receive(*_reply_of(numbers[replier], "r-1"))
    assert _row(database, colleague).state == "paused"
    return colleague, numbers[colleague]


def _send(database: Database, eid: int) -> None:
    """Claim the enrollment's step and keep it in flight."""
    item = _item(database, eid)
    with _store(database) as store:
        assert store.claim(item, now=NOW, hold=Hold(item.next_send_at, HOLD), quota=Quota(DAY, 9))


def test_a_pending_enrollment_resumes_pending_and_due_now(database: Database) -> None:
    eid, phone = _paused_pair(database)
    later = NOW + timedelta(hours=1)
    [done] = _resume(database, phone, later)
    row = _row(database, eid)
    assert (row.state, row.end_reason, row.step, row.step_state) == ("pending", None, 0, "due")
    assert (row.due_at, row.phone_id, row.ended_at) == (later, None, None)
    assert done.resumed and done.state == "pending"  # type: ignore[attr-defined]
    assert _resume(database, phone, later) == []  # nothing paused any more


@pytest.mark.parametrize(
    ("resumed_after", "due_after"),
    [(timedelta(hours=1), DAYS_2), (timedelta(days=3), timedelta(days=3))],
)
def test_a_follow_up_resumes_at_its_own_due_time_or_now(
    database: Database, resumed_after: timedelta, due_after: timedelta
) -> None:
    replier, colleague = queued(database, 2)
    numbers = _companies(database, {replier: ACME, colleague: ACME})
    _send(database, colleague)
    assert _record(database, _item(database, colleague)) is True  # step 0 sent at NOW
    _receiver(database, "pause").receive(*_reply_of(numbers[replier], "r-1"))
    assert (_row(database, colleague).state, _row(database, colleague).step) == ("paused", 1)
    _resume(database, numbers[colleague], NOW + resumed_after)
    row = _row(database, colleague)
    assert (row.state, row.end_reason, row.step, row.step_state) == ("active", None, 1, "due")
    assert row.due_at == NOW + due_after


def test_a_step_sent_while_paused_moves_the_journey_on(database: Database) -> None:
    replier, colleague = queued(database, 2)
    numbers = _companies(database, {replier: ACME, colleague: ACME})
    _send(database, colleague)
    item = _item(database, colleague)
    _receiver(database, "pause").receive(*_reply_of(numbers[replier], "r-1"))
    assert _record(database, item) is False  # the send's record: sent, not advanced
    assert (_row(database, colleague).step, _row(database, colleague).step_state) == (0, "sent")
    [done] = _resume(database, numbers[colleague], NOW + timedelta(hours=1))
    row = _row(database, colleague)
    assert (row.state, row.end_reason, row.step, row.step_state) == ("active", None, 1, "due")
    assert row.due_at == NOW + DAYS_2  # the next step's rule, from the send
    assert (row.attempts, row.sending_at, row.queued_at) == (0, None, None)
    assert "was sent while paused" in done.note  # type: ignore[attr-defined]


def test_a_last_step_sent_while_paused_completes(database: Database) -> None:
    replier, colleague = queued(database, 2)
    numbers = _companies(database, {replier: ACME, colleague: ACME})
    _send(database, colleague)
    item = _item(database, colleague)
    _receiver(database, "pause").receive(*_reply_of(numbers[replier], "r-1"))
    _record(database, item)
    _resume(database, numbers[colleague], NOW + timedelta(hours=1), steps=1)
    row = _row(database, colleague)
    assert (row.state, row.end_reason, row.step_state) == (
        "completed",
        "sequence_completed",
        "sent",
    )
    assert row.ended_at == NOW


def test_a_step_still_being_sent_stays_paused(database: Database) -> None:
    replier, colleague = queued(database, 2)
    numbers = _companies(database, {replier: ACME, colleague: ACME})
    _send(database, colleague)
    _receiver(database, "pause").receive(*_reply_of(numbers[replier], "r-1"))
    [done] = _resume(database, numbers[colleague], NOW)
    assert _row(database, colleague).state == "paused"
    assert not done.resumed and "being sent" in done.note  # type: ignore[attr-defined]


def test_an_unknown_lead_is_refused(database: Database) -> None:
    with pytest.raises(SequencesError, match=r"no lead \+40799999999"):
        _resume(database, "+40799999999", NOW)


def test_a_campaign_with_a_paused_enrollment_is_not_completed(database: Database) -> None:
    eid, phone = _paused_pair(database)  # the replier's enrollment ended ``replied``
    with database.engine.begin() as connection:
        assert complete_finished(connection, NOW) == []
    _resume(database, phone, NOW)
    with database.engine.begin() as connection:
        assert complete_finished(connection, NOW) == []  # it runs again
    with database.session() as session:
        row = session.get(Enrollment, eid)
        assert row is not None
        row.state, row.end_reason, row.ended_at = "stopped", "stopped_by_operator", NOW
        session.add(row)
    with database.engine.begin() as connection:
        assert complete_finished(connection, NOW) == ["s"]


@pytest.mark.parametrize(
    ("step", "step_state", "state", "kept"),
    [
        (0, StepState.DUE, "pending", StepState.DUE),
        (2, StepState.DUE, "active", StepState.DUE),
        (2, StepState.FAILED, "active", None),  # a dead letter: a person retries it
    ],
)
def test_the_decision_keeps_the_journey(
    step: int, step_state: str, state: str, kept: str | None
) -> None:
    paused = Paused(1, "s", step, step_state, NOW, "+40712340001", None, None)
    decided = resumption(paused, _sequence(), fallback_zone="UTC", now=NOW)
    assert decided.values is not None
    assert (decided.values["state"], decided.values.get("step_state")) == (state, kept)


def test_a_send_stuck_while_paused_is_reconciled(database: Database) -> None:
    """A worker that died during the send leaves the step ``sending``: the dispatcher
    hands it to its actor to settle even while paused, so a resume can follow."""
    from engine.storage.dispatch import DispatchStore

    replier, colleague = queued(database, 2)
    numbers = _companies(database, {replier: ACME, colleague: ACME})
    _send(database, colleague)
    _receiver(database, "pause").receive(*_reply_of(numbers[replier], "r-1"))
    with database.engine.begin() as connection:
        stuck = DispatchStore(connection).mark_stuck(NOW + timedelta(hours=1), 60)
    assert stuck == [(colleague, 0, "01")]
