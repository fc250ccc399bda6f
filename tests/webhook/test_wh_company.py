"""Through the receiver: a reply holds the colleagues' sequences (same company) before
it answers, as each sequence's ``on_company_reply`` says, and the reply's review flag
says who was held."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from sqlmodel import select

from engine.db import Database
from engine.models import Lead, ReviewFlag
from engine.replies import RepliesSettings
from engine.replies.queries import review_items
from tests.webhook.conftest import LEAD, Receiver, make_receiver, write_settings
from tests.webhook.test_wh_replies import Posted, classifier, reply

STOPS = """
[sequences.halt]
timezone = "UTC"
on_company_reply = "stop"
[[sequences.halt.steps]]
after = "0m"
template = "Hello"

[sequences.onward]
timezone = "UTC"
on_company_reply = "continue"
[[sequences.onward.steps]]
after = "0m"
template = "Hello"
"""
PAUSED, STOPPED, ONWARD, ELSEWHERE = (
    "+40712345001", "+40712345002", "+40712345003", "+40712345004",
)  # fmt: skip


@pytest.fixture
def company_receiver(
    tmp_path: Path, database: Database, redis_client: redis.Redis
) -> Iterator[Receiver]:
    yield from make_receiver(write_settings(tmp_path, STOPS), database, redis_client)


def _company(receiver: Receiver, phone: str, variables: dict[str, str]) -> None:
    with receiver.database.session() as session:
        lead = session.exec(select(Lead).where(Lead.phone == phone)).one()
        lead.variables = variables
        session.add(lead)


def test_a_reply_holds_the_colleagues_and_its_flag_names_them(company_receiver: Receiver) -> None:
    receiver = company_receiver
    replier = receiver.enroll()
    paused = receiver.enroll(PAUSED, step=0, state="pending")
    stopped = receiver.enroll(STOPPED, sequence="halt")
    onward = receiver.enroll(ONWARD, sequence="onward")
    elsewhere = receiver.enroll(ELSEWHERE)
    for phone in (LEAD, PAUSED, STOPPED, ONWARD):
        _company(receiver, phone, {"name": "Ana", "company": "Acme Corp"})
    _company(receiver, ELSEWHERE, {"company": "Other Ltd"})

    message_id = reply(receiver, "E urgent: sunați-mă")
    states = {
        eid: (receiver.enrollment(eid).state, receiver.enrollment(eid).end_reason)
        for eid in (replier, paused, stopped, onward, elsewhere)
    }
    assert states == {
        replier: ("replied", "replied"),
        paused: ("paused", "company_replied"),
        stopped: ("stopped", "company_replied"),
        onward: ("active", None),
        elsewhere: ("active", None),
    }

    classifier(receiver, Posted(), RepliesSettings()).classify(message_id)
    with receiver.database.session() as session:
        [flag] = session.exec(select(ReviewFlag))
    held = flag.reasons["company_held"]
    assert [(c["phone"], c["sequence"], c["state"]) for c in held] == [
        (PAUSED, "intro", "paused"), (STOPPED, "halt", "stopped"),
    ]  # fmt: skip
    with receiver.database.engine.connect() as connection:
        [item] = review_items(connection)
    assert [c["phone"] for c in item.company_held] == [PAUSED, STOPPED]
    shown = item.as_dict(receiver.clock.now(), timedelta(hours=24))
    assert shown["company_held"] == list(item.company_held)


def test_a_flag_of_a_lead_without_colleagues_names_nobody(company_receiver: Receiver) -> None:
    receiver = company_receiver
    receiver.enroll()
    message_id = reply(receiver, "E urgent: sunați-mă")
    classifier(receiver, Posted(), RepliesSettings()).classify(message_id)
    with receiver.database.session() as session:
        [flag] = session.exec(select(ReviewFlag))
    assert "company_held" not in flag.reasons
