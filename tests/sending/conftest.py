"""A send harness: each database (SQLite and PostgreSQL, whose sends take a shorter path),
the in-process simulator, a fake clock, in-memory lease and halt."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import select

from engine.clock import FakeClock
from engine.db import Database
from engine.models import Enrollment, Lead, Message, Phone, QuotaUsage, StepState
from engine.replies.followups import FollowUp
from engine.sending.halt import MemoryHalt
from engine.sending.outcome import Outcome
from engine.sending.replycheck import ReplyCheck
from engine.sending.service import Sender, send_with_lease
from engine.settings import Settings, load_settings
from engine.storage import replies as reply_rows
from engine.storage import send_store
from engine.timelinesai import MemoryRateLimiter
from engine.timelinesai.simulator import (
    SimAccount,
    SimulatorConfig,
    SimulatorHandle,
    running_simulator,
)
from engine.webhook.handlers import EventHandler
from phones import sync_phones
from phones.lease import MemoryLease
from sequences import compiled_sequences
from tests.seed import campaign_id

START = datetime(2026, 1, 13, 10, 0, tzinfo=UTC)  # a Tuesday
PHONES = ("+447700900001", "+447700900002")

CONFIG = """
[pacing]
jitter_min_s = 30
jitter_max_s = 150
[quota]
new_contacts_per_day = 3
warmup = []
[worker]
reconcile_after_s = 120
# Leads here share their variables, so texts repeat: tests/sending/test_wording.py turns
# the near-duplicate rule on where it is the point.
[texts]
enabled = false
[[phones]]
id = "01"
phone = "+447700900001"
[[phones]]
id = "02"
phone = "+447700900002"

[sequences.intro]
timezone = "UTC"
[[sequences.intro.steps]]
after = "0m"
template = "{Hi|Hello} {{name|there}}, quick question about {{company|your team}}."
[[sequences.intro.steps]]
after = "2d"
template = "Following up, {{name|there}}."

[sequences.varied]
timezone = "UTC"
[[sequences.varied.steps]]
after = "0m"
template = "{Hi|Hello|Hey} {{name|there}}, {quick|short|brief} question about {{company|you}}."

[sequences.strict]
timezone = "UTC"
[[sequences.strict.steps]]
after = "0m"
template = "Hello {{name}}, how is {{city}}?"

[sequences.strictfollow]
timezone = "UTC"
[[sequences.strictfollow.steps]]
after = "0m"
template = "Hello {{name|there}}"
[[sequences.strictfollow.steps]]
after = "2d"
template = "How is {{city}}?"

[sequences.keep]
timezone = "UTC"
stop_on_reply = false
[[sequences.keep.steps]]
after = "0m"
template = "Hello {{name|there}}"
[[sequences.keep.steps]]
after = "1d"
template = "Again, {{name|there}}"

