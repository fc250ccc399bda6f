"""API faults: 30% 5xx, bursts of 429, and sends that time out after TimelinesAI recorded them.

``outreach worker --processes 2 --threads 2``, the scheduler, PostgreSQL, Redis and the
simulator sharing the engine's clock at 2000x (a 30-60 s pacing gap is 15-30 ms, the
10-minute follow-up delay 0.3 s). 5 phones, 150 leads (``--scale`` multiplies it)
through a 2-step sequence, so follow-ups (and their reconciliation) meet the faults too. The
simulator answers 30% of requests with a 500, every 25 requests gives a burst of 4
429s, and records 10% of sends but then stalls the answer past the client's 0.5 s
timeout (until 40% of the steps are sent) or breaks the connection off mid-answer (after
that). The engine runs with 2 Dramatiq retries and short backoffs, so a step
that meets three 5xx in a row (about 8 of 300 steps) becomes a dead letter.

Proved from the simulator's request log and the database: no (lead, step) recorded
twice by the simulator (ambiguous sends were reconciled from the chat history, not
resent: the engine's reconciled count covers every timed-out send); every enrollment
ended either ``completed`` or as a dead letter (its step ``failed``, with the error),
and ``outreach dlq list``, run as a real command on the same config, lists exactly
those; the steps the database holds as sent are exactly the steps the simulator
recorded (nothing sent behind the engine's back, nothing lost). The faults are
counted from the log and must all have fired.
"""

from __future__ import annotations

import re
import subprocess
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from engine.db import Database
from engine.invariants import STEP_MARKER
from engine.models import Enrollment, Lead, Message, StepState
from engine.timelinesai.simulator import (
    LoggedRequest,
    SimAccount,
    SimulatorConfig,
    running_simulator,
)
from tests.e2e.conftest import OUTREACH, Services, seed_campaign, wait_until, write_engine_config
from tests.reliability.conftest import figures, scaled

SPEED = 2000.0
PHONES = [f"+4477009002{i:02d}" for i in range(1, 6)]
LEADS = 150
STEPS = 2
CLIENT_TIMEOUT_S = 0.5  # real: a stalled answer costs the phone this long
TIMEOUT_RATE = 0.1
RUNNING = ("pending", "active")


def write_config(
    folder: Path, *, database_url: str, namespace: str, base_url: str, epoch: datetime
) -> Path:
    # Real seconds: client timeout 0.5, in-call retries (429) at most 1; the lease (8)
    # outlasts a send with its retries and a reconciliation's reads. Virtual seconds:
    # Dramatiq backoff 30-300 (15-150 ms), reconcile after 60 (30 ms); a step still in
    # `sending` after reconcile + lease TTL (about 4 s real) is queued to be reconciled.
    path = write_engine_config(
        folder, database_url=database_url, namespace=namespace, base_url=base_url,
        epoch=epoch, speed=SPEED, phones=PHONES,
        body="""
[pacing]
jitter_min_s = 30
jitter_max_s = 60
[quota]
new_contacts_per_day = 1000
timezone = "UTC"
warmup = []
[worker]
lease_ttl_s = 8
send_time_limit_s = 6
max_retries = 2
min_backoff_s = 30
max_backoff_s = 300
reconcile_after_s = 60
[breaker]
enabled = false
check_cron = "0 0 1 1 *"
[scheduler]
workspace_quota_cron = "0 0 1 1 *"
dispatch_interval_s = 400
requeue_after_s = 20000
phone_sync_cron = "0 0 1 1 *"
delivery_sync_cron = "0 0 1 1 *"
[sequences.intro]
skip_holidays = false
on_company_reply = "continue"
timezone = "UTC"
[[sequences.intro.steps]]
after = "0m"
template = "{Hi|Hello} {{name|there}}, a question for {{company|you}} [s0]"
[[sequences.intro.steps]]
after = "10m"
template = "Following up, {{name|there}} [s1]"
""",
    )  # fmt: skip
    # The shared frame sets the client timeout (5 s): shorten it, and the in-call retries.
    text = path.read_text()
    assert "\ntimeout_s = 5\n" in text and "\n[timelinesai]\n" in text
    text = text.replace("\ntimeout_s = 5\n", f"\ntimeout_s = {CLIENT_TIMEOUT_S}\n")
    path.write_text(text.replace("\n[timelinesai]\n", "\n[timelinesai]\nretry_total_s = 1.0\n"))
    return path


def unsettled(database: Database) -> int:
    """Enrollments neither ended nor parked as a dead letter."""
    with database.engine.connect() as connection:
        return int(
            connection.execute(
                select(func.count())
                .select_from(Enrollment)
                .where(
                    Enrollment.state.in_(RUNNING),  # type: ignore[attr-defined]
                    Enrollment.step_state != StepState.FAILED,
                )
            ).scalar_one()
        )


def sent_count(database: Database) -> int:
    with database.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(Message)).scalar_one())


def recorded_by_simulator(log: list[LoggedRequest]) -> Counter[tuple[str, int]]:
    """(lead, step) of every send the simulator recorded, answered or not."""
    recorded: Counter[tuple[str, int]] = Counter()
    for entry in log:
        if entry.is_send and entry.message_uid is not None and entry.recipient_phone:
            marker = STEP_MARKER.search(entry.text or "")
            assert marker is not None, entry
            recorded[(entry.recipient_phone, int(marker.group(1)))] += 1
    return recorded


