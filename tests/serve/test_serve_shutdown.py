"""``outreach serve`` against PostgreSQL, Redis and the simulator: SIGTERM with a send in flight.

The simulator holds every request for a few seconds, so when SIGTERM arrives the
worker is waiting for TimelinesAI's answer. The send must finish and be recorded
once, its step must advance, the supervisor must exit 0 and leave no process behind.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from engine.db import Database
from engine.models import Enrollment, Lead, Message
from engine.timelinesai.simulator import SimAccount, SimulatorConfig, running_simulator
from tests.e2e.conftest import Services, wait_until
from tests.seed import campaign_id

PHONE = "+447700900001"
LEAD_PHONE = "+40712345678"
TOKEN = "serve-test-token-5c1e"
LATENCY_MS = 3000.0


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OUTREACH_")}
    env.update(
        TIMELINESAI_TOKEN=TOKEN, OUTREACH_WEBHOOK_SECRET="serve-secret", PYTHONUNBUFFERED="1"
    )
    running = Services(tmp_path, env)
    yield running
    running.stop_all()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _write_config(folder: Path, *, database_url: str, namespace: str, base_url: str) -> None:
    (folder / "config.toml").write_text(
        f"""
[database]
url = "{database_url}"
[redis]
namespace = "{namespace}"
[timelinesai]
base_url = "{base_url}"
requests_per_minute = 1000000
timeout_s = 10
[quota]
timezone = "UTC"
warmup = []
[worker]
lease_ttl_s = 30
send_time_limit_s = 15
[breaker]
enabled = false
check_cron = "0 0 1 1 *"
[scheduler]
workspace_quota_cron = "0 0 1 1 *"
dispatch_interval_s = 0.5
[webhook]
host = "127.0.0.1"
port = {_free_port()}
[[phones]]
id = "01"
phone = "{PHONE}"
[sequences.intro]
skip_holidays = false
on_company_reply = "continue"
timezone = "UTC"
[[sequences.intro.steps]]
after = "0m"
template = "Hello {{{{name|there}}}}"
[[sequences.intro.steps]]
after = "2d"
template = "Following up, {{{{name|there}}}}"
"""
    )


def _enroll(database: Database) -> int:
    with database.session() as session:
        cid = campaign_id(session, "intro")
        lead = Lead(phone=LEAD_PHONE, variables={"name": "Ana"})
        session.add(lead)
        session.flush()
        assert lead.id is not None
        enrollment = Enrollment(
            lead_id=lead.id,
            campaign_id=cid,
            sequence="intro",
            due_at=datetime.now(UTC) - timedelta(minutes=1),
        )
        session.add(enrollment)
        session.flush()
        assert enrollment.id is not None
        return enrollment.id


def _group_alive(group: int) -> list[int]:
    """Pids still in process group ``group``, read from /proc (zombies count as gone)."""
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == group and fields[0] != "Z":
            alive.append(int(entry.name))
    return alive


def test_sigterm_with_a_send_in_flight_finishes_it_and_exits_clean(
    services: Services, pg_database: Database, pg_url: str, redis_namespace: str, tmp_path: Path
) -> None:
    enrollment_id = _enroll(pg_database)
    sim_config = SimulatorConfig(
        accounts=(SimAccount(phone=PHONE),), latency_ms=(LATENCY_MS, LATENCY_MS), sent_events=False
    )
    with running_simulator(sim_config) as sim:
        _write_config(
            tmp_path, database_url=pg_url, namespace=redis_namespace, base_url=sim.base_url
        )
        process = services.start(
            "serve", "--log-format", "json", "serve", "--workers-processes", "1", "--threads", "2"
        )
        assert wait_until(lambda: len(sim.sends()) == 1, 60), services.log("serve")
        assert sim.sends()[0].status_code is None  # not answered yet: the send is in flight
        assert process.poll() is None, services.log("serve")
        process.terminate()
        status = process.wait(LATENCY_MS / 1000 + 30)
        output = services.log("serve")
        assert status == 0, output
        assert _group_alive(process.pid) == [], output
        assert len(sim.sends()) == 1

    with pg_database.session() as session:
        messages = list(session.exec(select(Message).where(Message.enrollment_id == enrollment_id)))
        enrollment = session.get(Enrollment, enrollment_id)
    assert [(m.step, m.direction) for m in messages] == [(0, "out")], output
    assert enrollment is not None and enrollment.step == 1, output

    records = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert records, output
    assert {"time", "level", "logger", "message", "process"} <= set(records[0])
    assert TOKEN not in output
    assert LEAD_PHONE not in output and LEAD_PHONE[1:] not in output
    assert len({record["process"] for record in records}) > 1  # the children log JSON too
