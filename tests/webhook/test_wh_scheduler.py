"""The maintenance jobs on their cron schedules: wired once, each runnable, failures logged."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from sqlmodel import select

from engine.alerts import NoAlerts
from engine.clock import FakeClock, SystemClock
from engine.db import Database
from engine.jobs.clocked import ClockedCron
from engine.jobs.runner import MaintenanceJobs, start_jobs
from engine.models import Phone, WebhookEvent
from engine.replies.followups import FollowUp
from engine.timelinesai import MemoryRateLimiter, ServerError
from engine.timelinesai.simulator import (
    SimAccount,
    SimulatorConfig,
    SimulatorHandle,
    running_simulator,
)
from engine.webhook import EventHandler
from engine.workspace_quota import quota_halted
from phones import sync_phones
from tests.webhook.conftest import OURS, write_settings


@pytest.fixture
def sim() -> Iterator[SimulatorHandle]:
    config = SimulatorConfig(accounts=(SimAccount(phone=OURS[0]),), sent_events=False)
    with running_simulator(config) as handle:
        yield handle


@pytest.fixture
def jobs(
    tmp_path: Path, sqlite_database: Database, sim: SimulatorHandle
) -> Iterator[MaintenanceJobs]:
    settings = write_settings(tmp_path)
    with sqlite_database.session() as session:
        sync_phones(session, settings.phones)
    clock = FakeClock(datetime.now(UTC))
    queued: list[FollowUp] = []
    handler = EventHandler(database=sqlite_database, settings=settings,
                           clock=clock, enqueue=queued.append)  # fmt: skip
    with sim.client(limiter=MemoryRateLimiter(10_000), retry_total_s=0.2) as client:
        yield MaintenanceJobs(
            settings, sqlite_database, client, clock, handler, queued.append, NoAlerts()
        )


def test_each_job_runs_at_the_clocks_now(jobs: MaintenanceJobs) -> None:
    with jobs.database.session() as session:
        session.add(WebhookEvent(dedupe_key="old", event_type="x", payload={},
                                 received_at=jobs.clock.now() - timedelta(days=40)))  # fmt: skip
    jobs.phone_sync()  # phone 02 is not in the simulated workspace: offline
    jobs.delivery_sync()
    jobs.prune()
    jobs.replies_sweep()
    jobs.breakers()  # nothing tripped: no phone has history
    with jobs.database.session() as session:
        assert session.exec(select(WebhookEvent)).all() == []
        phone = session.get(Phone, "02")
        assert phone is not None and phone.state == "offline"


def test_the_scheduler_holds_one_job_per_cron_and_survives_a_failure(
    jobs: MaintenanceJobs, caplog: pytest.LogCaptureFixture
) -> None:
    scheduler = start_jobs(jobs, SystemClock())
    try:
        assert sorted(job.id for job in scheduler.get_jobs()) == [
            "breakers", "delivery_sync", "funnel_snapshot", "phone_sync", "prune",
            "replies_sweep", "workspace_quota",
        ]  # fmt: skip
        jobs.client.close()  # every API call now fails
        failing = scheduler.get_job("phone_sync")
        assert failing is not None
        with caplog.at_level(logging.ERROR, logger="outreach.jobs"):
            failing.func()
        assert "scheduler job phone_sync failed" in caplog.text
    finally:
        scheduler.shutdown(wait=False)


class Told:
    """An alert sink that keeps what it was told."""

    def __init__(self) -> None:
        self.told: list[tuple[str, str, str]] = []

    def notify(self, kind: str, message: str, *, severity: str, phone_id: str | None) -> None:
        self.told.append((kind, severity, message))


def test_the_workspace_quota_job_halts_and_lifts_with_an_alert_each_way(
    jobs: MaintenanceJobs, sim: SimulatorHandle, redis_client: redis.Redis,
    redis_namespace: str,
) -> None:  # fmt: skip
    told = Told()
    settings = replace(jobs.settings, redis=replace(jobs.settings.redis, namespace=redis_namespace))
    jobs = replace(jobs, settings=settings, alerts=told, redis_client=redis_client)
    sim.configure(messages_per_month=100)  # 100 left: at the default reserve of 100
    jobs.workspace_quota()
    assert quota_halted(redis_client, redis_namespace)
    jobs.workspace_quota()  # still halted: told once
    sim.configure(messages_per_month=2000)
    jobs.workspace_quota()
    assert not quota_halted(redis_client, redis_namespace)
    assert [(kind, severity) for kind, severity, _ in told.told] == [
        ("workspace_quota", "critical"),
        ("workspace_quota", "info"),
    ]
    assert "only 100 of 100 TimelinesAI workspace messages are left" in told.told[0][2]
    assert "2,000 of 2,000 TimelinesAI workspace messages are left" in told.told[1][2]


def test_a_transient_api_error_in_a_job_is_one_warning_line(
    jobs: MaintenanceJobs, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unavailable() -> None:
        raise ServerError("TimelinesAI answered 503")

    monkeypatch.setattr(jobs.client, "whatsapp_accounts", unavailable)
    scheduler = start_jobs(jobs, SystemClock())
    try:
        job = scheduler.get_job("phone_sync")
        assert job is not None
        with caplog.at_level(logging.INFO):
            job.func()
    finally:
        scheduler.shutdown(wait=False)
    assert [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "outreach.jobs"] == [
        (logging.WARNING, "scheduler job phone_sync failed: ServerError: TimelinesAI answered "
         "503; it runs again at its next time"),
    ]  # fmt: skip
    assert not [r for r in caplog.records if r.exc_info]


EPOCH = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "speed", "real_now", "expected_real"),
    [
        # Speed 1: the plain cron on the wall clock.
        ("*/15 * * * *", 1.0, EPOCH + timedelta(minutes=1), EPOCH + timedelta(minutes=15)),
        # Speed 200: 15 virtual minutes are 4.5 real seconds.
        ("*/15 * * * *", 200.0, EPOCH, EPOCH),  # 09:00 matches: now
        ("*/15 * * * *", 200.0, EPOCH + timedelta(seconds=0.1), EPOCH + timedelta(seconds=4.5)),
        ("*/15 * * * *", 200.0, EPOCH + timedelta(seconds=1), EPOCH + timedelta(seconds=4.5)),
        # Once a day at 03:17 virtual, from 09:00 virtual: 18 h 17 min virtual later.
        ("17 3 * * *", 1000.0, EPOCH, EPOCH + timedelta(hours=18, minutes=17) / 1000),
    ],
)
def test_a_cron_fires_on_the_engines_clock(
    expression: str, speed: float, real_now: datetime, expected_real: datetime
) -> None:
    trigger = ClockedCron(expression, SystemClock(speed, EPOCH))
    assert trigger.get_next_fire_time(None, real_now) == expected_real


def test_after_a_firing_the_next_one_is_one_virtual_period_later() -> None:
    trigger = ClockedCron("*/10 * * * *", SystemClock(600.0, EPOCH))
    first = trigger.get_next_fire_time(None, EPOCH + timedelta(seconds=0.5))
    assert first == EPOCH + timedelta(seconds=1)  # 10 virtual minutes at 600x
    assert trigger.get_next_fire_time(first, first) == EPOCH + timedelta(seconds=2)


@pytest.mark.parametrize("speed", [600.0, 4320.0, 5000.0, 1.0])
def test_successive_firings_always_move_forward(speed: float) -> None:
    """The real image of a cron moment rounds to the microsecond: read back, it can fall
    just before that moment, which must not be fired again (APScheduler loops on it)."""
    clock = SystemClock(speed, EPOCH + timedelta(microseconds=333))
    trigger = ClockedCron("*/5 * * * *", clock)
    fired = trigger.get_next_fire_time(None, EPOCH)
    for _ in range(2000):
        assert fired is not None
        later = trigger.get_next_fire_time(fired, fired)
        assert later is not None and later > fired
        virtual_gap = clock.virtual_time_of(later) - clock.virtual_time_of(fired)
        assert abs(virtual_gap - timedelta(minutes=5)) < timedelta(seconds=1)
        fired = later
