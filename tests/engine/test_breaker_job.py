"""The breaker job on SQLite and PostgreSQL: a phone trips once with its alert, cools, half-
opens, closes on its probe, and only its history after a trip counts towards the next."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from engine.db import Database
from engine.jobs.breaker import apply_verdict, breaker_phones, check_breakers
from engine.models import Alert, Enrollment, Lead, Message, Phone
from engine.settings import PhoneSettings, Settings, load_settings
from phones import sync_phones
from phones.breaker import Trip
from tests.seed import campaign_id

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2027, 2, 3, 12, 0, tzinfo=UTC)
PHONES = (PhoneSettings("01", "+447700900001"), PhoneSettings("02", "+447700900002"))
INVALID = "3 of its last 3 numbers were invalid"
FIX = " (one probe send reopens it; `outreach phones resume 01` does so at once)"


@pytest.fixture
def settings(database: Database) -> Settings:
    with database.session() as session:
        sync_phones(session, PHONES)
    return replace(load_settings(ROOT / "config.example.toml"), phones=PHONES)


class _Rows:
    def __init__(self, database: Database) -> None:
        self.database = database
        self.leads = 0

    def enrollment(self, phone_id: str, **values: object) -> int:
        with self.database.session() as session:
            self.leads += 1
            lead = Lead(phone=f"+4477009{self.leads:05d}")
            session.add(lead)
            session.flush()
            row = Enrollment(
                lead_id=lead.id or 0, campaign_id=campaign_id(session, "intro"),
                sequence="intro", phone_id=phone_id, **values,
            )  # fmt: skip
            session.add(row)
            session.flush()
            assert row.id is not None
            return row.id

    def invalid(self, phone_id: str, at: datetime, count: int = 1) -> None:
        for _ in range(count):
            self.enrollment(
                phone_id, state="invalid_number", end_reason="invalid_number", ended_at=at,
                step_state="failed",
            )  # fmt: skip

    def first_message(self, phone_id: str, at: datetime) -> None:
        eid = self.enrollment(phone_id, state="active", step=1)
        with self.database.session() as session:
            session.add(
                Message(
                    direction="out", enrollment_id=eid, lead_id=self.leads, phone_id=phone_id,
                    step=0, sent_at=at, status="sent",
                )
            )  # fmt: skip

    def phone(self, phone_id: str = "01") -> Phone:
        with self.database.session() as session:
            row = session.get(Phone, phone_id)
            assert row is not None
            return row

    def set_phone(self, phone_id: str = "01", **values: object) -> None:
        with self.database.session() as session:
            row = session.get(Phone, phone_id)
            assert row is not None
            for name, value in values.items():
                setattr(row, name, value)
            session.add(row)

    def alerts(self) -> list[tuple[str, str | None, str]]:
        with self.database.session() as session:
            rows = session.exec(select(Alert).order_by(Alert.id)).all()  # type: ignore[arg-type]
            return [(row.kind, row.phone_id, row.message) for row in rows]


def test_a_phone_trips_once_cools_half_opens_and_closes(
    database: Database, settings: Settings
) -> None:
    rows = _Rows(database)
    rows.invalid("01", NOW - timedelta(hours=1), count=3)
    rows.invalid("02", NOW - timedelta(hours=1), count=2)  # under the threshold
    [change] = check_breakers(NOW, database, settings)
    message = f"phone 01 cooling for 30 min: {INVALID}{FIX}"
    assert (change.phone_id, change.before, change.after) == ("01", "active", "cooling")
    assert (change.kind, change.message) == ("phone_cooling", message)
    phone = rows.phone()
    assert (phone.state, phone.trips, phone.tripped_at, phone.cooling_until) == (
        "cooling", 1, NOW, NOW + timedelta(minutes=30),
    )  # fmt: skip
    assert rows.phone("02").state == "active"
    assert check_breakers(NOW + timedelta(minutes=29), database, settings) == []
    assert rows.alerts() == [("phone_cooling", "01", message)]

    [change] = check_breakers(NOW + timedelta(minutes=30), database, settings)
    assert (change.after, change.kind) == ("half_open", None)
    # The dispatcher hands it a first message; the claim makes it probing; the probe goes.
    probe_at = NOW + timedelta(minutes=31)
    rows.set_phone(state="probing", state_changed_at=probe_at)
    assert check_breakers(probe_at, database, settings) == []
    rows.first_message("01", probe_at)
    [change] = check_breakers(probe_at + timedelta(minutes=1), database, settings)
    assert (change.after, change.kind) == ("active", "phone_active")
    assert (rows.phone().state, rows.phone().trips) == ("active", 1)

    # The old invalid numbers do not trip it again: only what came after the trip counts.
    assert check_breakers(probe_at + timedelta(minutes=2), database, settings) == []
    rows.invalid("01", probe_at + timedelta(minutes=3), count=3)
    [change] = check_breakers(probe_at + timedelta(minutes=4), database, settings)
    assert (
        change.message == f"phone 01 cooling for 60 min: 3 of its last 4 numbers were invalid{FIX}"
    )
    assert rows.phone().trips == 2


def test_a_half_open_phone_with_nothing_to_probe_it_closes_after_the_probes_time(
    database: Database, settings: Settings
) -> None:
    # Every lead had its first message: no probe can come, and its follow-ups wait on it.
    rows = _Rows(database)
    rows.set_phone(state="half_open", state_changed_at=NOW, trips=1, tripped_at=NOW)
    assert check_breakers(NOW + timedelta(minutes=29), database, settings) == []
    [change] = check_breakers(NOW + timedelta(minutes=30), database, settings)
    assert (change.before, change.after, change.kind) == ("half_open", "active", "phone_active")
    assert change.message == "phone 01 is active again: nothing came to probe it with in 30 min"
    assert (rows.phone().state, rows.phone().trips) == ("active", 1)


def test_a_probe_refused_as_invalid_trips_the_phone_again_for_twice_as_long(
    database: Database, settings: Settings
) -> None:
    rows = _Rows(database)
    started = NOW - timedelta(minutes=1)
    rows.set_phone(
        state="probing", state_changed_at=started, trips=1, tripped_at=NOW - timedelta(hours=1)
    )
    rows.invalid("01", NOW)
    [change] = check_breakers(NOW, database, settings)
    assert change.message == f"phone 01 cooling for 60 min: its probe's number was invalid{FIX}"
    assert (rows.phone().state, rows.phone().cooling_until) == (
        "cooling", NOW + timedelta(minutes=60),
    )  # fmt: skip


def test_a_verdict_read_before_another_scheduler_moved_the_phone_does_nothing(
    database: Database, settings: Settings
) -> None:
    rows = _Rows(database)
    with database.engine.connect() as connection:
        [stale, _] = breaker_phones(connection, ["01", "02"])
    trip = Trip(INVALID, NOW + timedelta(minutes=30), 1)
    with database.engine.begin() as connection:
        assert apply_verdict(connection, stale, trip, NOW) is not None
    with database.engine.begin() as connection:
        assert apply_verdict(connection, stale, trip, NOW) is None
    assert len(rows.alerts()) == 1


def test_two_schedulers_at_once_trip_a_phone_once(pg_database: Database) -> None:
    with pg_database.session() as session:
        sync_phones(session, PHONES)
    settings = replace(load_settings(ROOT / "config.example.toml"), phones=PHONES)
    _Rows(pg_database).invalid("01", NOW - timedelta(hours=1), count=3)
    start = threading.Barrier(2)
    made: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            start.wait()
            made.append(len(check_breakers(NOW, pg_database, settings)))
        except BaseException as error:  # a run that failed must fail the test
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(made) == [0, 1]
    assert [kind for kind, _, _ in _Rows(pg_database).alerts()] == ["phone_cooling"]


def test_status_names_a_tripped_phone_its_end_and_the_fix() -> None:
    from engine.blockers import PhoneFacts, SendingFacts, WorkspaceFacts, find_blockers

    until = NOW + timedelta(minutes=30)
    phones = (
        PhoneFacts("01", "cooling", INVALID, until),
        PhoneFacts("02", "half_open", INVALID),
        PhoneFacts("03", "active"),
    )
    found = find_blockers(SendingFacts(now=NOW, phones=phones, workspace=WorkspaceFacts()))
    assert [(b.kind, b.command, b.phone_id) for b in found] == [
        ("phone_cooling", "outreach phones resume 01", "01"),
        ("phone_cooling", "outreach phones resume 02", "02"),
    ]
    assert found[0].reason == (
        f"phone 01 is cooling until 2027-02-03 12:30 UTC ({INVALID}); "
        "its new leads go to the other phones"
    )
    assert "`outreach phones resume 01`" in found[0].fix
    assert found[1].reason.startswith("phone 02 is half-open: one first message probes it")
