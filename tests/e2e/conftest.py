"""Real processes for end-to-end tests: ``outreach`` services started as subprocesses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from engine.db import Database
from engine.models import Enrollment, Lead
from sequences import RUNNING_STATES
from tests.conftest import REDIS_URL
from tests.seed import campaign_id

OUTREACH = [sys.executable, "-m", "cli"]


def write_engine_config(
    folder: Path,
    *,
    database_url: str,
    namespace: str,
    base_url: str,
    epoch: datetime,
    speed: float,
    phones: Sequence[str],
    body: str,
    redis_url: str = REDIS_URL,
) -> Path:
    """``config.toml`` for real ``outreach`` processes: the shared frame plus ``body``.

    The frame points at the test's database, Redis namespace and simulator, lifts the
    API rate limit (the simulator has none) and runs the clock at ``speed`` from a
    shared ``epoch``; ``body`` holds the test's own pacing, quotas and sequences.
    """
    numbers = "\n".join(
        f'[[phones]]\nid = "{i:02d}"\nphone = "{p}"' for i, p in enumerate(phones, 1)
    )
    path = folder / "config.toml"
    path.write_text(
        f"""
[database]
url = "{database_url}"
[redis]
url = "{redis_url}"
namespace = "{namespace}"
[timelinesai]
base_url = "{base_url}"
requests_per_minute = 1000000
timeout_s = 5
[clock]
speed = {speed}
epoch = {epoch.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
{body.strip()}
{numbers}
"""
    )
    return path


class Services:
    """Starts ``outreach`` commands as child processes and stops every one of them."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.folder = folder
        self.env = env
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        with (self.folder / f"{name}.log").open("wb") as log:  # the child keeps its own copy
            process = subprocess.Popen(
                [*OUTREACH, *args], cwd=self.folder, env=self.env, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        self.processes[name] = process
        return process

    def children(self, name: str) -> list[int]:
        """The pids of a supervisor's worker processes (not multiprocessing's resource
        tracker, which is a child too, and the first one)."""
        output = subprocess.run(
            ["pgrep", "-P", str(self.processes[name].pid)],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        pids = []
        for pid in output.split():
            try:
                command = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue  # gone meanwhile
            if b"resource_tracker" not in command:
                pids.append(int(pid))
        return pids

    def stop(self, name: str, timeout_s: float = 30.0) -> int | None:
        process = self.processes.pop(name)
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        return process.returncode

    def stop_all(self) -> None:
        for name in list(self.processes):
            self.stop(name)

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OUTREACH_")}
    env.update(TIMELINESAI_TOKEN="e2e-token", OUTREACH_LOG_LEVEL="WARNING", PYTHONUNBUFFERED="1")
    running = Services(tmp_path, env)
    yield running
    running.stop_all()


def wait_until(predicate: object, timeout_s: float, interval_s: float = 0.25) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(interval_s)
    return False


def epoch_for(virtual_now: datetime, speed: float, real_now: datetime) -> datetime:
    """The clock epoch at which the virtual clock reads ``virtual_now`` at ``real_now``.

    The clock is ``virtual = epoch + (real - epoch) * speed``; solving for ``epoch``.
    """
    return real_now + (real_now - virtual_now) / (speed - 1)


def seed_campaign(
    database: Database, leads: int, due_at: datetime, *, prefix: str = "+407",
    sequence: str = "intro",
) -> list[str]:  # fmt: skip
    """An active campaign of ``sequence`` and ``leads`` leads enrolled in it, their first
    step due at ``due_at``; the leads' numbers (``prefix`` then digits, 12 characters)."""
    numbers = [f"{prefix}{index:0{12 - len(prefix)}d}" for index in range(leads)]
    with database.session() as session:
        cid = campaign_id(session, sequence)
        rows = [
            Lead(phone=number, variables={"name": f"Lead{index}", "company": "Acme"})
            for index, number in enumerate(numbers)
        ]
        session.add_all(rows)
        session.flush()
        session.add_all(
            Enrollment(lead_id=lead.id, campaign_id=cid, sequence=sequence, due_at=due_at)
            for lead in rows
        )
    return numbers


def running(database: Database) -> int:
    """Enrollments still running (``pending`` or ``active``)."""
    with database.engine.connect() as connection:
        return int(
            connection.execute(
                select(func.count())
                .select_from(Enrollment)
                .where(Enrollment.state.in_(sorted(RUNNING_STATES)))  # type: ignore[attr-defined]
            ).scalar_one()
        )


def end_states(database: Database) -> Counter[str]:
    """How many enrollments are in each state."""
    with database.engine.connect() as connection:
        rows = connection.execute(
            select(Enrollment.state, func.count()).group_by(Enrollment.state)  # type: ignore[arg-type]
        ).all()
    return Counter({str(state): int(count) for state, count in rows})


def healthy(base_url: str) -> bool:
    """Whether the receiver at ``base_url`` answers its health check."""
    try:
        return httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