[sequences.windowed]
timezone = "UTC"
send_window = { days = "mon-fri", start = "09:00", end = "17:00" }
[[sequences.windowed.steps]]
after = "0m"
template = "Hello {{name|there}}"
"""


@dataclass
class Harness:
    settings: Settings
    database: Database
    sim: SimulatorHandle
    clock: FakeClock
    lease: MemoryLease
    halt: MemoryHalt
    sender: Sender

    def enroll(
        self,
        phone: str = "+40712345678",
        *,
        sequence: str = "intro",
        step: int = 0,
        state: str = "pending",
        chat_id: int | None = None,
        phone_id: str = "01",
        campaign: str | None = None,
    ) -> int:
        with self.database.session() as session:
            cid = campaign_id(session, campaign or sequence, sequence=sequence)
            lead = Lead(phone=phone, variables={"name": "Ana", "company": "Acme"})
            session.add(lead)
            session.flush()
            assert lead.id is not None
            enrollment = Enrollment(
                lead_id=lead.id, campaign_id=cid, sequence=sequence, state=state, step=step,
                step_state=StepState.QUEUED, due_at=self.clock.now(),
                queued_at=self.clock.now(), phone_id=phone_id, chat_id=chat_id,
            )  # fmt: skip
            session.add(enrollment)
            session.flush()
            assert enrollment.id is not None
            return enrollment.id

    def send(
        self, enrollment_id: int, step: int, phone_id: str = "01", *, dispatch_id: int = 0,
        last_try: bool = False,
    ) -> Outcome:  # fmt: skip
        """One send as a worker does it for a message that came without its lease."""
        return send_with_lease(
            self.sender, self.lease, enrollment_id, step, phone_id, dispatch_id=dispatch_id,
            last_try=last_try,
        )  # fmt: skip

    def left_sending(self, enrollment_id: int) -> None:
        """The step was claimed now and its sender never came back (a crash, a timeout)."""
        with self.database.session() as session:
            row = session.get(Enrollment, enrollment_id)
            assert row is not None
            row.step_state, row.sending_at = StepState.SENDING, self.clock.now()
            session.add(row)

    def enrollment(self, enrollment_id: int) -> Enrollment:
        with self.database.session() as session:
            found = session.get(Enrollment, enrollment_id)
            assert found is not None
            return found

    def phone(self, phone_id: str = "01") -> Phone:
        with self.database.session() as session:
            found = session.get(Phone, phone_id)
            assert found is not None
            return found

    def quota_used(self, phone_id: str = "01") -> int:
        with self.database.session() as session:
            usage = session.get(QuotaUsage, (phone_id, self.clock.now().date()))
            return usage.used if usage else 0

    def messages(self) -> list[Message]:
        with self.database.session() as session:
            return list(session.exec(select(Message)))

    def sends(self) -> int:
        return len([r for r in self.sim.sends() if r.status_code == 200])


@pytest.fixture
def sending_config() -> str:
    """The harness's config after ``[database]``; a test module may override it."""
    return CONFIG


@pytest.fixture
def harness(tmp_path: Path, database: Database, sending_config: str) -> Iterator[Harness]:
    path = tmp_path / "config.toml"
    path.write_text(f'[database]\nurl = "{database.url}"\n{sending_config}')
    settings = load_settings(path)
    with database.session() as session:
        sync_phones(session, settings.phones)
    sim_config = SimulatorConfig(
        accounts=tuple(SimAccount(phone=p) for p in PHONES), seed=1, sent_events=False
    )
    with running_simulator(sim_config) as sim:
        clock = FakeClock(START)
        client = sim.client(timeout_s=1.0, retry_total_s=0.5, limiter=MemoryRateLimiter(10_000))
        lease, halt = MemoryLease(), MemoryHalt()
        sender = Sender(
            settings=settings, sequences=compiled_sequences(settings),
            store=send_store(database), client=client, clock=clock, halt=halt,
            rng=random.Random(3),
        )  # fmt: skip
        yield Harness(settings, database, sim, clock, lease, halt, sender)
        sender.close()
        client.close()


@dataclass
class Checked:
    harness: Harness
    sender: Sender
    follow_ups: list[FollowUp]
    handler: EventHandler


@pytest.fixture
def checked(harness: Harness) -> Checked:
    """The harness's sender with the read before each follow-up turned on."""
    follow_ups: list[FollowUp] = []
    handler = EventHandler(
        database=harness.database, settings=harness.settings, clock=harness.clock,
        enqueue=follow_ups.append,
    )  # fmt: skip
    jids = {phone.id: phone.jid for phone in harness.settings.phones}

    def remember_chat(enrollment_id: int, chat_id: int) -> None:
        with harness.database.engine.begin() as connection:
            reply_rows.remember_chat(connection, enrollment_id, chat_id)

    harness.sender.replies = ReplyCheck(harness.sender.client, handler.handle, jids, remember_chat)
    return Checked(harness, harness.sender, follow_ups, handler)
