"""Issue 5's proof: real worker processes, PostgreSQL, Redis and the simulator, a SIGKILL midway.

Three worker processes (one supervisor), a scheduler, 5 phones with a small quota,
260 leads through a 2-step sequence (520 sends) with the clock at 5000x: jitter of
30-60 s is 6-12 ms, a quota day is about 17 s. One worker process is killed with
SIGKILL after about 150 sends. Everything is then checked from the simulator's log.
"""

from __future__ import annotations

import os
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlmodel

from engine.db import Database
from engine.invariants import accepted_sends, check
from engine.models import Enrollment
from engine.timelinesai.simulator import SimAccount, SimulatorConfig, running_simulator
from tests.e2e.conftest import Services, running, seed_campaign, wait_until, write_engine_config

SPEED = 5000.0
PHONES = [f"+4477009000{i:02d}" for i in range(1, 6)]
LEADS = 260
QUOTA = 40
LEASE_TTL_S = 3.0


def write_config(
    folder: Path, *, database_url: str, namespace: str, base_url: str, epoch: datetime
) -> Path:
    return write_engine_config(
        folder, database_url=database_url, namespace=namespace, base_url=base_url,
        epoch=epoch, speed=SPEED, phones=PHONES,
        body=f"""
[pacing]
jitter_min_s = 30
jitter_max_s = 60
[quota]
new_contacts_per_day = {QUOTA}
timezone = "UTC"
warmup = []
[worker]
lease_ttl_s = {LEASE_TTL_S}
send_time_limit_s = 2
reconcile_after_s = 600
[breaker]
enabled = false
check_cron = "0 0 1 1 *"
[scheduler]
workspace_quota_cron = "0 0 1 1 *"
dispatch_interval_s = 1000
requeue_after_s = 5000
[sequences.intro]
skip_holidays = false
on_company_reply = "continue"
timezone = "UTC"
[[sequences.intro.steps]]
after = "0m"
template = "{{Hi|Hello}} {{{{name|there}}}}, a question for {{{{company|you}}}} [s0]"
[[sequences.intro.steps]]
after = "10m"
template = "Following up, {{{{name|there}}}} [s1]"
""",
    )  # fmt: skip


def test_workers_killed_midway_keep_every_invariant(
    services: Services, pg_database: Database, pg_url: str, redis_namespace: str, tmp_path: Path
) -> None:
    epoch = datetime.now(UTC)
    seed_campaign(pg_database, LEADS, epoch - timedelta(hours=1))
    # The simulator shares the engine's clock: reconciling a send cut off by the kill
    # compares chat-history timestamps with the engine's (virtual) time.
    sim_config = SimulatorConfig(
        accounts=tuple(SimAccount(phone=p) for p in PHONES), sent_events=False,
        speed=SPEED, epoch=epoch,
    )  # fmt: skip
    with running_simulator(sim_config) as sim:
        write_config(
            tmp_path,
            database_url=pg_url,
            namespace=redis_namespace,
            base_url=sim.base_url,
            epoch=epoch,
        )
        services.start("scheduler", "scheduler")
        services.start("workers", "worker", "--processes", "3", "--threads", "2")
        logs = lambda: services.log("scheduler") + services.log("workers")  # noqa: E731
        assert wait_until(lambda: len(sim.sends()) >= 150, 180), logs()
        workers = services.children("workers")
        assert len(workers) == 3, workers
        os.kill(workers[0], signal.SIGKILL)
        killed_at = datetime.now(UTC)
        assert wait_until(lambda: running(pg_database) == 0, 240), logs()
        services.stop("workers")
        services.stop("scheduler")
        log = sim.requests()

    sends = accepted_sends(log)
    report = check(
        sends,
        jitter_min_s=30,
        speed=SPEED,
        epoch=epoch,
        quota_per_day=dict.fromkeys(PHONES, QUOTA),
        quota_timezone="UTC",
    )
    # Every phone with work left sent again within the lease TTL of the kill.
    resumed = {}
    for phone in PHONES:
        later = [s.received_at for s in sends if s.account == phone and s.received_at > killed_at]
        if later:
            resumed[phone] = (min(later) - killed_at).total_seconds()
    with pg_database.session() as session:
        ends = set(session.exec(sqlmodel.select(Enrollment.state)))
    resumed_s = max(resumed.values(), default=0)
    print(f"\ne2e: leads={LEADS} {report.line()} resumed_within_s={resumed_s:.2f}")
    assert report.ok, report.problems[:10]
    assert report.sends == 2 * LEADS  # every lead got both steps, none twice
    assert ends == {"completed"}
    assert resumed, "no phone sent after the kill"
    assert max(resumed.values()) < LEASE_TTL_S + 2.0
