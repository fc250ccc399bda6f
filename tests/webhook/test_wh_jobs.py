"""The scheduler's jobs against the simulator: phone states, delivery states, history, pruning."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlmodel import select

from engine.clock import FakeClock
from engine.db import Database
from engine.jobs import (
    apply_statuses,
    fetch_chat_history,
    prune_webhook_events,
    sync_delivery,
    sync_phone_states,
)
from engine.models import Alert, Enrollment, Lead, Message, Phone, WebhookEvent
from engine.replies.followups import FollowUp
from engine.settings import Settings
from engine.timelinesai import MemoryCallBudget, MemoryRateLimiter, TimelinesAIClient
from engine.timelinesai.simulator import (
    SimAccount,
    SimulatorConfig,
    SimulatorHandle,
    running_simulator,
)
from engine.webhook import EventHandler
from phones import sync_phones
from tests.webhook.conftest import LEAD, OURS, enroll, write_settings

SPEED = 1000.0


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return write_settings(tmp_path)


@pytest.fixture
def sim() -> Iterator[SimulatorHandle]:
    config = SimulatorConfig(
        accounts=tuple(SimAccount(phone=p) for p in OURS), speed=SPEED, sent_events=False, seed=3
    )
    with running_simulator(config) as handle:
        yield handle


@pytest.fixture
def client(sim: SimulatorHandle) -> Iterator[TimelinesAIClient]:
    with sim.client(limiter=MemoryRateLimiter(10_000), retry_total_s=0.5) as api:
        yield api


@pytest.fixture
def db(database: Database, settings: Settings) -> Database:
    with database.session() as session:
        sync_phones(session, settings.phones)
    return database


def now() -> datetime:
    return datetime.now(UTC)


# Phone states ------------------------------------------------------------------------


def test_phone_sync_applies_each_account_state_with_one_call(
    sim: SimulatorHandle, client: TimelinesAIClient, db: Database, settings: Settings
) -> None:
    sim.set_account_status(OURS[1], "disconnected")
    changes = sync_phone_states(now(), client, db, settings)
    assert [(c.phone_id, c.before, c.after) for c in changes] == [("02", "active", "offline")]
    assert len([r for r in sim.requests() if r.path == "/whatsapp_accounts"]) == 1
    with db.session() as session:
        [alert] = session.exec(select(Alert))
        assert alert.kind == "phone_offline" and alert.phone_id == "02"
        phone = session.get(Phone, "01")
        assert phone is not None
        phone.state = "paused"
        session.add(phone)
    sim.set_account_status(OURS[1], "active")
    sim.set_account_status(OURS[0], "disconnected")
    changes = sync_phone_states(now(), client, db, settings)
    assert [(c.phone_id, c.after) for c in changes] == [("02", "active")]  # 01 stays paused
    assert sync_phone_states(now(), client, db, settings) == []


def _offline_since(db: Database, phone_id: str, since: datetime) -> None:
    with db.session() as session:
        phone = session.get(Phone, phone_id)
        assert phone is not None
        phone.state, phone.state_changed_at = "offline", since
        session.add(phone)


def test_a_phone_offline_past_its_grace_is_told_of_once(
    sim: SimulatorHandle, client: TimelinesAIClient, db: Database, settings: Settings
) -> None:
    """TimelinesAI reports a ban as merely disconnected: a phone left offline that long
    has its contacted leads ended (the dispatcher), and a person is told, once."""
    at = now()
    sim.set_account_status(OURS[0], "disconnected")
    sim.set_account_status(OURS[1], "disconnected")
    _offline_since(db, "01", at - timedelta(days=3, hours=2))
    _offline_since(db, "02", at - timedelta(days=2))  # within its grace
    changes = sync_phone_states(at, client, db, settings)
    assert [(c.phone_id, c.alert_kind) for c in changes] == [("01", "phone_offline_too_long")]
    assert (
        changes[0].message.startswith("phone 01 has been offline for 3.1 days (since ")
        and "Reconnect its WhatsApp in TimelinesAI" in changes[0].message
    )
    assert sync_phone_states(at + timedelta(hours=1), client, db, settings) == []  # told once
    with db.session() as session:
        alerts = [(a.kind, a.phone_id, a.severity) for a in session.exec(select(Alert))]
    assert alerts == [("phone_offline_too_long", "01", "critical")]
    # Phone 02 comes back within its grace: active again, nothing given up.
    sim.set_account_status(OURS[1], "active")
    changes = sync_phone_states(at + timedelta(hours=2), client, db, settings)
    assert [(c.phone_id, c.alert_kind) for c in changes] == [("02", "phone_active")]
    # Phone 01 comes back and goes offline again: a new absence, told of in its turn.
    sim.set_account_status(OURS[0], "active")
    sync_phone_states(at + timedelta(hours=3), client, db, settings)
    sim.set_account_status(OURS[0], "disconnected")
    sync_phone_states(at + timedelta(hours=4), client, db, settings)
    later = at + timedelta(days=3, hours=5)
    changes = sync_phone_states(later, client, db, settings)
    assert [(c.phone_id, c.alert_kind) for c in changes] == [("01", "phone_offline_too_long")]


# Delivery states -----------------------------------------------------------------------


def _record(db: Database, uid: str, *, chat_id: int | None, status: str = "sent") -> None:
    with db.session() as session:
        session.add(Message(direction="out", phone_id="01", chat_id=chat_id, message_uid=uid,
                            text="hi", status=status, sent_at=now()))  # fmt: skip


def _count_updates(db: Database) -> list[str]:
    seen: list[str] = []

    def hit(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE MESSAGES SET STATUS"):
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", hit)
    return seen


def test_delivery_sync_reads_each_chat_once_and_updates_in_one_statement(
    sim: SimulatorHandle, client: TimelinesAIClient, db: Database, settings: Settings
) -> None:
    leads = [f"+4072000000{i}" for i in range(4)]
    for index, lead in enumerate(leads):
        sent = client.send_message(phone=lead, text=f"Hello {index}", from_phone=OURS[0])
        chat = next(iter(client.find_chats(phone=lead)))
        # Our first messages come back without a chat id: half of them are found by number.
        _record(db, sent.message_uid, chat_id=chat.id if index % 2 else None)
        _link_lead(db, lead, sent.message_uid)
    _record(db, "already-read", chat_id=None, status="read")
    time.sleep(0.1)  # 100 virtual seconds: delivered and read
    before = len(sim.requests())
    updates = _count_updates(db)
    polled_at = now()
    report = sync_delivery(polled_at, client, db, settings)
    assert (report.chats, report.updated, report.errors) == (4, 4, 0)
    assert len(updates) == 1
    with db.session() as session:
        rows = list(session.exec(select(Message).where(Message.message_uid != "already-read")))
        unpolled = session.exec(select(Message).where(Message.message_uid == "already-read"))
        assert unpolled.one().status_read_at is None
    assert {row.status for row in rows} == {"read"}
    assert all(row.delivered_at and row.read_at and row.chat_id for row in rows)
    assert {row.status_read_at for row in rows} == {polled_at}
    calls = [r.path for r in sim.requests()[before:]]
    assert calls.count("/chats") == 2  # only for the chats we did not know
    assert len([c for c in calls if c.endswith("/messages")]) == 4
    assert sync_delivery(now(), client, db, settings).chats == 0  # all read: nothing to poll


def test_delivery_sync_leaves_the_last_fifth_of_the_budget_to_sends(
    client: TimelinesAIClient, db: Database, settings: Settings
) -> None:
    _record(db, "pending", chat_id=1)
    budget = MemoryCallBudget(monthly_call_budget=10)
    for _ in range(8):
        budget.charge()
    report = sync_delivery(now(), client, db, settings, budget=budget)
    assert report.skipped_for_budget and report.chats == 0


def _link_lead(db: Database, lead_phone: str, uid: str) -> None:
    with db.session() as session:
        lead = Lead(phone=lead_phone, variables={})
        session.add(lead)
        session.flush()
        message = session.exec(select(Message).where(Message.message_uid == uid)).one()
        message.lead_id = lead.id
        session.add(message)


def test_statuses_only_move_forward_in_batches(db: Database) -> None:
    for uid, status in (("a", "sent"), ("b", "delivered"), ("c", "failed")):
        _record(db, uid, chat_id=1, status=status)
    stamp = now()
    with db.engine.begin() as connection:
        changed = apply_statuses(connection, {"a": "delivered", "b": "read", "c": "read"}, stamp)
    assert changed == 2  # a failed message stays failed
    with db.session() as session:
        rows = {m.message_uid: m for m in session.exec(select(Message))}
    assert (rows["a"].status, rows["a"].delivered_at, rows["a"].read_at) == (
        "delivered",
        stamp,
        None,
    )
    assert (rows["b"].status, rows["b"].read_at) == ("read", stamp)
    assert rows["c"].status == "failed"


def test_every_status_read_is_stamped_changed_or_not(db: Database) -> None:
    """The breaker judges a message undelivered only on a reading after its grace period:
    a poll that finds a status unchanged has read it all the same."""
    for uid, status in (("a", "sent"), ("b", "sent"), ("c", "sent"), ("d", "failed")):
        _record(db, uid, chat_id=1, status=status)
    stamp = now()
    with db.engine.begin() as connection:
        changed = apply_statuses(connection, {"a": "delivered"}, stamp, read={"a", "b", "d"})
    assert changed == 1
    with db.session() as session:
        rows = {m.message_uid: m for m in session.exec(select(Message))}
    assert {uid: (row.status, row.status_read_at) for uid, row in rows.items()} == {
        "a": ("delivered", stamp),
        "b": ("sent", stamp),  # read, unchanged
        "c": ("sent", None),  # not read
        "d": ("failed", None),  # settled for good: nothing to read
    }


def test_a_reply_the_webhook_never_delivered_is_applied_by_the_sync(
    sim: SimulatorHandle, client: TimelinesAIClient, db: Database, settings: Settings
) -> None:
    sent = client.send_message(phone=LEAD, text="Hello", from_phone=OURS[0])
    eid = enroll(db, now())
    _record(db, sent.message_uid, chat_id=None)
    with db.session() as session:
        message = session.exec(select(Message).where(Message.message_uid == sent.message_uid)).one()
        enrollment = session.get(Enrollment, eid)
        assert enrollment is not None
        message.lead_id, message.enrollment_id = enrollment.lead_id, eid
        session.add(message)
    sim.inbound("STOP", phone=LEAD, account_phone=OURS[0])  # no webhook URL: never delivered
    follow_ups: list[FollowUp] = []
    handler = EventHandler(database=db, settings=settings,
                           clock=FakeClock(now()), enqueue=follow_ups.append)  # fmt: skip
    report = sync_delivery(now(), client, db, settings, handler.handle)
    assert report.replies_found == 1
    with db.session() as session:
        enrollment = session.get(Enrollment, eid)
        assert enrollment is not None and enrollment.state == "opted_out"
    assert len(follow_ups) == 1
    assert sync_delivery(now(), client, db, settings, handler.handle).replies_found == 0


# History and pruning -------------------------------------------------------------------


def test_chat_history_stores_each_message_once(
    sim: SimulatorHandle, client: TimelinesAIClient, db: Database, settings: Settings
) -> None:
    client.send_message(phone=LEAD, text="Hello", from_phone=OURS[0])
    sim.inbound("Cât costă?", phone=LEAD, account_phone=OURS[0])
    client.send_message(phone=LEAD, text="Hi from the other phone", from_phone=OURS[1])
    report = fetch_chat_history(now(), client, db, settings, LEAD)
    assert (report.chats, report.messages, report.stored, report.lead_id) == (2, 3, 3, None)
    with db.session() as session:
        rows = list(session.exec(select(Message).order_by(Message.sent_at)))  # type: ignore[arg-type]
    assert [(m.direction, m.phone_id) for m in rows] == [("out", "01"), ("in", "01"), ("out", "02")]
    assert rows[1].intent == "pricing" and rows[1].classified_at is not None
    assert fetch_chat_history(now(), client, db, settings, LEAD).stored == 0


def test_pruning_keeps_the_retention_window(db: Database) -> None:
    stamp = now()
    with db.session() as session:
        for key, age_days in (("old", 31), ("recent", 29)):
            session.add(WebhookEvent(dedupe_key=key, event_type="x", payload={},
                                     received_at=stamp - timedelta(days=age_days)))  # fmt: skip
    assert prune_webhook_events(db, stamp, 30) == 1
    with db.session() as session:
        assert [e.dedupe_key for e in session.exec(select(WebhookEvent))] == ["recent"]
