"""Reply races: once a reply is answered 200, no follow-up starts (invariant 5).

At ``--scale 1``: 700 leads on 10 phones and at least 500 replies. Two worker
processes, the scheduler and the webhook receiver (PostgreSQL, Redis), and the
simulator posting ``message:received:new`` for replies injected with
``SimulatorHandle.inbound`` at the riskiest moments: while a phone waits out its
pacing gap before its next follow-up (the worker holding the lease may already have
read that lead's enrollment). The clock runs at 100x: follow-ups are due 10 s
(virtual) after the first message, a phone's gap is 5-10 s (50-100 ms real). A
quarter of the leads answer their first message at once; after most sends one of the
phone's queued follow-ups gets a reply within the gap. Judged from the simulator's
own records: the receive time of every follow-up send against the moment the reply's
POST got its 200. Without the lease in the receiver this test finds follow-ups sent
after the 200.
"""

from __future__ import annotations

import random
import re
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from engine.db import Database
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
[scheduler]
dispatch_interval_s = 10
max_queued_per_phone = 2
[webhook]
port = {port}
[sequences.intro]
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


def test_no_follow_up_starts_after_a_reply_was_answered(
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
        services.start("workers", "worker", "--processes", "2", "--threads", "2")
        assert wait_until(lambda: running(pg_database) == 0, 300), services.log("workers")
        injector.stop()
        expected = len(injector.replied)
        assert wait_until(lambda: len(_replies(sim)) >= expected, 30), services.log("webhook")
        deliveries = _replies(sim)
        log = sim.requests()
    for name in ("workers", "scheduler", "webhook"):
        services.stop(name)

    answered = {d["body"]["chat"]["phone"]: d for d in deliveries}
    assert all(d["status_code"] == 200 for d in deliveries), services.log("webhook")
    followups: dict[str, datetime] = {}
    followup_sends: list[str] = []
    for entry in log:
        marker = STEP.search(entry.text or "")
        if entry.is_send and entry.status_code == 200 and marker and marker.group(1) == "1":
            followup_sends.append(entry.recipient_phone or "")
            followups.setdefault(entry.recipient_phone or "", entry.received_at)
    after, before, prevented = [], 0, 0
    for lead in injector.replied:
        answered_at = datetime.fromisoformat(answered[lead]["finished_at"])
        sent_at = followups.get(lead)
        if sent_at is None:
            prevented += 1
        elif sent_at > answered_at:
            after.append((lead, sent_at, answered_at))
        else:
            before += 1
    with pg_database.engine.connect() as connection:
        rows = connection.execute(
            select(Lead.phone, Enrollment.state).join(Enrollment)  # type: ignore[arg-type]
        ).all()
    states: dict[str, str] = {str(phone): str(state) for phone, state in rows}
    sends = sum(1 for e in log if e.is_send and e.status_code == 200)
    twice = len(followup_sends) - len(followups)
    lost = sum(1 for lead in leads if states[lead] not in ("completed", "replied"))
    figures(
        "reply_races", leads=len(leads), sends=sends, duplicates=twice, lost=lost,
        followups_after_reply=len(after), replies=len(injector.replied),
        followups_before_reply=before, followups_prevented=prevented,
    )  # fmt: skip
    assert after == [], after[:5]
    assert twice == 0 and lost == 0
    assert len(injector.replied) >= scaled(REPLIES, scale)
    assert prevented > 0  # the early replies stopped their follow-ups
    for lead in leads:
        if lead in injector.replied and lead not in followups:
            assert states[lead] == "replied"
        else:
            assert states[lead] in ("completed", "replied")


def _replies(sim: SimulatorHandle) -> list[dict[str, object]]:
    return [d for d in sim.deliveries() if d["event_type"] == "message:received:new"]
