"""Running an app factory on uvicorn, in one or several processes, on a socket made here.

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
from uvicorn.supervisors import Multiprocess

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


def serve_factory(
    factory: str, *, host: str, port: int, workers: int, log_level: str = "info"
) -> None:
    """Serve ``factory`` (``module:function`` returning an ASGI app) until interrupted.

    Access logging is off: access lines carry the query string, and so the webhook's
    secret.
    """
    config = uvicorn.Config(
        factory,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_level=log_level,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.set_inheritable(True)
    try:
        if workers > 1:
            Multiprocess(config, sockets=[listener]).run()
        else:
            uvicorn.Server(config).run(sockets=[listener])
    finally:
        listener.close()
