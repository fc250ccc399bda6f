"""The fault tools do what the scenarios rely on: a cut is a real outage, a restart loses data."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
import redis

from tests.conftest import PG_ADMIN_DSN, service_missing
from tests.reliability.faults import RedisServer, proxied


def test_private_redis_flush_and_restart_lose_everything(private_redis: RedisServer) -> None:
    with private_redis.client() as client:
        client.set("k", "v")
        private_redis.flushall()
        assert client.get("k") is None
        client.set("k", "v")
    private_redis.restart()
    with private_redis.client() as client:
        assert client.get("k") is None


def test_private_redis_refuses_while_down(private_redis: RedisServer) -> None:
    private_redis.stop()
    with private_redis.client() as client, pytest.raises(redis.ConnectionError):
        client.ping()
    private_redis.start()


def test_proxy_outage_kills_live_connections_and_refuses_new_ones() -> None:
    params = psycopg.conninfo.conninfo_to_dict(PG_ADMIN_DSN)
    try:
        psycopg.connect(PG_ADMIN_DSN, connect_timeout=5).close()
    except psycopg.OperationalError as error:
        service_missing("PostgreSQL", error)
        raise
    with proxied(str(params.get("host", "127.0.0.1")), int(params.get("port", 5432))) as proxy:
        dsn = psycopg.conninfo.make_conninfo(PG_ADMIN_DSN, port=proxy.port, connect_timeout=2)
        with psycopg.connect(dsn, autocommit=True) as live:
            assert live.execute("SELECT 1").fetchone() == (1,)
            outage = threading.Thread(target=proxy.outage, args=(0.5,))
            outage.start()
            while proxy.cut == 0:  # until the live connection has been closed
                time.sleep(0.005)
            with pytest.raises(psycopg.OperationalError):
                live.execute("SELECT 1")
            with pytest.raises(psycopg.OperationalError):
                psycopg.connect(dsn).close()
            outage.join()
        with psycopg.connect(dsn, autocommit=True) as again:
            assert again.execute("SELECT 2").fetchone() == (2,)
        assert proxy.cut >= 1 and proxy.refused >= 1
