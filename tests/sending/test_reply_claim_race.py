"""A reply and a claim meet in the enrollment's row: no step is claimed after the reply commits.

The receiver never waits for a phone. What keeps invariant 5 is that the send path's
claim requires a running enrollment in the same row the reply ends, so the database
orders the two: a claim after the reply's commit finds the enrollment ended and claims
nothing; a claim before it is in flight, and the reply records that step.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlmodel import select

from engine.db import Database
from engine.models import Enrollment, Message
from engine.sending import store
from engine.webhook import store as webhook_store
from tests.sending.test_store import DAY, NOW, loaded_claim, queued

REPLIED = "replied"


def _end(database: Database, eid: int) -> webhook_store.Ended | None:
    with database.engine.begin() as connection:
        return webhook_store.end_running(
            connection, eid, state=REPLIED, reason=REPLIED, chat_id=None, now=NOW
        )


def _claim(database: Database, eid: int) -> bool:
    with database.engine.begin() as connection:
        return store.claim_sending(connection, eid, 0, NOW, ("01", DAY, 100)).claimed


def _item(database: Database, eid: int) -> store.WorkItem:
    with database.engine.begin() as connection:
        item = store.load(connection, eid)
    assert item is not None
    return item


def _record(database: Database, item: store.WorkItem) -> bool:
    with database.engine.begin() as connection:
        return store.record_sent(
            connection, item=item, message_uid=f"uid-{item.enrollment_id}", text_sent="Hello",
            template_variant=0, variant_id="v", chat_id=None, now=NOW,
            next_due=NOW + timedelta(days=2), next_send_at=NOW + timedelta(seconds=60),
        )  # fmt: skip


def test_a_claim_after_the_reply_committed_claims_nothing(database: Database) -> None:
    [eid] = queued(database)
    ended = _end(database, eid)
    assert ended is not None and ended.in_flight_step is None
    assert _claim(database, eid) is False


def test_a_send_claimed_before_the_reply_finishes_and_schedules_nothing(
    database: Database,
) -> None:
    [eid] = queued(database)
    assert _claim(database, eid)
    item = _item(database, eid)
    ended = _end(database, eid)
    assert ended is not None and ended.in_flight_step == 0  # the reply saw it in flight
    assert _record(database, item) is False  # recorded, but nothing after it
    with database.session() as session:
        row = session.get(Enrollment, eid)
        assert row is not None
        assert (row.state, row.step, row.step_state) == (REPLIED, 0, "sent")
        [message] = session.exec(select(Message))
        assert (message.direction, message.step) == ("out", 0)


def test_a_record_of_a_running_enrollment_advances_it(database: Database) -> None:
    [eid] = queued(database)
    assert _claim(database, eid)
    assert _record(database, _item(database, eid)) is True
    with database.session() as session:
        row = session.get(Enrollment, eid)
        assert row is not None and (row.state, row.step, row.step_state) == ("active", 1, "due")


def _claim_one_statement(database: Database, eid: int) -> bool:
    return loaded_claim(database, eid).claimed


@pytest.mark.parametrize(
    "claim", [_claim, _claim_one_statement], ids=["claim", "read-and-claim statement"]
)
def test_replies_racing_claims_never_let_a_claim_follow_a_reply(
    pg_database: Database, claim: Callable[[Database, int], bool]
) -> None:
    """Many replies and claims at once on PostgreSQL: each pair is ordered one way or the
    other, and the reply always knows which (in flight exactly when the claim won)."""
    ids = queued(pg_database, 120)
    rng = random.Random(7)
    outcomes: dict[int, tuple[bool, webhook_store.Ended | None]] = {}

    def race(eid: int) -> None:
        gate = threading.Barrier(2)
        results: dict[str, object] = {}

        def claimer() -> None:
            gate.wait()
            if rng.random() < 0.5:
                threading.Event().wait(0.0005)
            results["claimed"] = claim(pg_database, eid)
            _unhold(pg_database)

        def replier() -> None:
            gate.wait()
            results["ended"] = _end(pg_database, eid)

        threads = [threading.Thread(target=claimer), threading.Thread(target=replier)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        ended = results["ended"]
        assert ended is None or isinstance(ended, webhook_store.Ended)
        outcomes[eid] = (bool(results["claimed"]), ended)

    for eid in ids:
        race(eid)
    for eid, (claimed, ended) in outcomes.items():
        assert ended is not None, eid  # the reply always ends a running enrollment
        assert claimed == (ended.in_flight_step == 0), eid
    claims = [claimed for claimed, _ in outcomes.values()]
    assert any(claims) and not all(claims)  # both orders happened


def _unhold(database: Database) -> None:
    """Free the phone the one-statement claim holds, so the next pair may claim it."""
    with database.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE phones SET next_send_at = NULL")