def dlq_ids(config: Path, env: dict[str, str]) -> set[int]:
    """The enrollment ids ``outreach dlq list`` shows (a real command, same config)."""
    result = subprocess.run(
        [*OUTREACH, "dlq", "list", "--config", str(config), "--limit", "10000"],
        env={**env, "COLUMNS": "200"}, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"\d+ dead letters", result.stdout), result.stdout
    ids = set()
    for line in result.stdout.splitlines():
        cells = [cell.strip() for cell in line.split("│")]
        if len(cells) > 2 and cells[1].isdigit() and cells[2] == "intro":
            ids.add(int(cells[1]))
    return ids


def test_api_faults_never_duplicate_and_every_failure_is_a_dead_letter(
    services: Services,
    pg_database: Database,
    pg_url: str,
    redis_namespace: str,
    tmp_path: Path,
    scale: float,
) -> None:
    leads = scaled(LEADS, scale)
    epoch = datetime.now(UTC)
    seed_campaign(pg_database, leads, epoch - timedelta(hours=1))
    sim_config = SimulatorConfig(
        accounts=tuple(SimAccount(phone=p) for p in PHONES), sent_events=False,
        speed=SPEED, epoch=epoch, error_rate=0.3, burst_429_every=25, burst_429_length=4,
        timeout_after_record_rate=TIMEOUT_RATE, timeout_mode="stall",
        stall_s=CLIENT_TIMEOUT_S * 2,
    )  # fmt: skip
    with running_simulator(sim_config) as sim:
        config = write_config(
            tmp_path, database_url=pg_url, namespace=redis_namespace, base_url=sim.base_url,
            epoch=epoch,
        )  # fmt: skip
        services.start("scheduler", "scheduler")
        services.start("workers", "worker", "--processes", "2", "--threads", "2")
        logs = lambda: services.log("scheduler")[-3000:] + services.log("workers")[-5000:]  # noqa: E731
        assert wait_until(lambda: sent_count(pg_database) >= leads * STEPS * 0.4, 180), logs()
        sim.configure(timeout_mode="drop")
        assert wait_until(lambda: unsettled(pg_database) == 0, 240, 0.5), logs()
        services.stop("workers")
        services.stop("scheduler")
        log = sim.requests()
    shown = dlq_ids(config, services.env)

    faults = Counter((entry.fault or "").split(":")[-1] for entry in log if entry.fault)
    recorded = recorded_by_simulator(log)
    duplicates = sum(count - 1 for count in recorded.values())
    with pg_database.engine.connect() as connection:
        enrollments = connection.execute(
            select(Enrollment.id, Lead.phone, Enrollment.state, Enrollment.step,
                   Enrollment.step_state, Enrollment.last_error)
            .join(Lead, Lead.id == Enrollment.lead_id)  # type: ignore[arg-type]
        ).all()  # fmt: skip
        messages = connection.execute(
            select(Lead.phone, Message.step, Message.variant_id)
            .join(Lead, Lead.id == Message.lead_id)  # type: ignore[arg-type]
            .where(Message.direction == "out")
        ).all()
    completed = {e.id for e in enrollments if e.state == "completed"}
    dead = {e.id for e in enrollments if e.state in RUNNING and e.step_state == StepState.FAILED}
    lost = len(enrollments) - len(completed) - len(dead)
    in_db = Counter((phone, step) for phone, step, _ in messages)
    reconciled = sum(1 for *_, variant in messages if variant == "reconciled")
    timeouts = faults["stall"] + faults["drop"]
    followup_timeouts = sum(
        1 for e in log if (e.fault or "").startswith("timeout") and "[s0]" not in (e.text or "")
    )
    figures(
        "api_faults",
        leads=leads, sends=sum(recorded.values()), duplicates=duplicates, lost=lost,
        completed=len(completed), dead_letters=len(dead), dlq_listed=len(shown),
        requests=len(log), server_errors=faults["error_rate"], burst_429=faults["burst_429"],
        timeouts_stall=faults["stall"], timeouts_drop=faults["drop"],
        followup_timeouts=followup_timeouts, reconciled=reconciled,
    )  # fmt: skip
    # The faults really fired, every kind of them.
    assert faults["error_rate"] > 0 and faults["burst_429"] > 0
    assert faults["stall"] > 0 and faults["drop"] > 0
    assert followup_timeouts > 0  # follow-ups were reconciled too
    assert dead, "no step failed for good: the dead-letter path was not exercised"
    # No duplicates; nothing recorded by one side only.
    assert duplicates == 0, [key for key, count in recorded.items() if count > 1][:10]
    assert in_db == recorded, (in_db - recorded, recorded - in_db)
    assert reconciled >= timeouts  # every timed-out send was found in the chat, not resent
    # Every enrollment ended sent or as a dead letter with its error, and the DLQ shows them.
    assert lost == 0, [e for e in enrollments if e.id not in completed | dead][:10]
    assert all(e.last_error for e in enrollments if e.id in dead)
    assert shown == dead, (shown - dead, dead - shown)
    assert len(completed) + len(dead) == leads
