"""``outreach webhook serve --workers 2``: receiver processes on one socket, supervised.

The parent binds the port and starts each receiver as ``outreach webhook serve --fd``
on it (told everything in its arguments, the metrics' folder in its environment). A
receiver killed is replaced while the others keep answering; the metrics of all of
them add up; SIGTERM stops every one cleanly.
"""

from __future__ import annotations

import json
import os
import re
import signal
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from engine.db import Database
from engine.webhook import WEBHOOK_PATH
from tests.e2e.conftest import Services, healthy, wait_until, write_engine_config
from tests.reliability.faults import free_port
from tests.webhook.conftest import body

pytestmark = pytest.mark.slow

SECRET = "processes-secret"
DELIVERIES = 12


def _delivered(metrics: str) -> float:
    """Deliveries counted across every receiver process (all kinds and results)."""
    found = re.findall(r"^outreach_webhook_events_total\{[^}]*\} ([0-9.e+]+)$", metrics, re.M)
    return sum(float(value) for value in found)


def test_receiver_processes_share_the_socket_and_survive_a_kill(
    services: Services, pg_database: Database, pg_url: str, redis_namespace: str, tmp_path: Path
) -> None:
    port = free_port()
    write_engine_config(
        tmp_path, database_url=pg_url, namespace=redis_namespace, base_url="http://127.0.0.1:9",
        epoch=datetime.now(UTC), speed=1.0, phones=["+447700900001"],
        body=f"[webhook]\nport = {port}\nworkers = 2\n",
    )  # fmt: skip
    services.env["OUTREACH_WEBHOOK_SECRET"] = SECRET
    parent = services.start("webhook", "--log-format", "json", "webhook", "serve")
    base = f"http://127.0.0.1:{port}"
    assert wait_until(lambda: healthy(base), 60), services.log("webhook")
    assert wait_until(lambda: len(services.children("webhook")) == 2, 30)
    first, second = services.children("webhook")
    assert "OUTREACH_CONFIG" not in (Path(f"/proc/{first}/environ").read_bytes().decode())
    command = Path(f"/proc/{first}/cmdline").read_bytes().split(b"\0")
    assert b"--fd" in command and b"--log-format" in command

    os.kill(first, signal.SIGKILL)  # the other receiver keeps answering meanwhile
    assert healthy(base)
    assert wait_until(lambda: first not in services.children("webhook"), 10)
    assert wait_until(lambda: len(services.children("webhook")) == 2, 30), services.log("webhook")
    assert second in services.children("webhook")

    for n in range(DELIVERIES):  # a new connection each: the receivers share them out
        payload = body(uid=f"p-{n}", lead=f"+4075{n:07d}", chat_id=None)
        response = httpx.post(
            f"{base}{WEBHOOK_PATH}", params={"secret": SECRET}, content=json.dumps(payload)
        )
        assert response.status_code == 200
    assert _delivered(httpx.get(f"{base}/metrics").text) == DELIVERIES  # all of them, once
    receivers = services.children("webhook")

    assert services.stop("webhook") == 0
    assert parent.returncode == 0
    assert not [pid for pid in receivers if Path(f"/proc/{pid}").exists()]
