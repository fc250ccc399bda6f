"""A 3-step sequence end to end: launched by the CLI, sent by real processes, some leads replying.

50 leads are imported and launched with ``outreach leads import`` and ``outreach
campaign launch``; a real ``outreach scheduler`` and ``outreach worker`` send them
through the simulator over 5 phones, with the clock at 2000x (the 30 min and 2 h
follow-up delays last 0.9 s and 3.6 s). While they run, 15 leads reply at random
moments: there is no webhook receiver here, so the test ends their enrollment
``replied`` in the database, as the receiver does. Everything is checked from the
simulator's log: no step reached a lead after its reply, follow-ups kept their
delays, every journey ended in the right state.
"""

from __future__ import annotations

import bisect
import itertools
import random
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from cli.main import run
from engine.clock import SystemClock
from engine.db import Database
from engine.invariants import Send, accepted_sends, check
from engine.models import Enrollment, Lead, StepState
from engine.timelinesai.simulator import SimAccount, SimulatorConfig, running_simulator
from sequences import RUNNING_STATES, EndReason, end
from tests.e2e.conftest import Services, running, wait_until, write_engine_config

SPEED = 2000.0
PHONES = [f"+4477009000{i:02d}" for i in range(1, 6)]
LEADS = 50
REPLIERS = 15
DELAYS_S = (0.0, 1800.0, 7200.0)
E = Enrollment.__table__  # type: ignore[attr-defined]
L = Lead.__table__  # type: ignore[attr-defined]


def write_config(
    folder: Path, *, database_url: str, namespace: str, base_url: str, epoch: datetime
) -> Path:
    return write_engine_config(
        folder, database_url=database_url, namespace=namespace, base_url=base_url,
        epoch=epoch, speed=SPEED, phones=PHONES,
        body="""
[pacing]
jitter_min_s = 30
jitter_max_s = 60
[quota]
new_contacts_per_day = 40
timezone = "UTC"
warmup = []
[worker]
lease_ttl_s = 3
send_time_limit_s = 2
reconcile_after_s = 600
[breaker]
enabled = false
check_cron = "0 0 1 1 *"
[scheduler]
workspace_quota_cron = "0 0 1 1 *"
dispatch_interval_s = 400
requeue_after_s = 20000
[sequences.intro]
skip_holidays = false
on_company_reply = "continue"
timezone = "UTC"
[[sequences.intro.steps]]
after = "0m"
template = "{Hi|Hello} {{name}}, a question for {{company|you}} [s0]"
[[sequences.intro.steps]]
after = "30m"
variants = ["Any thoughts, {{name}}? [s1]", "{Just|Only} checking in, {{name}} [s1]"]
[[sequences.intro.steps]]
after = "2h"
template = "Last note from me, {{name}} [s2]"
""",
    )  # fmt: skip


def mark_replied(database: Database, enrollment_id: int, clock: SystemClock) -> datetime | None:
    """End the enrollment ``replied`` as the webhook receiver would; the real moment, or None.

    The receiver may do this at any moment, and a send already claimed may then still
    finish (design invariant 5). To make "nothing after the reply" exact from the log
    alone, this marks the reply only while the step waits in the database (``due``),
    when no send of it is under way; otherwise it returns None and the caller tries
    again a moment later.
    """
    with database.engine.begin() as connection:
        state = connection.execute(select(E.c.state).where(E.c.id == enrollment_id)).scalar_one()
        if state not in RUNNING_STATES:
            return None
        result = connection.execute(
            update(E)
            .where(E.c.id == enrollment_id, E.c.state == state, E.c.step_state == StepState.DUE)
            .values(
                state=end(state, EndReason.REPLIED),
                end_reason=EndReason.REPLIED,
                ended_at=clock.now(),
            )
        )
    return datetime.now(UTC) if result.rowcount == 1 else None


def reply_while_sending(
    database: Database, clock: SystemClock, chosen: dict[int, str], rng: random.Random
) -> dict[str, datetime]:
    """Reply for each chosen enrollment at a random moment of the run; lead phone -> moment."""
    start = time.monotonic()
    pending = sorted((rng.uniform(0.05, 5.0), eid) for eid in chosen)
    replied: dict[str, datetime] = {}
    while pending and time.monotonic() - start < 30:
        moment, enrollment_id = pending[0]
        if time.monotonic() - start < moment:
            time.sleep(0.005)
            continue
        pending.pop(0)
        at = mark_replied(database, enrollment_id, clock)
        if at is not None:
            replied[chosen[enrollment_id]] = at
        elif is_running(database, enrollment_id):
            bisect.insort(pending, (moment + 0.01, enrollment_id))  # a send is under way
    return replied


