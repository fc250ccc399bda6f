"""What a refused send becomes, with a fake store and a fake account check: no database,
no network, no clock.

A number TimelinesAI refuses as wrong while the sending account is connected is not on
WhatsApp: its enrollment ends ``invalid_number`` and the number goes on the
do-not-contact list in one store call. The same 400 while the account is disconnected
is the phone's fault, not the number's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from engine.alerts import NoAlerts
from engine.sending.halt import MemoryHalt
from engine.sending.outcome import Done
from engine.sending.reconcile import Reconciler
from engine.sending.transitions import Transitions
from engine.storage import SendStore, WorkItem
from engine.timelinesai import BadRequest, InvalidRecipient, TimelinesAIError
from sequences import EndReason

NOW = datetime(2026, 1, 6, 10, 0, tzinfo=UTC)
LEAD = "+40712345678"
ITEM = WorkItem(
    enrollment_id=7, state="pending", step=0, step_state="sending", sequence="s",
    phone_id="01", chat_id=None, sending_at=NOW, queued_at=NOW, attempts=1, lead_id=3,
    lead_phone=LEAD, lead_variables={}, lead_timezone=None, lead_region=None,
    from_phone="+447700900001",
    phone_state="active", next_send_at=None, campaign_state="active",
)  # fmt: skip


@dataclass
class FakeStore:
    """Records the calls the transitions make; ``listed`` is the do-not-contact list."""

    listed: set[str] = field(default_factory=set)
    calls: list[tuple[str, Any]] = field(default_factory=list)

    def end_not_on_whatsapp(self, item: WorkItem, *, error: str, now: datetime) -> bool:
        self.calls.append(("end_not_on_whatsapp", (item.enrollment_id, error, now)))
        added = item.lead_phone not in self.listed
        self.listed.add(item.lead_phone)
        return added

    def end(self, item: WorkItem, *, reason: EndReason, error: str | None, now: datetime) -> None:
        self.calls.append(("end", (item.enrollment_id, reason)))

    def set_step(self, item: WorkItem, *, expect: str, now: datetime, **values: Any) -> bool:
        self.calls.append(("set_step", (expect, values)))
        return True

    def set_phone_state(self, phone_id: str, state: str, reason: str, now: datetime) -> bool:
        self.calls.append(("set_phone_state", (phone_id, state)))
        return True

    def add_alert(self, kind: str, message: str, **_: Any) -> None:
        self.calls.append(("add_alert", kind))


@dataclass
class FakeAccounts:
    """The sending account's state as TimelinesAI would report it."""

    connected: bool

    def account_connected(self, from_phone: str) -> bool:
        return self.connected


def _failed(store: FakeStore, error: TimelinesAIError, *, connected: bool = True) -> Done:
    transitions = Transitions(
        cast(SendStore, store), NoAlerts(), cast(Reconciler, FakeAccounts(connected))
    )
    outcome = transitions.failed(ITEM, error, NOW, MemoryHalt(), last_try=False)
    assert isinstance(outcome, Done)
    return outcome


def _wrong_number() -> InvalidRecipient:
    return InvalidRecipient(f'Wrong phone number "{LEAD}"', phone=LEAD, from_phone="+447700900001")


def test_a_number_not_on_whatsapp_ends_the_enrollment_and_is_suppressed_at_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = FakeStore()
    with caplog.at_level(logging.INFO, logger="outreach.send"):
        assert _failed(store, _wrong_number()) == Done("invalid number")
    # One call: the end and the listing share a transaction, nothing else is written.
    [(name, (eid, error, at))] = store.calls
    assert (name, eid, at) == ("end_not_on_whatsapp", 7, NOW)
    assert "Wrong phone number" in error and LEAD not in error  # redacted, as logged
    assert store.listed == {LEAD}
    [record] = [r for r in caplog.records if "not on WhatsApp" in r.getMessage()]
    line = record.getMessage()
    assert LEAD not in line and "phone 01" in line and "put on the do-not-contact list" in line


def test_a_number_already_listed_is_said_so(caplog: pytest.LogCaptureFixture) -> None:
    store = FakeStore(listed={LEAD})
    with caplog.at_level(logging.INFO, logger="outreach.send"):
        assert _failed(store, _wrong_number()) == Done("invalid number")
    assert [name for name, _ in store.calls] == ["end_not_on_whatsapp"]
    assert any("already on the do-not-contact list" in r.getMessage() for r in caplog.records)


def test_a_disconnected_account_is_not_blamed_on_the_number() -> None:
    store = FakeStore()
    assert _failed(store, _wrong_number(), connected=False) == Done("back to due: phone offline")
    assert store.listed == set()
    assert ("set_phone_state", ("01", "offline")) in store.calls
    assert not any(name in ("end", "end_not_on_whatsapp") for name, _ in store.calls)


def test_another_permanent_refusal_suppresses_nothing() -> None:
    store = FakeStore()
    assert _failed(store, BadRequest("text too long", status_code=400)) == Done("dead letter")
    assert store.listed == set()
    assert [name for name, _ in store.calls] == ["set_step", "add_alert"]
