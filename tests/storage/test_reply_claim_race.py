"""A reply and a claim meet in the enrollment's row: no step is claimed after the reply commits.

The receiver never waits for a phone. What keeps invariant 5 is that the send path's
claim requires a running enrollment in the same row the reply ends, so the database
orders the two: a claim after the reply's commit finds the enrollment ended and claims
nothing; a claim before it is in flight, and the reply records that step.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlmodel import select

from engine.clock import FakeClock
from engine.db import Database
from engine.models import Enrollment, Message
from engine.replies import RepliesSettings, ReplyRules
from engine.storage import Hold, Quota, Request, SendStore, Sent, WorkItem, send_store
from engine.storage import replies as reply_rows
from engine.webhook.inbound import Received, ReplyReceiver
from engine.webhook.payloads import MessageEvent
from sequences import EndReason
from tests.storage.conftest import DAY, HOLD, NOW, Stored

REPLIED = "replied"


def _end(database: Database, eid: int) -> reply_rows.Ended | None:
    with database.engine.begin() as connection:
        return reply_rows.end_running(
            connection, eid, reason=EndReason.REPLIED, chat_id=None, now=NOW
        )


QUOTA = Quota(DAY, 100)


@contextmanager
def _store(database: Database) -> Iterator[SendStore]:
    store = send_store(database)
    try:
        yield store
    finally:
        store.close()  # the PostgreSQL store keeps a connection per thread


def queued(database: Database, count: int = 1) -> list[int]:
    with _store(database) as store:
        return Stored(database, store).queued(count)


def _item(database: Database, eid: int) -> WorkItem:
    with _store(database) as store:
        reading = store.read(Request(eid, 0, "01"), now=NOW, hold_until=None, quota=None)
    assert reading.item is not None
    return reading.item


def _claim(database: Database, eid: int) -> bool:
    """The claim a sender makes after its read (the reference store's only way)."""
    item = _item(database, eid)
    with _store(database) as store:
        hold = Hold(item.next_send_at, HOLD)
        return store.claim(item, now=NOW, hold=hold, quota=QUOTA).claimed


def _record(database: Database, item: WorkItem) -> bool:
    sent = Sent(
        f"uid-{item.enrollment_id}", "Hello", 0, "v", None, NOW, NOW + timedelta(days=2),
        NOW + timedelta(seconds=60),
    )  # fmt: skip
    with _store(database) as store:
        return store.record(item, sent)


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
    with _store(database) as store:
        reading = store.read(Request(eid, 0, "01"), now=NOW, hold_until=HOLD, quota=QUOTA)
    return reading.claim is not None and reading.claim.claimed


def _receiver(database: Database) -> ReplyReceiver:
    """The receiver's own reply path: PostgreSQL's one statement, SQLite's transaction."""
    return ReplyReceiver(
        database=database, clock=FakeClock(NOW), rules=ReplyRules(RepliesSettings()),
        stop_on_reply={"s": True}, phone_ids={"+447700900001": "01"},
    )  # fmt: skip


def _reply_of(lead_phone: str, uid: str) -> tuple[MessageEvent, dict[str, object]]:
    event = MessageEvent(
        event_type="message:received:new", message_uid=uid, text="Tell me more",
        from_me=False, chat_id=None, peer_phone=lead_phone, account_phone="+447700900001",
        timestamp=None, origin=None,
    )  # fmt: skip
    return event, {"event_type": event.event_type, "uid": uid}


def test_replies_racing_claims_never_let_a_claim_follow_a_reply(database: Database) -> None:
    """Many replies (the receiver's real path) and claims at once: each pair is ordered
    one way or the other, and the reply always knows which (in flight exactly when the
    claim won). SQLite's writers take turns on its lock; PostgreSQL's on the row."""
    _race(database, _claim)


def test_replies_racing_the_one_statement_read_and_claim(pg_database: Database) -> None:
    """The same against PostgreSQL's fused read-and-claim of first messages."""
    _race(pg_database, _claim_one_statement)


def _race(database: Database, claim: Callable[[Database, int], bool]) -> None:
    ids = queued(database, 60 if database.dialect == "sqlite" else 120)
    with database.engine.connect() as connection:
        leads = dict(
            connection.exec_driver_sql(
                "SELECT e.id, l.phone FROM enrollments e JOIN leads l ON l.id = e.lead_id"
            ).all()
        )
    receiver = _receiver(database)
    rng = random.Random(7)
    outcomes: dict[int, tuple[bool, int | None]] = {}

    def race(eid: int) -> None:
        gate = threading.Barrier(2)
        results: dict[str, object] = {}

        # Either side may be held back a little, so both orders (and near ties) happen.
        claim_delay_s, reply_delay_s = rng.choice([(0.0, 0.0), (0.002, 0.0), (0.0, 0.002)])

        def claimer() -> None:
            gate.wait()
            threading.Event().wait(claim_delay_s)
            results["claimed"] = claim(database, eid)
            _unhold(database)

        def replier() -> None:
            gate.wait()
            threading.Event().wait(reply_delay_s)
            results["received"] = receiver.receive(*_reply_of(leads[eid], f"r-{eid}"))

        threads = [threading.Thread(target=claimer), threading.Thread(target=replier)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        received = results["received"]
        assert isinstance(received, Received) and received.ended == REPLIED, received
        outcomes[eid] = (bool(results["claimed"]), received.in_flight_step)

    for eid in ids:
        race(eid)
    for eid, (claimed, in_flight) in outcomes.items():
        assert claimed == (in_flight == 0), eid
    claims = [claimed for claimed, _ in outcomes.values()]
    assert any(claims) and not all(claims)  # both orders happened


def _unhold(database: Database) -> None:
    """Free the phone the one-statement claim holds, so the next pair may claim it."""
    with database.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE phones SET next_send_at = NULL")
