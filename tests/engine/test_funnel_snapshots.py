"""The funnels' snapshot: the rule that picks live or stored funnels, the scheduler's job
storing what the live query computes, and ``outreach status`` reading one or the other;
on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlmodel import select

from engine.db import Database
from engine.funnel_snapshots import (
    funnels_age,
    live_funnels,
    messages_estimate,
    save_funnel_snapshot,
    saved_campaign_status,
)
from engine.models import Enrollment, Message
from engine.reports import campaign_status
from engine.settings import SchedulerSettings, Settings
from engine.snapshot import collect
from tests.engine.test_reports import NOW, seed


@pytest.mark.parametrize(
    ("messages", "limit", "live"),
    [
        (0, 200_000, True),
        (199_999, 200_000, True),
        (200_000, 200_000, False),
        (10_000_000, 200_000, False),
        (0, 0, False),  # 0: always the snapshot
    ],
)
def test_funnels_are_live_below_the_limit_and_the_snapshot_from_it(
    messages: int, limit: int, live: bool
) -> None:
    assert live_funnels(messages, limit) is live


def test_the_age_says_when_or_how_to_make_one() -> None:
    assert funnels_age(NOW - timedelta(minutes=3), NOW) == "funnels as of 10:27 UTC, 3 min ago"
    assert "outreach status --refresh-funnels" in funnels_age(None, NOW)


def test_the_snapshot_holds_what_the_live_query_computes(database: Database) -> None:
    seed(database)
    with database.engine.begin() as connection:
        live = campaign_status(connection)
        assert save_funnel_snapshot(connection, NOW) == 2
        saved, as_of = saved_campaign_status(connection)
    assert as_of == NOW
    assert [s.as_dict() for s in saved] == [s.as_dict() for s in live]
    assert live[0].steps and live[0].phones and live[0].variants and live[0].replied_leads
    # A second run replaces the first.
    with database.engine.begin() as connection:
        save_funnel_snapshot(connection, NOW + timedelta(minutes=5))
        again, as_of = saved_campaign_status(connection)
    assert as_of == NOW + timedelta(minutes=5)
    assert [s.as_dict() for s in again] == [s.as_dict() for s in live]


def test_without_a_snapshot_the_campaigns_show_empty_funnels(database: Database) -> None:
    seed(database)
    with database.engine.connect() as connection:
        saved, as_of = saved_campaign_status(connection)
        assert messages_estimate(connection) > 0
    assert as_of is None
    assert [s.name for s in saved] == ["intro", "other"]
    assert all(not s.steps and not s.states for s in saved)


def _one_more_send(database: Database) -> None:
    with database.session() as session:
        queued = select(Enrollment).where(Enrollment.step_state == "queued")
        enrollment = session.exec(queued).first()
        assert enrollment is not None
        session.add(
            Message(direction="out", enrollment_id=enrollment.id, step=0,
                    lead_id=enrollment.lead_id, phone_id="01", status="sent", sent_at=NOW)
        )  # fmt: skip


def _settings(limit: int) -> Settings:
    return Settings(scheduler=replace(SchedulerSettings(), live_funnel_max_messages=limit))


def test_status_groups_live_below_the_limit_and_reads_the_snapshot_above(
    database: Database,
) -> None:
    seed(database)
    with database.engine.begin() as connection:
        save_funnel_snapshot(connection, NOW - timedelta(minutes=3))
    _one_more_send(database)
    later = NOW
    live = collect(database, _settings(200_000), later)
    assert live.campaigns[0].steps[0].sent == 5
    assert live.funnels_as_of == later
    assert not any("funnels" in note for note in live.notes)

    stored = collect(database, _settings(1), later)
    assert stored.campaigns[0].steps[0].sent == 4  # as the snapshot saw it
    assert stored.funnels_as_of == NOW - timedelta(minutes=3)
    assert "funnels as of 10:27 UTC, 3 min ago" in stored.notes


def test_status_says_how_to_make_a_snapshot_when_there_is_none(database: Database) -> None:
    seed(database)
    shown = collect(database, _settings(1), NOW)
    assert shown.funnels_as_of is None
    assert any("--refresh-funnels" in note for note in shown.notes)
    assert [s.name for s in shown.campaigns] == ["intro", "other"]


def test_the_scheduler_job_stores_the_snapshot_once_status_needs_it(database: Database) -> None:
    from engine.clock import FakeClock
    from engine.jobs.runner import MaintenanceJobs

    seed(database)

    def run(limit: int) -> None:
        # Only the database and the clock: the job makes no API call.
        jobs = MaintenanceJobs(_settings(limit), database, None, FakeClock(NOW), None, None, None)  # type: ignore[arg-type]
        jobs.funnel_snapshot()

    run(200_000)  # few messages: status groups them itself, nothing is stored
    with database.engine.connect() as connection:
        assert saved_campaign_status(connection)[1] is None
    run(1)
    with database.engine.connect() as connection:
        _, as_of = saved_campaign_status(connection)
    assert as_of == NOW
