"""Serving the receiver on uvicorn, on a socket made here.

uvicorn binds its own sockets without saying ``IPPROTO_TCP``, and asyncio turns Nagle's
algorithm off only on sockets that say it: a response written in two parts (headers,
then body) then waits for the client's delayed ACK, about 40 ms on Linux. The
listener made here says TCP, so every accepted connection answers at once.
"""

from __future__ import annotations

import socket

import redis
import uvicorn
from redis.backoff import NoBackoff
from redis.retry import Retry
from starlette.types import ASGIApp

from engine.errors import ServiceUnavailableError

GRACEFUL_SHUTDOWN_S = 5
REDIS_TIMEOUT_S = 1.0


def receiver_redis(url: str) -> redis.Redis:
    """A Redis client that fails within about a second when Redis is down.

    redis-py's default retries with backoff take about 4 s to give up: the receiver
    must answer 503 well inside TimelinesAI's 5 s, and ``/healthz`` must say so fast.
    """
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=REDIS_TIMEOUT_S,
        socket_timeout=REDIS_TIMEOUT_S,
        retry=Retry(NoBackoff(), 1),
        health_check_interval=30,
    )


def bind_listener(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` for uvicorn to listen on (see the module doc);
    :class:`~engine.errors.ServiceUnavailableError` in one line when the port is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as error:
        listener.close()
        raise ServiceUnavailableError(f"cannot listen on {host}:{port}: {error.strerror}") from None
    return listener


def uvicorn_config(app: ASGIApp, *, proxy_headers: bool = True) -> uvicorn.Config:
    """uvicorn's settings for the receiver. Access logging is off: access lines carry the
    query string, and so the webhook's secret. uvicorn configures no logging of its own
    (``log_config=None``): its records go through the process's handlers, which redact
    numbers and write JSON when asked (:func:`engine.logs.configure_logging`)."""
    return uvicorn.Config(
        app, access_log=False, log_config=None, timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        proxy_headers=proxy_headers,
    )  # fmt: skip


def serve_app(app: ASGIApp, listener: socket.socket, *, proxy_headers: bool = True) -> None:
    """Serve ``app`` on ``listener`` until SIGTERM or SIGINT, then finish the requests in
    flight (up to a few seconds). ``proxy_headers``: believe ``X-Forwarded-For`` from a
    proxy on this host (uvicorn's default)."""
    uvicorn.Server(uvicorn_config(app, proxy_headers=proxy_headers)).run(sockets=[listener])
