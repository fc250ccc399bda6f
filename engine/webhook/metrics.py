"""Prometheus metrics served by the receiver at ``GET /metrics``.

Two kinds: the receiver's own (request latency, events by kind and result), kept
in the process (and in ``multiprocess_dir`` when uvicorn runs several workers),
and the engine's state (sends, failures, quota use per phone, queue depths, replies
by class, open review flags, the do-not-contact list by reason), read from the database
and Redis at scrape time so every process and host reports the same truth.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import redis
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from engine.broker import all_queues
from engine.broker.index import delayed_key
from engine.clock import Clock
from engine.db import Database
from engine.replies.followups import REPLIES_QUEUE
from engine.settings import Settings
from engine.states import Direction
from engine.tables import M, P, Q, R, S
from phones.quota import daily_quota, quota_day

log = logging.getLogger("outreach.webhook")

LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class WebhookMetrics:
    """The receiver's own metrics; ``render`` adds the engine's state at scrape time."""

    def __init__(self, state: Collector | None = None, multiprocess_dir: str | None = None) -> None:
        self.registry = CollectorRegistry()
        self._multiprocess_dir = multiprocess_dir
        self.latency = Histogram(
            "outreach_webhook_request_seconds",
            "Time to answer one webhook delivery, by event kind.",
            ["kind"],
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self.events = Counter(
            "outreach_webhook_events",
            "Webhook deliveries by event kind and result.",
            ["kind", "result"],
            registry=self.registry,
        )
        self._state = state

    def observe(self, kind: str, result: str, seconds: float) -> None:
        """Count one delivery and its answer time (real seconds)."""
        self.latency.labels(kind).observe(seconds)
        self.events.labels(kind, result).inc()

    def render(self) -> bytes:
        """The exposition text of every metric."""
        if self._multiprocess_dir is None:
            registry = self.registry
        else:
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=self._multiprocess_dir)  # type: ignore[no-untyped-call]
        output = generate_latest(registry)
        if self._state is not None:
            scrape = CollectorRegistry()
            scrape.register(self._state)
            output += generate_latest(scrape)
        return output


class EngineState(Collector):
    """Reads the engine's state for a scrape; a source that is down reports ``up 0``."""

    def __init__(
        self, database: Database, redis_client: redis.Redis, settings: Settings, clock: Clock
    ) -> None:
        self._database = database
        self._redis = redis_client
        self._settings = settings
        self._clock = clock

    def collect(self) -> Iterator[Any]:
        up = GaugeMetricFamily(
            "outreach_metrics_source_up", "Whether a metrics source answered.", labels=["source"]
        )
        try:
            yield from self._from_database()
            up.add_metric(["database"], 1)
        except SQLAlchemyError as error:
            log.warning("metrics: database unavailable: %s", error)
            up.add_metric(["database"], 0)
        try:
            yield self._queue_depths()
            up.add_metric(["redis"], 1)
        except redis.RedisError as error:
            log.warning("metrics: Redis unavailable: %s", error)
            up.add_metric(["redis"], 0)
        yield up

    def _from_database(self) -> Iterator[Any]:
        settings = self._settings
        day = quota_day(self._clock.now(), settings.quota.timezone)
        with self._database.engine.connect() as connection:
            phones = connection.execute(
                select(P.c.id, P.c.state, P.c.sent_total, P.c.failures_total)
            ).all()
            used: dict[str, int] = dict(
                connection.execute(select(Q.c.phone_id, Q.c.used).where(Q.c.day == day)).all()
            )
            replies = connection.execute(
                select(M.c.intent, func.count())
                .where(M.c.direction == Direction.IN)
                .group_by(M.c.intent)
            ).all()
            review_open = connection.execute(
                select(func.count()).select_from(R).where(R.c.resolved_at.is_(None))
            ).scalar_one()
            listed = connection.execute(select(S.c.reason, func.count()).group_by(S.c.reason)).all()
            in_flight = connection.execute(
                select(func.count()).where(
                    M.c.direction == Direction.IN, M.c.in_flight_step.is_not(None)
                )
            ).scalar_one()
        sends = CounterMetricFamily("outreach_sends", "Messages sent, by phone.", labels=["phone"])
        failures = CounterMetricFamily(
            "outreach_send_failures", "Failed send attempts, by phone.", labels=["phone"]
        )
        state = GaugeMetricFamily(
            "outreach_phone_state", "1 for each phone's current state.", labels=["phone", "state"]
        )
        quota_used = GaugeMetricFamily(
            "outreach_quota_used", "New contacts started today, by phone.", labels=["phone"]
        )
        quota_limit = GaugeMetricFamily(
            "outreach_quota_limit", "Today's new-contact quota, by phone.", labels=["phone"]
        )
        limits = {
            phone.id: daily_quota(
                settings.quota_for(phone), started_on=phone.started_on, today=day,
                warmup=settings.quota.warmup,
            )
            for phone in settings.phones
        }  # fmt: skip
        for phone_id, phone_state, sent, failed in phones:
            sends.add_metric([phone_id], sent)
            failures.add_metric([phone_id], failed)
            state.add_metric([phone_id, phone_state], 1)
            quota_used.add_metric([phone_id], used.get(phone_id, 0))
            if phone_id in limits:
                quota_limit.add_metric([phone_id], limits[phone_id])
        by_class = CounterMetricFamily(
            "outreach_replies", "Replies received, by class.", labels=["class"]
        )
        for label, count in replies:
            by_class.add_metric([label or "unclassified"], count)
        review = GaugeMetricFamily("outreach_review_open", "Review flags not yet resolved.")
        review.add_metric([], review_open)
        during = CounterMetricFamily(
            "outreach_sends_in_flight_at_reply",
            "Replies that arrived while a step to their lead was being sent (it finished).",
        )
        during.add_metric([], in_flight)
        # A gauge, not a counter: a number taken off the list by hand leaves it.
        do_not_contact = GaugeMetricFamily(
            "outreach_do_not_contact",
            "Numbers on the do-not-contact list, by reason (not_on_whatsapp: refused by "
            "TimelinesAI as not on WhatsApp).",
            labels=["reason"],
        )
        for reason, count in listed:
            do_not_contact.add_metric([reason], count)
        yield from (
            sends, failures, state, quota_used, quota_limit, by_class, review, during,
            do_not_contact,
        )  # fmt: skip

    def _queue_depths(self) -> GaugeMetricFamily:
        namespace = self._settings.redis.namespace
        queues = [*all_queues(p.id for p in self._settings.phones), REPLIES_QUEUE]
        pipeline = self._redis.pipeline(transaction=False)
        for queue in queues:
            pipeline.llen(f"{namespace}:{queue}")
            if queue == REPLIES_QUEUE:  # Dramatiq's delay queue; a phone queue has its own
                pipeline.llen(f"{namespace}:{queue}.DQ")
            else:
                pipeline.zcard(delayed_key(namespace, queue))
        counts = pipeline.execute()
        depth = GaugeMetricFamily(
            "outreach_queue_depth", "Messages waiting in a queue (ready and delayed).",
            labels=["queue"],
        )  # fmt: skip
        for index, queue in enumerate(queues):
            depth.add_metric([queue], int(counts[2 * index]) + int(counts[2 * index + 1]))
        return depth