def by_phone(database: Database, column: Any) -> dict[str, Any]:
    """Each enrolled lead's number -> its enrollment's ``column``."""
    with database.engine.connect() as connection:
        rows = connection.execute(select(L.c.phone, column).join(L, L.c.id == E.c.lead_id))
        return {row[0]: row[1] for row in rows}


def is_running(database: Database, enrollment_id: int) -> bool:
    with database.engine.connect() as connection:
        state = connection.execute(select(E.c.state).where(E.c.id == enrollment_id)).scalar_one()
    return state in RUNNING_STATES


def test_sequence_stops_for_replies_and_completes_for_the_rest(
    services: Services, pg_database: Database, pg_url: str, redis_namespace: str, tmp_path: Path
) -> None:
    seed = random.randrange(10**6)
    rng = random.Random(seed)
    epoch = datetime.now(UTC)
    clock = SystemClock(speed=SPEED, epoch=epoch)
    sim_config = SimulatorConfig(
        accounts=tuple(SimAccount(phone=p) for p in PHONES), sent_events=False
    )
    with running_simulator(sim_config) as sim:
        config = write_config(
            tmp_path, database_url=pg_url, namespace=redis_namespace, base_url=sim.base_url,
            epoch=epoch,
        )  # fmt: skip
        leads_csv = tmp_path / "leads.csv"
        rows = [f"+4071200{i:04d},Lead{i},Acme" for i in range(LEADS)]
        leads_csv.write_text("phone,name,company\n" + "\n".join(rows) + "\n")
        assert (
            run(["leads", "import", str(leads_csv), "--tag", "e2e", "--config", str(config)]) == 0
        )
        assert run(["campaign", "launch", "intro", "--tag", "e2e", "--config", str(config)]) == 0
        enrolled = {eid: phone for phone, eid in by_phone(pg_database, E.c.id).items()}
        assert len(enrolled) == LEADS
        chosen = {eid: enrolled[eid] for eid in rng.sample(sorted(enrolled), REPLIERS)}

        services.start("scheduler", "scheduler", "--config", str(config))
        services.start(
            "workers", "worker", "--processes", "2", "--threads", "2", "--config", str(config)
        )
        assert wait_until(lambda: len(sim.sends()) >= 1, 30), services.log("workers")
        replied = reply_while_sending(pg_database, clock, chosen, rng)
        assert wait_until(lambda: running(pg_database) == 0, 40), services.log("workers")
        services.stop("workers")
        services.stop("scheduler")
        log = sim.requests()

    sends = accepted_sends(log)
    report = check(
        sends, jitter_min_s=30, speed=SPEED, epoch=epoch,
        quota_per_day=dict.fromkeys(PHONES, 40), quota_timezone="UTC",
    )  # fmt: skip
    by_lead: dict[str, list[Send]] = defaultdict(list)
    for send in sends:
        by_lead[send.recipient].append(send)
    late = [
        (phone, send.step)
        for phone, at in replied.items()
        for send in by_lead[phone]
        if send.received_at > at
    ]
    short = []
    for phone, items in by_lead.items():
        assert [s.step for s in items] == list(range(len(items))), phone  # in order, none twice
        for before, after in itertools.pairwise(items):
            gap_s = (after.received_at - before.received_at).total_seconds() * SPEED
            if gap_s < DELAYS_S[after.step] - 1.0:
                short.append((phone, after.step, gap_s))
    ends = by_phone(pg_database, E.c.state)
    print(
        f"\ne2e sequence: seed={seed} leads={LEADS} replied={len(replied)} {report.line()} "
        f"late={len(late)} short_delays={len(short)}"
    )
    assert report.ok, report.problems[:10]
    assert late == [], late
    assert short == [], short
    assert len(replied) >= REPLIERS // 2  # most replies landed before their lead completed
    assert {phone for phone, state in ends.items() if state == "replied"} == set(replied)
    assert {state for phone, state in ends.items() if phone not in replied} == {"completed"}
    for phone in ends:
        sent = len(by_lead[phone])
        assert sent < len(DELAYS_S) if phone in replied else sent == len(DELAYS_S), phone
