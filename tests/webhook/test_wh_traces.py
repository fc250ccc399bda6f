"""Traces of a webhook event: one trace from the receiver's handling through the outbox's
thread to the ``replies`` actor that classifies the reply."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dramatiq
import httpx
import redis
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import CurrentMessage

from engine.db import Database
from engine.replies.actors import declare_reply_actors
from engine.replies.followups import CLASSIFY_REPLY, REPLIES_QUEUE
from engine.webhook import create_app
from engine.webhook.outbox import Outbox
from phones import sync_phones
from tests.serving import serving
from tests.webhook.conftest import LEAD, START, Receiver, body, write_settings


class Jobs:
    def __init__(self) -> None:
        self.classified: list[int] = []

    def classify_reply(self, message_id: int) -> None:
        self.classified.append(message_id)

    def check_sent_message(self, event_id: int) -> None:
        raise AssertionError("not queued here")

    def notify_alert(self, kind: str, message: str, severity: str, phone_id: str | None) -> None:
        raise AssertionError("not queued here")


def receiving(
    tmp_path: Path, database: Database, redis_client: redis.Redis, broker: StubBroker, jobs: Jobs
) -> Iterator[tuple[Receiver, Outbox]]:
    from engine.clock import FakeClock

    settings = write_settings(tmp_path)
    with database.session() as session:
        sync_phones(session, settings.phones)
    actors = declare_reply_actors(broker, settings, jobs)
    outbox = Outbox(actors.enqueue)
    clock = FakeClock(START)
    app = create_app(database, redis_client, settings, outbox.put, clock=clock)
    with serving(app) as url, httpx.Client(base_url=url, timeout=10.0) as client:
        yield Receiver(settings, database, client, clock, app=app), outbox


def test_one_webhook_event_is_one_trace_through_the_replies_queue(
    recorded_spans: Any, tmp_path: Path, sqlite_database: Database, redis_client: redis.Redis
) -> None:
    broker = StubBroker()
    broker.add_middleware(CurrentMessage())
    jobs = Jobs()
    for receiver, outbox in receiving(tmp_path, sqlite_database, redis_client, broker, jobs):
        receiver.enroll()
        answer = receiver.post(body(text="Tell me more about the price"))
        assert answer.status_code == 200
        outbox.close()
    worker = dramatiq.Worker(broker, worker_timeout=50)
    worker.start()
    try:
        broker.join(REPLIES_QUEUE, timeout=5000)
        worker.join()
    finally:
        worker.stop()
        broker.close()
    assert len(jobs.classified) == 1
    spans = recorded_spans.get_finished_spans()
    by_name = {span.name: span for span in spans}
    event, enqueue = by_name["webhook.event"], by_name["webhook.enqueue"]
    classify = by_name[f"replies.{CLASSIFY_REPLY}"]
    assert event.parent is None
    assert enqueue.parent is not None and enqueue.parent.span_id == event.context.span_id
    assert classify.parent is not None and classify.parent.span_id == enqueue.context.span_id
    assert event.context.trace_id == enqueue.context.trace_id == classify.context.trace_id
    assert dict(event.attributes) == {"event_type": "message:received:new", "result": "processed"}
    assert classify.attributes["message_id"] == jobs.classified[0]
    for span in spans:
        for value in span.attributes.values():
            assert LEAD.lstrip("+") not in str(value)
            assert "price" not in str(value)
