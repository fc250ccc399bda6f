"""A reply holds the sequences of the replying lead's colleagues (same company), in the
reply's own transaction: paused, stopped or left as each sequence says, and no step of
a held colleague is claimed after the reply commits."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlmodel import select

from engine.clock import FakeClock
from engine.db import Database
from engine.models import Enrollment, Lead
from engine.replies import RepliesSettings, ReplyRules
from engine.settings import Settings
from engine.storage import Hold, Quota
from engine.webhook.inbound import ReplyReceiver
from tests.storage.conftest import DAY, HOLD, NOW
from tests.storage.test_reply_claim_race import _claim, _item, _record, _reply_of, _store, queued


def _companies(database: Database, companies: dict[int, dict[str, str]]) -> dict[int, str]:
    """Give each enrollment's lead these imported columns; the leads' numbers by enrollment."""
    numbers = {}
    with database.session() as session:
        for eid, variables in companies.items():
            enrollment = session.get(Enrollment, eid)
            assert enrollment is not None
            lead = session.get(Lead, enrollment.lead_id)
            assert lead is not None
            lead.variables = variables
            session.add(lead)
            numbers[eid] = lead.phone
    return numbers


def _receiver(database: Database, on_company_reply: str) -> ReplyReceiver:
    return ReplyReceiver(
        database=database, clock=FakeClock(NOW), rules=ReplyRules(RepliesSettings()),
        stop_on_reply={"s": True}, phone_ids={"+447700900001": "01"},
        on_company_reply={"s": on_company_reply},
    )  # fmt: skip


def _state(database: Database, eid: int) -> tuple[str, str | None, str, bool]:
    with database.session() as session:
        row = session.get(Enrollment, eid)
        assert row is not None
        return row.state, row.end_reason, row.step_state, row.ended_at is not None


ACME = {"company_domain": "https://www.Acme.example/about"}
ACME_BY_NAME = {"company": "  ACME  Corp "}
ACME_CORP = {"company": "acme corp"}
OTHER = {"company_domain": "other.example"}


@pytest.mark.parametrize(
    ("on_company_reply", "held"),
    [
        ("pause", ("paused", "company_replied", "due", False)),
        ("stop", ("stopped", "company_replied", "due", True)),
        ("continue", ("pending", None, "queued", False)),
    ],
)
def test_a_reply_holds_the_colleagues_as_the_sequence_says(
    database: Database, on_company_reply: str, held: tuple[str, str | None, str, bool]
) -> None:
    replier, colleague, other, nobody = queued(database, 4)
    numbers = _companies(
        database, {replier: ACME, colleague: {"company_domain": "acme.example"},
                   other: OTHER, nobody: {}},
    )  # fmt: skip
    received = _receiver(database, on_company_reply).receive(*_reply_of(numbers[replier], "r-1"))
    assert received.ended == "replied"
    assert received.colleagues == (0 if on_company_reply == "continue" else 1)
    assert _state(database, colleague) == held
    for untouched in (other, nobody):
        assert _state(database, untouched) == ("pending", None, "queued", False)


def test_colleagues_share_a_company_by_name_and_ended_ones_stay_ended(database: Database) -> None:
    replier, colleague, ended = queued(database, 3)
    numbers = _companies(database, {replier: ACME_BY_NAME, colleague: ACME_CORP, ended: ACME_CORP})
    with database.session() as session:
        row = session.get(Enrollment, ended)
        assert row is not None
        row.state, row.end_reason, row.ended_at = "completed", "sequence_completed", NOW
        session.add(row)
    received = _receiver(database, "pause").receive(*_reply_of(numbers[replier], "r-1"))
    assert received.colleagues == 1
    assert _state(database, colleague)[:2] == ("paused", "company_replied")
    assert _state(database, ended)[:2] == ("completed", "sequence_completed")


def test_a_lead_without_a_company_holds_nobody(database: Database) -> None:
    replier, other = queued(database, 2)
    numbers = _companies(database, {replier: {"name": "Ana"}, other: {"name": "Ion"}})
    received = _receiver(database, "pause").receive(*_reply_of(numbers[replier], "r-1"))
    assert (received.ended, received.colleagues) == ("replied", 0)
    assert _state(database, other)[0] == "pending"


def test_a_redelivered_reply_holds_nobody_again(database: Database) -> None:
    replier, colleague = queued(database, 2)
    numbers = _companies(database, {replier: ACME, colleague: ACME})
    receiver = _receiver(database, "pause")
    assert receiver.receive(*_reply_of(numbers[replier], "r-1")).colleagues == 1
    assert receiver.receive(*_reply_of(numbers[replier], "r-1")).colleagues == 0


def test_a_colleagues_step_is_not_claimed_after_the_reply(database: Database) -> None:
    replier, colleague = queued(database, 2)
    numbers = _companies(database, {replier: ACME, colleague: ACME})
    _receiver(database, "pause").receive(*_reply_of(numbers[replier], "r-1"))
    assert _claim(database, colleague) is False


def test_a_colleagues_send_claimed_before_the_reply_finishes_and_goes_no_further(
    database: Database,
) -> None:
    replier, colleague = queued(database, 2)
    numbers = _companies(database, {replier: ACME, colleague: ACME})
    item = _item(database, colleague)
    with _store(database) as store:
        hold = Hold(item.next_send_at, HOLD)
        assert store.claim(item, now=NOW, hold=hold, quota=Quota(DAY, 100)).claimed
    _receiver(database, "pause").receive(*_reply_of(numbers[replier], "r-1"))
    assert _state(database, colleague) == ("paused", "company_replied", "sending", False)
    assert _record(database, item) is False  # recorded, but nothing after it
    assert _state(database, colleague) == ("paused", "company_replied", "sent", False)


def test_the_orm_keeps_the_company_key(database: Database) -> None:
    [eid] = queued(database)
    _companies(database, {eid: ACME})
    with database.session() as session:
        [lead] = session.exec(select(Lead))
        assert lead.company_key == "acme.example"


def test_an_out_of_office_reply_holds_nobody(database: Database) -> None:
    replier, colleague = queued(database, 2)
    numbers = _companies(database, {replier: ACME, colleague: ACME})
    receiver = ReplyReceiver(
        database=database, clock=FakeClock(NOW), rules=ReplyRules(RepliesSettings()),
        stop_on_reply={"s": True}, phone_ids={"+447700900001": "01"},
        on_company_reply={"s": "pause"}, settings=Settings(),
    )  # fmt: skip
    event, payload = _reply_of(numbers[replier], "r-1")
    received = receiver.receive(replace(event, text="Out of office this week"), payload)
    assert (received.ended, received.colleagues) == (None, 0)
    assert received.postponed_to == NOW + timedelta(days=7)  # no date read: the delay
    assert _state(database, replier) == ("pending", None, "due", False)
    assert _state(database, colleague) == ("pending", None, "queued", False)
