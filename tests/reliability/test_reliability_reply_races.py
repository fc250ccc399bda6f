"""Reply races with workers killed: every reply answered at once, no step claimed after it.

At ``--scale 1``: 700 leads on 10 phones and at least 500 replies. Three worker
processes (a supervisor restarts each one killed), the scheduler and the webhook
receiver (PostgreSQL, Redis), and the simulator posting ``message:received:new`` once
(no redelivery) for replies injected with ``SimulatorHandle.inbound`` at the riskiest
moments: while a phone waits out its pacing gap before its next follow-up. Meanwhile a
random worker process gets SIGKILL every 1-3 s, often while it holds phones' leases,
which then stay taken until their TTL (5 s real) runs out. The clock runs at 100x:
follow-ups are due 10 s (virtual) after the first message, a phone's gap is 5-10 s
(50-100 ms real). A quarter of the leads answer their first message at once; after
most sends one of the phone's queued follow-ups gets a reply within the gap.

Judged from the outside: every reply's single delivery was answered 2xx (a receiver
that waited for a phone's lease answered 503 here, or not within TimelinesAI's 5 s),
and no send reached the simulator after its lead's reply was answered 200 unless the
reply found that very step in flight (claimed before the reply committed, recorded on
the reply by the database that ordered the two). The answer times are printed, not
asserted (bench/webhook.py measures them).
"""

from __future__ import annotations

import os
import random
import re
import signal
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from engine.db import Database
from engine.invariants import accepted_sends, in_flight_at_replies, sends_after_replies
from engine.models import Enrollment, Lead, Phone
from engine.timelinesai.simulator import (
    SimAccount,
    SimulatorConfig,
    SimulatorHandle,
    running_simulator,
)
from tests.conftest import REDIS_URL
from tests.e2e.conftest import (
    Services,
    healthy,
    running,
    seed_campaign,
    wait_until,
    write_engine_config,
)
from tests.reliability.conftest import figures, scaled
from tests.reliability.faults import free_port

SPEED = 100.0
PHONES = [f"+4477009000{i:02d}" for i in range(1, 11)]
LEADS = 700
REPLIES = 500
REPLY_CHANCE = 0.8  # after each send, the chance that one of the phone's queued leads replies
REPLY_DELAY_S = (0.0, 0.08)  # real seconds after a send of the phone: within its pacing gap
EARLY_CHANCE = 0.25  # the chance that a lead answers its first message at once
SECRET = "race-secret"
STEP = re.compile(r"\[s(\d)\]")
WORKERS = 3
KILL_EVERY_S = (1.0, 3.0)
WARM_S = 1.0  # real seconds a new worker process gets to start before the next kill


def write_config(folder: Path, *, database_url: str, namespace: str, base_url: str,
                 epoch: datetime, port: int) -> Path:  # fmt: skip
    return write_engine_config(
        folder, database_url=database_url, namespace=namespace, base_url=base_url,
        epoch=epoch, speed=SPEED, phones=PHONES, redis_url=REDIS_URL,
        body=f"""
[pacing]
jitter_min_s = 5
jitter_max_s = 10
[quota]
new_contacts_per_day = 1000
warmup = []
[worker]
lease_ttl_s = 5
send_time_limit_s = 3
[breaker]
enabled = false
check_cron = "0 0 1 1 *"
[scheduler]
workspace_quota_cron = "0 0 1 1 *"
dispatch_interval_s = 10
max_queued_per_phone = 2
requeue_after_s = 600
phone_sync_cron = "0 0 1 1 *"
delivery_sync_cron = "0 0 1 1 *"
[webhook]
port = {port}
[sequences.intro]
skip_holidays = false
on_company_reply = "continue"
timezone = "UTC"
[[sequences.intro.steps]]
after = "0m"
template = "Hello {{{{name|there}}}} [s0]"
[[sequences.intro.steps]]
after = "10s"
template = "Following up, {{{{name|there}}}} [s1]"
""",
    )  # fmt: skip


