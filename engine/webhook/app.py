"""The receiver: a FastAPI app for TimelinesAI's webhooks, health and metrics.

``POST /webhooks/timelinesai?secret=...`` takes every event type: the secret is
compared in constant time before anything is read (401, nothing stored), the body
is capped at 1 MB (413), parsed (400, 422), and applied in a worker thread that
waits for no phone. Only a database outage answers 503 so TimelinesAI retries:
nothing is ever answered 2xx that was not committed, and a Redis outage costs no
event (the work queued after the commit is queued again by the scheduler's sweep).
``GET /healthz`` checks the database and Redis (503 only without the database);
``GET /metrics`` serves Prometheus metrics.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated

import redis
from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.concurrency import run_in_threadpool

from engine.clock import Clock, SystemClock
from engine.db import Database
from engine.replies.followups import Enqueue
from engine.settings import Settings
from engine.webhook.errors import WebhookError
from engine.webhook.handlers import EventHandler
from engine.webhook.metrics import EngineState, WebhookMetrics
from engine.webhook.payloads import AccountEvent, Event, MessageEvent, parse_body, parse_event
from engine.webhook.schema import REQUEST_BODY, RESPONSES

log = logging.getLogger("outreach.webhook")

WEBHOOK_PATH = "/webhooks/timelinesai"
MAX_BODY_BYTES = 1024 * 1024
RETRY_AFTER_S = "5"
# The database is down or saturated: TimelinesAI should retry, not give up.
_UNAVAILABLE = (OperationalError, InterfaceError, DisconnectionError, PoolTimeout)


class _TooLargeError(Exception):
    pass


def create_app(
    database: Database,
    redis_client: redis.Redis,
    settings: Settings,
    enqueue: Enqueue,
    *,
    clock: Clock | None = None,
    multiprocess_dir: str | None = None,
    on_shutdown: Callable[[], None] | None = None,
) -> FastAPI:
    """The receiver's app. ``settings.webhook.secret`` must be set (``OUTREACH_WEBHOOK_SECRET``).

    ``enqueue`` hands follow-up work on after a commit (the server passes an
    :class:`~engine.webhook.outbox.Outbox`'s ``put``, so no answer waits for Redis);
    ``on_shutdown`` runs when the server stops (the outbox's ``close``).
    """
    secret = settings.webhook.secret
    if not secret:
        raise ValueError("the webhook secret is not set")
    expected = secret.encode()
    clock = clock or SystemClock(settings.clock.speed, settings.clock.epoch)
    handler = EventHandler(database=database, settings=settings, clock=clock, enqueue=enqueue)
    metrics = WebhookMetrics(
        EngineState(database, redis_client, settings, clock), multiprocess_dir=multiprocess_dir
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if on_shutdown is not None:
            await run_in_threadpool(on_shutdown)

    app = FastAPI(
        title="outreach webhook receiver",
        description="Receives TimelinesAI webhooks: replies, sent messages, account states.",
        version="1",
        lifespan=lifespan,
    )
    app.state.handler = handler
    app.state.metrics = metrics

    @app.post(WEBHOOK_PATH, openapi_extra={"requestBody": REQUEST_BODY}, responses=RESPONSES)
    async def receive(
        request: Request,
        secret: Annotated[
            str | None, Query(description="The secret registered with the URL.")
        ] = None,
    ) -> JSONResponse:
        """Take one TimelinesAI event (any type, either payload layout)."""
        started = time.perf_counter()
        kind, result = "invalid", "rejected"
        try:
            if secret is None or not hmac.compare_digest(secret.encode(errors="replace"), expected):
                return _answer(401, "missing or wrong secret")
            payload = parse_body(await _read_body(request))
            event = parse_event(payload)
            kind = _kind(event)
            outcome = await run_in_threadpool(handler.handle, event, payload)
            result = outcome.result
            return JSONResponse({"ok": True, "result": outcome.result, "detail": outcome.detail})
        except _TooLargeError:
            return _answer(413, f"the body is over {MAX_BODY_BYTES} bytes")
        except WebhookError as error:
            return _answer(error.status_code, str(error))
        except _UNAVAILABLE as error:
            result = "unavailable"
            log.warning("webhook answered 503: %s", type(error).__name__)
            return _answer(503, "the database is unavailable; retry")
        finally:
            metrics.observe(kind, result, time.perf_counter() - started)

    @app.get("/healthz", responses={503: {"description": "The database is down"}})
    def healthz() -> JSONResponse:
        """Whether the database and Redis answer: 503 only without the database, the one
        thing the receiver cannot take an event without (``degraded`` without Redis)."""
        checks = {"database": _check_database(database), "redis": _check_redis(redis_client)}
        if checks["database"] != "ok":
            status, code = "unavailable", 503
        else:
            status, code = ("ok" if checks["redis"] == "ok" else "degraded"), 200
        return JSONResponse({"status": status, **checks}, status_code=code)

    @app.get("/metrics", response_class=Response)
    def metrics_endpoint() -> Response:
        """Prometheus metrics: sends, failures, quotas, queues, webhook latency, replies."""
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    return app


async def _read_body(request: Request) -> bytes:
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_BODY_BYTES:
        raise _TooLargeError
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _TooLargeError
        chunks.append(chunk)
    return b"".join(chunks)


def _answer(status_code: int, detail: str) -> JSONResponse:
    headers = {"Retry-After": RETRY_AFTER_S} if status_code == 503 else None
    return JSONResponse({"detail": detail}, status_code=status_code, headers=headers)


def _kind(event: Event) -> str:
    if isinstance(event, MessageEvent):
        return "sent" if event.from_me else "received"
    return "account" if isinstance(event, AccountEvent) else "other"


def _check_database(database: Database) -> str:
    try:
        with database.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        return f"unreachable: {type(error).__name__}"
    return "ok"


def _check_redis(client: redis.Redis) -> str:
    try:
        client.ping()
    except redis.RedisError as error:
        return f"unreachable: {type(error).__name__}"
    return "ok"
