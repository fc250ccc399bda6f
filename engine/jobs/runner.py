"""The scheduler's maintenance jobs on APScheduler, each on its ``[scheduler]`` cron (UTC),
read on the engine's clock (:mod:`engine.jobs.clocked`), so a sped-up run keeps them.

``outreach scheduler`` runs these beside its dispatcher loop. The dispatcher itself
(every ``dispatch_interval_s``) also hands steps stuck in ``sending`` back to their
actor, which reconciles them against the chat history before anything is re-sent.
A job that fails logs one line and runs again at its next time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from apscheduler.schedulers.background import BackgroundScheduler

from engine.alerts import AlertSink, NoAlerts, WebhookAlerts
from engine.broker import build_broker
from engine.clock import Clock
from engine.db import Database
from engine.funnel_snapshots import live_funnels, messages_estimate, save_funnel_snapshot
from engine.jobs.breaker import check_breakers
from engine.jobs.clocked import ClockedCron, MappedClock
from engine.jobs.delivery_sync import sync_delivery
from engine.jobs.housekeeping import prune_webhook_events, sweep_follow_ups
from engine.jobs.phone_sync import sync_phone_states
from engine.jobs.workspace_quota import check_workspace_quota
from engine.replies.actors import declare_reply_actors
from engine.replies.followups import Enqueue
from engine.runtime import build_call_budget, build_client, build_redis
from engine.settings import Settings
from engine.states import WORKSPACE_QUOTA
from engine.timelinesai import MonthlyBudget, TimelinesAIClient, TransientError
from engine.webhook.handlers import EventHandler
from engine.webhook.store import alert_severity
from engine.workspace_quota import describe_reading

if TYPE_CHECKING:
    import redis

log = logging.getLogger("outreach.jobs")

SWEEP_AFTER_S = 300.0  # virtual seconds a follow-up may take before it is queued again
SWEEP_AFTER_REAL_S = 30.0  # and real ones: on a sped-up clock, work takes real time


@dataclass
class MaintenanceJobs:
    """The jobs with what they need; each method is one run at the clock's now."""

    settings: Settings
    database: Database
    client: TimelinesAIClient
    clock: Clock
    handler: EventHandler
    enqueue: Enqueue
    alerts: AlertSink
    budget: MonthlyBudget | None = None
    redis_client: redis.Redis | None = None

    def phone_sync(self) -> None:
        for change in sync_phone_states(
            self.clock.now(), self.client, self.database, self.settings
        ):
            log.warning(change.message)
            self.alerts.notify(
                change.alert_kind, change.message,
                severity=alert_severity(change.after), phone_id=change.phone_id,
            )  # fmt: skip

    def breakers(self) -> None:
        for change in check_breakers(self.clock.now(), self.database, self.settings):
            if change.kind is None:
                log.info(change.message)
                continue
            log.warning(change.message)
            self.alerts.notify(
                change.kind, change.message, severity=change.severity, phone_id=change.phone_id
            )

    def delivery_sync(self) -> None:
        report = sync_delivery(
            self.clock.now(), self.client, self.database, self.settings, self.handler.handle,
            budget=self.budget,
        )  # fmt: skip
        if report.skipped_for_budget:
            log.warning("delivery sync skipped: most of the month's API calls are used")
            return
        log.info(
            "delivery sync: %d chats read, %d statuses updated, %d missed replies applied, "
            "%d chats left for the next run, %d errors",
            report.chats, report.updated, report.replies_found, report.chats_left, report.errors,
        )  # fmt: skip

    def workspace_quota(self) -> None:
        """Read the workspace's messages; halt or resume sending (needs Redis, where the
        reading and the halt are kept: :func:`build_maintenance_jobs` always gives it)."""
        if self.redis_client is None:
            return
        check = check_workspace_quota(
            self.clock.now(), self.client, self.redis_client, self.database, self.settings
        )
        log.info("%s", describe_reading(check.reading, check.reading.read_at))
        if check.message is not None:
            severity = "critical" if check.halted else "info"
            log.log(logging.ERROR if check.halted else logging.WARNING, check.message)
            self.alerts.notify(WORKSPACE_QUOTA, check.message, severity=severity, phone_id=None)

    def funnel_snapshot(self) -> None:
        """Store every campaign's funnels for ``outreach status`` (no API call), once the
        messages are too many for status to group them itself (below that, one index
        lookup and nothing written)."""
        limit = self.settings.scheduler.live_funnel_max_messages
        with self.database.engine.begin() as connection:
            if live_funnels(messages_estimate(connection), limit):
                return
            stored = save_funnel_snapshot(connection, self.clock.now())
        log.info("funnel snapshot: %d campaigns", stored)

    def prune(self) -> None:
        removed = prune_webhook_events(
            self.database, self.clock.now(), self.settings.webhook.retention_days
        )
        log.info("pruned %d webhook events", removed)

    def replies_sweep(self) -> None:
        queued = sweep_follow_ups(
            self.database,
            self.enqueue,
            self.clock.now(),
            older_than_s=max(SWEEP_AFTER_S, SWEEP_AFTER_REAL_S * self.clock.speed),
        )
        if queued:
            log.warning("queued %d lost reply follow-ups again", queued)