class ReplyInjector:
    """Replies at the riskiest moments: while a phone waits out its pacing before a follow-up.

    After each send of a phone (seen in the simulator's log), one of that phone's queued
    follow-ups (at most 2 are queued per phone, so likely the next one) gets a reply
    after a random delay within the phone's pacing gap: the worker holding the phone's
    lease may already have read that enrollment and be waiting to send it. A few leads
    answer their first message at once instead, well before their follow-up is due.
    """

    def __init__(self, sim: SimulatorHandle, database: Database, rng: random.Random) -> None:
        self.sim = sim
        self.database = database
        self.rng = rng
        self.replied: dict[str, str] = {}  # lead -> reply text
        self._decided: set[str] = set()
        self._seen = 0
        self._timers: list[threading.Timer] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        for timer in self._timers:
            timer.join()

    def _watch(self) -> None:
        queued = (
            select(Lead.phone, Phone.phone)
            .select_from(Enrollment)
            .join(Lead, Lead.id == Enrollment.lead_id)  # type: ignore[arg-type]
            .join(Phone, Phone.id == Enrollment.phone_id)  # type: ignore[arg-type]
            .where(
                Enrollment.step == 1,
                Enrollment.state == "active",
                Enrollment.step_state == "queued",
            )
        )
        while not self._stop.is_set():
            sent_from = set()
            for entry in self.sim.requests(since=self._seen):
                self._seen = max(self._seen, entry.seq)
                if not entry.is_send or entry.status_code != 200:
                    continue
                sent_from.add(entry.account_phone or entry.chat_id)
                first = STEP.search(entry.text or "")
                lead, account = entry.recipient_phone, entry.account_phone
                # Some leads answer their first message at once, long before the follow-up.
                early = first is not None and first.group(1) == "0" and lead and account
                if early and lead not in self._decided and self.rng.random() < EARLY_CHANCE:
                    self._reply(lead, account, 0.0)
            if sent_from:
                with self.database.engine.connect() as connection:
                    rows = connection.execute(queued).all()
                for account in {a for _, a in rows}:
                    choices = [
                        lead for lead, a in rows if a == account and lead not in self._decided
                    ]
                    if choices and self.rng.random() < REPLY_CHANCE:
                        delay_s = self.rng.uniform(*REPLY_DELAY_S)
                        self._reply(self.rng.choice(choices), account, delay_s)
            self._stop.wait(0.005)

    def _reply(self, lead: str, account: str, delay_s: float) -> None:
        self._decided.add(lead)
        text = f"Thanks, tell me more ({lead})"
        self.replied[lead] = text
        timer = threading.Timer(
            delay_s, self.sim.inbound, (text,), {"phone": lead, "account_phone": account}
        )
        self._timers.append(timer)
        timer.start()


