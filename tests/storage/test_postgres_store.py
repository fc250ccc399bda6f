"""What only the PostgreSQL store does: fused statements (counted in round trips) and
claims of one phone ordered by its row lock, whichever of its statements claims."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import text

from engine.db import Database
from engine.storage import Claim, Hold, Quota, Request, SendStore, Sent, send_store
from engine.storage.postgres import PostgresSendStore
from tests.storage.conftest import DAY, HOLD, NOW, QUOTA, Stored


@pytest.fixture
def pg_stored(pg_database: Database) -> Iterator[Stored]:
    """The store on a database that counts its round trips."""
    counted = Database(pg_database.url, count_round_trips=True)
    store = send_store(counted)
    assert isinstance(store, PostgresSendStore)
    yield Stored(counted, store)
    store.close()
    counted.dispose()


def _round_trips(stored: Stored) -> int:
    counter = stored.database.round_trips
    assert counter is not None
    return counter.take()


def test_a_first_message_is_read_and_claimed_in_one_round_trip(pg_stored: Stored) -> None:
    [eid] = pg_stored.queued()
    _round_trips(pg_stored)
    reading = pg_stored.store.read(Request(eid, 0, "01"), now=NOW, hold_until=HOLD, quota=QUOTA)
    assert _round_trips(pg_stored) == 1
    assert reading.claim is not None and reading.claim.goes_ahead


def test_a_claim_is_one_round_trip(pg_stored: Stored) -> None:
    [eid] = pg_stored.queued()
    item = pg_stored.item(eid)
    _round_trips(pg_stored)
    assert pg_stored.claim(item).goes_ahead
    assert _round_trips(pg_stored) == 1  # the phone's hold, the claim and the quota unit


def _claim(stored: Stored, eid: int) -> Claim:
    item = stored.item(eid)
    return stored.store.claim(item, now=NOW, hold=Hold(None, HOLD), quota=QUOTA)


def _read_and_claim(stored: Stored, eid: int) -> Claim:
    reading = stored.store.read(Request(eid, 0, "01"), now=NOW, hold_until=HOLD, quota=QUOTA)
    return reading.claim or Claim(False, False, phone_free=False)


@pytest.mark.parametrize("claim", [_claim, _read_and_claim], ids=["claim", "read and claim"])
def test_two_claims_of_one_phone_let_one_through(
    pg_database: Database, claim: Callable[[Stored, int], Claim]
) -> None:
    """Two senders of one phone at once (Redis lost the lease): the second waits for the
    phone's row, then sees the first one's hold and claims nothing."""
    stored = Stored(pg_database, send_store(pg_database))
    first, second = stored.queued(2)
    results: list[Claim] = []
    with pg_database.engine.connect() as holder, holder.begin():
        # The first claim, in a transaction still open: it holds the phone's row.
        holder.execute(
            text("UPDATE phones SET next_send_at = :hold WHERE id = '01'"), {"hold": HOLD}
        )
        holder.execute(
            text("UPDATE enrollments SET step_state = 'sending' WHERE id = :id"), {"id": first}
        )
        racer = threading.Thread(target=lambda: results.append(claim(stored, second)))
        racer.start()
        racer.join(0.3)
        assert racer.is_alive()  # waiting for the phone's row
    racer.join(10)
    [late] = results
    assert not late.goes_ahead and not late.claimed
    assert stored.enrollment(second).step_state == "queued"
    assert stored.phone().next_send_at == HOLD
    assert stored.used() == 0
    stored.store.close()


@pytest.mark.parametrize("fused", [True, False], ids=["read and claim", "claim"])
def test_senders_of_one_phone_at_once_never_pass_its_hourly_cap(
    pg_database: Database, fused: bool
) -> None:
    """Eight senders of one phone at once (as if Redis lost every lease), zero jitter:
    each claims, and records at once what it claimed. The hour's cap holds. Their clock
    moves on, as a real one does: a phone's pacing is a time, never the same twice."""
    cap, threads = 5, 8
    stored = Stored(pg_database, send_store(pg_database))
    waiting = stored.queued(40)
    quota = Quota(DAY, 1000, per_hour=cap)
    lock = threading.Lock()
    went: list[int] = []
    refused: list[int] = []

    def sender() -> None:
        store = send_store(pg_database)
        try:
            while True:
                with lock:
                    if not waiting:
                        return
                    eid = waiting.pop()
                claim = _until_the_phone_is_free(store, eid, quota, fused=fused)
                if claim.goes_ahead:
                    item = Stored(pg_database, store).item(eid)
                    at = _now()
                    store.record(item, Sent(f"u-{eid}", "Hi", 0, "v", None, at, None, at))
                    went.append(eid)
                else:
                    assert claim.hour_frees_at is not None
                    refused.append(eid)
        finally:
            store.close()

    workers = [threading.Thread(target=sender) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert len(went) == cap and len(refused) == 40 - cap
    with pg_database.engine.connect() as connection:
        first = "SELECT count(*) FROM messages WHERE step = 0 AND phone_id = '01'"
        assert connection.execute(text(first)).scalar() == cap
    assert stored.used() == cap
    stored.store.close()


def _until_the_phone_is_free(store: SendStore, eid: int, quota: Quota, *, fused: bool) -> Claim:
    """Claim ``eid`` as a sender does, again while another send holds the phone; a claim
    that does not go ahead is released."""
    while True:
        now = _now()
        hold = now + timedelta(seconds=90)
        reading = store.read(
            Request(eid, 0, "01"), now=now, hold_until=hold if fused else None, quota=quota
        )
        item = reading.item
        assert item is not None
        claim = reading.claim or store.claim(
            item, now=now, hold=Hold(item.next_send_at, hold), quota=quota
        )
        if not claim.goes_ahead:
            store.release(item, claim, now=now, hold=Hold(item.next_send_at, hold), quota=quota)
        if claim.claimed:
            return claim


_STARTED = time.monotonic_ns()


def _now() -> datetime:
    """The senders' clock: ``NOW``, moving on in real time."""
    return NOW + timedelta(microseconds=(time.monotonic_ns() - _STARTED) // 1000)
