"""What only the PostgreSQL store does: fused statements (counted in round trips) and
claims of one phone ordered by its row lock, whichever of its statements claims."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import text

from engine.db import Database
from engine.storage import Claim, Hold, Request, send_store
from engine.storage.postgres import PostgresSendStore
from tests.storage.conftest import HOLD, NOW, QUOTA, Stored


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