def build_maintenance_jobs(settings: Settings, database: Database, clock: Clock) -> MaintenanceJobs:
    """Wire the jobs: Redis, the TimelinesAI client, the ``replies`` queue, the reply handler."""
    redis_client = build_redis(settings)
    client = build_client(settings, redis_client, clock=clock)
    enqueue = declare_reply_actors(build_broker(settings), settings, None).enqueue
    handler = EventHandler(database=database, settings=settings, clock=clock, enqueue=enqueue)
    url = settings.alerts.webhook_url
    alerts = WebhookAlerts(url) if url else NoAlerts()
    budget = build_call_budget(settings, redis_client, clock)
    return MaintenanceJobs(
        settings, database, client, clock, handler, enqueue, alerts, budget, redis_client
    )


def start_jobs(jobs: MaintenanceJobs, clock: MappedClock) -> BackgroundScheduler:
    """Start the jobs in a background scheduler on ``clock`` (``shutdown()`` stops it)."""
    scheduler = BackgroundScheduler(timezone="UTC")
    config = jobs.settings.scheduler
    plan: dict[str, tuple[str, Callable[[], None]]] = {
        "phone_sync": (config.phone_sync_cron, jobs.phone_sync),
        "delivery_sync": (config.delivery_sync_cron, jobs.delivery_sync),
        "breakers": (jobs.settings.breaker.check_cron, jobs.breakers),
        "prune": (config.prune_cron, jobs.prune),
        "replies_sweep": (config.replies_sweep_cron, jobs.replies_sweep),
        "workspace_quota": (config.workspace_quota_cron, jobs.workspace_quota),
        "funnel_snapshot": (config.funnel_snapshot_cron, jobs.funnel_snapshot),
    }
    for name, (expression, function) in plan.items():
        scheduler.add_job(
            _logged(name, function),
            ClockedCron(expression, clock),
            id=name,
            name=name,
            max_instances=1,
            coalesce=True,
            # Real seconds a late run may still start (a busy process); coalesced after.
            misfire_grace_time=300,
        )
    scheduler.start()
    return scheduler


def _logged(name: str, function: Callable[[], None]) -> Callable[[], None]:
    def run() -> None:
        try:
            function()
        except Exception as error:  # one line, then the next run: a job never stops the rest
            # An API hiccup (5xx, timeout, a full rate limiter) passes by the next run.
            level = logging.WARNING if isinstance(error, TransientError) else logging.ERROR
            log.log(
                level, "scheduler job %s failed: %s: %s; it runs again at its next time",
                name, type(error).__name__, error,
            )  # fmt: skip

    return run
