from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

from sqlmodel import select

from engine.db import Database
from engine.models import Phone, QuotaUsage
from engine.settings import PhoneSettings, load_settings
from phones import phone_rows, sync_phones

ROOT = Path(__file__).resolve().parents[2]


def test_sync_creates_configured_phones_and_follows_number_changes(database: Database) -> None:
    phones = (PhoneSettings("01", "+447700900001"), PhoneSettings("02", "+447700900002"))
    with database.session() as session:
        sync_phones(session, phones)
    with database.session() as session:
        sync_phones(session, (phones[0], replace(phones[1], phone="+447700900099")))
    with database.session() as session:
        rows = {p.id: p.phone for p in session.exec(select(Phone))}
    assert rows == {"01": "+447700900001", "02": "+447700900099"}


def test_rows_show_todays_use_against_each_phones_quota(database: Database) -> None:
    settings = load_settings(ROOT / "config.example.toml")
    settings = replace(
        settings,
        phones=(
            PhoneSettings("01", "+447700900001", new_contacts_per_day=20),
            PhoneSettings("02", "+447700900002"),
        ),
    )
    today = date(2026, 11, 22)
    with database.session() as session:
        sync_phones(session, settings.phones)
        session.add(QuotaUsage(phone_id="01", day=today, used=7))
        session.add(QuotaUsage(phone_id="02", day=date(2026, 11, 21), used=9))
    with database.session() as session:
        rows = phone_rows(session, settings, today)
    assert [(r.id, r.used_today, r.quota_today) for r in rows] == [("01", 7, 20), ("02", 0, 200)]


def test_processes_starting_together_do_not_collide(pg_database: Database) -> None:
    """A worker and a scheduler syncing phones at once on a fresh database: no error."""
    import threading

    phones = tuple(PhoneSettings(f"{i:02d}", f"+4477009000{i:02d}") for i in range(1, 21))
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def start() -> None:
        barrier.wait()
        try:
            with pg_database.session() as session:
                sync_phones(session, phones)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with pg_database.session() as session:
        assert len(list(session.exec(select(Phone)))) == 20
