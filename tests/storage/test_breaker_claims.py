"""A tripped phone's claims, on both stores: a cooling phone is never held, and a half-open
phone lets exactly one first message through, its probe, however many senders try."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from engine.models import PhoneState
from engine.storage import Claim, Hold, Request, send_store
from phones.breaker import may_send
from tests.storage.conftest import HOLD, NOW, QUOTA, Stored


def _claim_as_a_sender(stored: Stored, eid: int) -> Claim:
    """Read (and, on PostgreSQL, claim with the read) then claim, as the sender does."""
    reading = stored.store.read(Request(eid, 0, "01"), now=NOW, hold_until=HOLD, quota=QUOTA)
    assert reading.item is not None
    return reading.claim or stored.claim(reading.item)


def test_a_cooling_phone_is_never_held(stored: Stored) -> None:
    [eid] = stored.queued()
    item = stored.item(eid)  # read while the phone was active
    stored.set_phone(state=PhoneState.COOLING)
    assert stored.claim(item) == Claim(False, False, phone_free=False)
    assert _claim_as_a_sender(stored, eid).goes_ahead is False
    assert stored.enrollment(eid).step_state == "queued"
    assert stored.phone().next_send_at is None
    assert stored.used() == 0


def test_a_half_open_phone_lets_exactly_one_first_message_through(stored: Stored) -> None:
    ids = stored.queued(3)
    stored.set_phone(state=PhoneState.HALF_OPEN)
    stale = [stored.item(eid) for eid in ids]  # every sender read the phone half-open
    assert _claim_as_a_sender(stored, ids[0]).goes_ahead
    phone = stored.phone()
    assert (phone.state, phone.state_changed_at) == (PhoneState.PROBING, NOW)
    # The probe's send is over and its pacing past: the phone is free, but probing.
    stored.set_phone(next_send_at=None)
    for item in stale[1:]:
        assert not stored.claim(item).goes_ahead
    for eid in ids[1:]:
        assert not _claim_as_a_sender(stored, eid).goes_ahead
    assert [stored.enrollment(eid).step_state for eid in ids] == ["sending", "queued", "queued"]
    assert stored.used() == 1


def test_a_half_open_phone_sends_no_follow_up(stored: Stored) -> None:
    [eid] = stored.queued()
    stored.set_enrollment(eid, step=1, state="active")
    stored.set_phone(state=PhoneState.HALF_OPEN)
    item = stored.store.read(Request(eid, 1, "01"), now=NOW, hold_until=None, quota=None).item
    assert item is not None
    assert stored.claim(item, None) == Claim(False, False, phone_free=False)
    assert stored.phone().state == PhoneState.HALF_OPEN


def test_a_probe_that_does_not_go_ahead_gives_the_turn_back(stored: Stored) -> None:
    [eid] = stored.queued()
    stored.set_phone(state=PhoneState.HALF_OPEN)
    item = stored.item(eid)
    stored.set_enrollment(eid, state="replied")  # the lead wrote meanwhile
    claim = stored.claim(item)
    assert not claim.goes_ahead
    stored.store.release(item, claim, now=NOW, hold=Hold(item.next_send_at, HOLD), quota=QUOTA)
    assert (stored.phone().state, stored.phone().next_send_at) == (PhoneState.HALF_OPEN, None)


def test_senders_racing_for_a_half_open_phone_send_one_probe(stored: Stored) -> None:
    """Eight senders, each with its own store (connections), read and claim at once."""
    senders = 8
    ids = stored.queued(senders)
    stored.set_phone(state=PhoneState.HALF_OPEN)
    start = threading.Barrier(senders)
    won: list[int] = []
    errors: list[BaseException] = []

    def send(eid: int) -> None:
        own = Stored(stored.database, send_store(stored.database))
        try:
            start.wait()
            if _claim_as_a_sender(own, eid).goes_ahead:
                won.append(eid)
        except BaseException as error:  # a sender that failed must fail the test
            errors.append(error)
        finally:
            own.store.close()

    threads = [threading.Thread(target=send, args=(eid,)) for eid in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(won) == 1
    assert stored.phone().state == PhoneState.PROBING
    assert stored.used() == 1
    # And once its pacing is over, still no second one.
    stored.set_phone(next_send_at=NOW - timedelta(seconds=1))
    assert not any(_claim_as_a_sender(stored, eid).goes_ahead for eid in ids if eid not in won)


STATE_STEPS = [(state.value, step) for state in PhoneState for step in (0, 1)]


@pytest.mark.parametrize(("state", "step"), STATE_STEPS, ids=[f"{s}-{n}" for s, n in STATE_STEPS])
def test_the_claim_holds_a_phone_exactly_when_the_decision_lets_it_send(
    stored: Stored, state: str, step: int
) -> None:
    """The SQL rule (``MAY_HOLD``) and the pure one (``may_send``) agree on every state."""
    [eid] = stored.queued()
    if step:
        stored.set_enrollment(eid, step=step, state="active")
    stored.set_phone(state=state)
    item = stored.store.read(Request(eid, step, "01"), now=NOW, hold_until=None, quota=None).item
    assert item is not None
    claim = stored.claim(item, QUOTA if step == 0 else None)
    assert claim.phone_free is may_send(state, step)
