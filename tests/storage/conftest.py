"""A store on each database, with one phone and queued first messages to claim."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest

from engine.db import Database
from engine.models import Enrollment, Lead, Phone, QuotaUsage, StepState
from engine.storage import Claim, Hold, Quota, Request, SendStore, WorkItem, send_store
from tests.seed import campaign_id

NOW = datetime(2026, 1, 6, 10, 0, tzinfo=UTC)
DAY = date(2026, 1, 6)
HOLD = NOW + timedelta(seconds=90)
QUOTA = Quota(DAY, 5)


@dataclass
class Stored:
    """A store and the database under it, with helpers to set up and look."""

    database: Database
    store: SendStore
    leads: int = 0

    def queued(self, count: int = 1, *, phone_id: str = "01") -> list[int]:
        """``count`` first messages queued on ``phone_id`` (phones 01 and 02 exist)."""
        ids = []
        with self.database.session() as session:
            for pid, number in (("01", "+447700900001"), ("02", "+447700900002")):
                if session.get(Phone, pid) is None:
                    session.add(Phone(id=pid, phone=number))
            session.flush()
            for _ in range(count):
                self.leads += 1
                lead = Lead(phone=f"+4071234{self.leads:04d}")
                session.add(lead)
                session.flush()
                assert lead.id is not None
                row = Enrollment(
                    lead_id=lead.id, campaign_id=campaign_id(session, "s"), sequence="s",
                    step_state=StepState.QUEUED, phone_id=phone_id,
                )  # fmt: skip
                session.add(row)
                session.flush()
                assert row.id is not None
                ids.append(row.id)
        return ids

    def item(self, eid: int) -> WorkItem:
        reading = self.store.read(Request(eid, 0, "01"), now=NOW, hold_until=None, quota=None)
        assert reading.item is not None and reading.claim is None
        return reading.item

    def enrollment(self, eid: int) -> Enrollment:
        with self.database.session() as session:
            row = session.get(Enrollment, eid)
            assert row is not None
            return row

    def phone(self, phone_id: str = "01") -> Phone:
        with self.database.session() as session:
            row = session.get(Phone, phone_id)
            assert row is not None
            return row

    def used(self, day: date = DAY, phone_id: str = "01") -> int:
        with self.database.session() as session:
            usage = session.get(QuotaUsage, (phone_id, day))
            return usage.used if usage else 0

    def set_phone(self, phone_id: str = "01", **values: object) -> None:
        with self.database.session() as session:
            row = session.get(Phone, phone_id)
            assert row is not None
            for name, value in values.items():
                setattr(row, name, value)
            session.add(row)

    def set_enrollment(self, eid: int, **values: object) -> None:
        with self.database.session() as session:
            row = session.get(Enrollment, eid)
            assert row is not None
            for name, value in values.items():
                setattr(row, name, value)
            session.add(row)

    def claim(self, item: WorkItem, quota: Quota | None = QUOTA) -> Claim:
        return self.store.claim(item, now=NOW, hold=Hold(item.next_send_at, HOLD), quota=quota)


@pytest.fixture
def stored(database: Database) -> Iterator[Stored]:
    store = send_store(database)
    yield Stored(database, store)
    store.close()