class Killer:
    """SIGKILLs a random worker process every 1-3 s, once the last victim's replacement
    has been up for ``WARM_S``; counts the kills."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.kills = 0
        self.rng = random.Random(11)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        first_seen: dict[int, float] = {}
        next_kill = time.monotonic() + self.rng.uniform(*KILL_EVERY_S)
        while not self.stop.wait(0.2):
            now = time.monotonic()
            pids = self.services.children("workers")
            first_seen = {pid: first_seen.get(pid, now) for pid in pids}
            ready = [pid for pid, seen in first_seen.items() if now - seen >= WARM_S]
            if now < next_kill or len(ready) < WORKERS:
                continue
            next_kill = now + self.rng.uniform(*KILL_EVERY_S)
            try:
                os.kill(self.rng.choice(ready), signal.SIGKILL)
            except ProcessLookupError:
                continue
            self.kills += 1


def test_replies_are_answered_at_once_and_stop_their_leads_while_workers_die(
    services: Services, pg_database: Database, pg_url: str, redis_namespace: str, tmp_path: Path,
    scale: float,
) -> None:  # fmt: skip
    epoch = datetime.now(UTC)
    leads = seed_campaign(pg_database, scaled(LEADS, scale), epoch - timedelta(1), prefix="+4072")
    port = free_port()
    sim_config = SimulatorConfig(
        accounts=tuple(SimAccount(phone=p) for p in PHONES),
        speed=SPEED,
        epoch=epoch,
        webhook_url=f"http://127.0.0.1:{port}/webhooks/timelinesai?secret={SECRET}",
        webhook_retries=0,
        sent_events=False,
    )
    with running_simulator(sim_config) as sim:
        write_config(tmp_path, database_url=pg_url, namespace=redis_namespace,
                     base_url=sim.base_url, epoch=epoch, port=port)  # fmt: skip
        services.env["OUTREACH_WEBHOOK_SECRET"] = SECRET
        services.start("webhook", "webhook", "serve")
        assert wait_until(lambda: healthy(f"http://127.0.0.1:{port}"), 60), services.log("webhook")
        injector = ReplyInjector(sim, pg_database, random.Random(5))
        injector.start()
        services.start("scheduler", "scheduler")
        services.start("workers", "worker", "--processes", str(WORKERS), "--threads", "2")
        assert wait_until(lambda: len(services.children("workers")) == WORKERS, 60)
        killer = Killer(services)
        killer.thread.start()
        try:
            assert wait_until(lambda: running(pg_database) <= 0.05 * len(leads), 300, 0.5), (
                services.log("workers")[-5000:]
            )
        finally:
            killer.stop.set()
            killer.thread.join()
        assert wait_until(lambda: running(pg_database) == 0, 120, 0.5), services.log("workers")
        injector.stop()
        expected = len(injector.replied)
        assert wait_until(lambda: len(_replies(sim)) >= expected, 30), services.log("webhook")
        deliveries = _replies(sim)
        log = sim.requests()
    for name in ("workers", "scheduler", "webhook"):
        services.stop(name)

    # Every reply was posted once (no redelivery) and taken on that delivery.
    refused = [d for d in deliveries if d["status_code"] != 200]
    answered = {
        str(d["body"]["chat"]["phone"]): datetime.fromisoformat(d["finished_at"])
        for d in deliveries
        if d["status_code"] == 200
    }
    ack_ms = sorted(
        (datetime.fromisoformat(d["finished_at"]) - datetime.fromisoformat(d["started_at"]))
        .total_seconds() * 1000
        for d in deliveries
    )  # fmt: skip
    with pg_database.engine.connect() as connection:
        in_flight = in_flight_at_replies(connection)
        rows = connection.execute(
            select(Lead.phone, Enrollment.state).join(Enrollment)  # type: ignore[arg-type]
        ).all()
    sends = accepted_sends(log)
    claimed_after = sends_after_replies(sends, answered, in_flight)
    states: dict[str, str] = {str(phone): str(state) for phone, state in rows}
    steps = [(s.recipient, s.step) for s in sends]
    sent = set(steps)
    twice = len(steps) - len(sent)
    lost = sum(1 for lead in leads if states[lead] not in ("completed", "replied"))
    prevented = sum(1 for lead in injector.replied if (lead, 1) not in sent)
    figures(
        "reply_races", leads=len(leads), sends=len(sends), duplicates=twice, lost=lost,
        followups_after_reply=len(claimed_after), replies=len(injector.replied),
        answered_first_time=len(answered), refused=len(refused), kills=killer.kills,
        in_flight_at_reply=len(in_flight), followups_prevented=prevented,
        ack_p99_ms=ack_ms[int(0.99 * (len(ack_ms) - 1))] if ack_ms else 0.0,
        ack_max_ms=ack_ms[-1] if ack_ms else 0.0,
    )  # fmt: skip
    assert killer.kills >= 3, "the scenario needs several kills to prove anything"
    assert refused == [], refused[:5]
    assert len(deliveries) == len(injector.replied) >= scaled(REPLIES, scale)
    assert claimed_after == [], claimed_after[:5]
    assert twice == 0 and lost == 0
    assert prevented > 0  # the early replies stopped their follow-ups
    for lead in leads:
        if lead in injector.replied and (lead, 1) not in sent:
            assert states[lead] == "replied"
        else:
            assert states[lead] in ("completed", "replied")


def _replies(sim: SimulatorHandle) -> list[dict[str, object]]:
    return [d for d in sim.deliveries() if d["event_type"] == "message:received:new"]
