"""The database restarts in the middle of a campaign: workers and webhook recover.

Two worker processes (2 threads each), the scheduler and the webhook receiver reach
PostgreSQL through a TCP proxy (``tests.reliability.faults.TcpProxy``); the test reads
the database directly. Midway through the campaign the proxy plays a database restart
of 3 s: every open connection dies at once (the server rolls back what was in flight),
new connections are refused until it is back. The engine runs without
``pool_pre_ping``: a dead pooled connection fails one statement, SQLAlchemy drops the
pool, and the Dramatiq retry, the dispatcher's requeue of lost steps, the next
scheduler pass or TimelinesAI's redelivery of the webhook carries on.

Meanwhile the test plays TimelinesAI posting leads' replies (``message:received:new``)
to the receiver every 80 ms, from before the outage until after it, noting every
answer; replies answered other than 2xx are delivered again afterwards until they are
taken, as TimelinesAI retries them, and a few taken ones are delivered a second time.

Clock at 10000x: a phone's gap of 1000-1200 s (virtual) is 100-120 ms, so 5 phones
send about 40 messages a second, a follow-up 10 minutes after the first message comes
60 ms later. At --scale 1: 160 leads through a 2-step sequence, the outage after 60
sends; about 20 s. --scale multiplies the leads.

With ``--real-db-restart`` (on a machine of one's own) the engine connects to
PostgreSQL directly and the test restarts the real server instead (``pg_ctlcluster``
stop in fast mode, 3 s down, start).

Proves, from the simulator's request log, the receiver's answers and the database:
the receiver answers 503 while the database is down, never 2xx for an event it did
not store, and never 500; every reply is stored exactly once in the end; no step is
sent twice, no overlapping sends or short gaps per phone, no follow-up after a reply
was answered 2xx; every enrollment ends ``completed`` or ``replied`` with every step it
was due; the workers (the same processes), the scheduler and the receiver live on.
``recovery_s`` is the time from the end of the outage to the next accepted send;
``reconciled`` counts sends TimelinesAI took whose record died with its connection
(typically the first use of each worker's pool after the outage): they are found in
the chat history and recorded, never sent again. The simulator runs on the engine's
clock, as reconciliation compares its timestamps with the engine's.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from engine.db import Database
from engine.invariants import accepted_sends, check, in_flight_at_replies, sends_after_replies
from engine.models import Enrollment, Lead
from engine.timelinesai.simulator import SimAccount, SimulatorConfig, running_simulator
from tests.conftest import PG_ADMIN_DSN
from tests.e2e.conftest import (
    Services,
    healthy,
    running,
    seed_campaign,
    wait_until,
    write_engine_config,
)
from tests.reliability.conftest import figures, scaled
from tests.reliability.faults import PostgresRestart, free_port, proxied

SPEED = 10000.0
PHONES = [f"+4477009200{i:02d}" for i in range(1, 6)]
LEADS = 160
OUTAGE_AFTER_SENDS = 60
OUTAGE_S = 3.0
REPLY_EVERY_S = 0.08
REPLIES_AFTER_S = 1.5  # replies go on this long (real) after the outage
JITTER_MIN_S = 1000
SECRET = "db-restart-secret"
REPLY = "message:received:new"


def write_config(
    folder: Path, *, database_url: str, namespace: str, base_url: str, epoch: datetime, port: int
) -> Path:
    return write_engine_config(
        folder, database_url=database_url, namespace=namespace, base_url=base_url,
        epoch=epoch, speed=SPEED, phones=PHONES,
        body=f"""
[pacing]
jitter_min_s = {JITTER_MIN_S}
jitter_max_s = 1200
[quota]
new_contacts_per_day = 1000
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
dispatch_interval_s = 2000
requeue_after_s = 5000
[webhook]
port = {port}
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


@dataclass
class Answer:
    status: int | None  # None: no answer (a transport error)
    sent_at: datetime
    answered_at: datetime


@dataclass
class Reply:
    uid: str
    lead: str
    account: str
    answers: list[Answer] = field(default_factory=list)

    def body(self) -> dict[str, object]:
        return {
            "event_type": REPLY,
            "data": {
                "message_uid": self.uid, "text": "Thanks, tell me more", "from_me": False,
                "phone": self.lead, "whatsapp_account_phone": self.account,
            },
        }  # fmt: skip

    @property
    def taken_at(self) -> datetime | None:
        """When the receiver first answered 2xx (the reply is then on record)."""
        taken = [a.answered_at for a in self.answers if a.status and 200 <= a.status < 300]
        return min(taken, default=None)


class ReplyPoster:
    """Plays TimelinesAI: posts replies of leads that got their first message, notes answers."""

    def __init__(self, url: str, sim_requests: object, rng: random.Random) -> None:
        self.url = url
        self.sim_requests = sim_requests
        self.rng = rng
        self.replies: list[Reply] = []
        self._candidates: dict[str, str] = {}  # lead -> the account that wrote to it
        self._seen = 0
        self._stop = threading.Event()
        self._client = httpx.Client(timeout=10.0)
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def post(self, reply: Reply) -> Answer:
        sent_at = datetime.now(UTC)
        try:
            status: int | None = self._client.post(self.url, json=reply.body()).status_code
        except httpx.HTTPError:
            status = None
        answer = Answer(status, sent_at, datetime.now(UTC))
        reply.answers.append(answer)
        return answer

    def close(self) -> None:
        self._client.close()

    def _run(self) -> None:
        replied: set[str] = set()
        while not self._stop.is_set():
            for entry in self.sim_requests(since=self._seen):  # type: ignore[operator]
                self._seen = max(self._seen, entry.seq)
                if entry.is_send and entry.status_code == 200 and "[s0]" in (entry.text or ""):
                    self._candidates[entry.recipient_phone] = entry.account_phone
            choices = sorted(set(self._candidates) - replied)
            if choices:
                lead = self.rng.choice(choices)
                replied.add(lead)
                reply = Reply(f"reply-{len(self.replies)}", lead, self._candidates[lead])
                self.replies.append(reply)
                self.post(reply)
            self._stop.wait(REPLY_EVERY_S)


def stored(database: Database, replies: list[Reply]) -> tuple[Counter[str], Counter[str]]:
    """How often each reply is stored: as a webhook event, and as an inbound message."""
    with database.engine.connect() as connection:
        keys = connection.execute(
            text("SELECT dedupe_key FROM webhook_events WHERE event_type = :t"), {"t": REPLY}
        ).scalars()
        events = Counter(key.removeprefix(f"{REPLY}:") for key in keys)
        messages = Counter(
            connection.execute(
                text("SELECT message_uid FROM messages WHERE direction = 'in'")
            ).scalars()
        )
    known = {reply.uid for reply in replies}
    return (
        Counter({k: v for k, v in events.items() if k in known}),
        Counter({k: v for k, v in messages.items() if k in known}),
    )


def test_workers_and_webhook_recover_from_a_database_restart(
    services: Services, pg_database: Database, pg_url: str, redis_namespace: str,
    scale: float, tmp_path: Path, request: pytest.FixtureRequest,
) -> None:  # fmt: skip
    real = bool(request.config.getoption("--real-db-restart"))
    leads = scaled(LEADS, scale)
    epoch = datetime.now(UTC)
    seed_campaign(pg_database, leads, epoch - timedelta(hours=1))
    port = free_port()
    params = psycopg.conninfo.conninfo_to_dict(PG_ADMIN_DSN)
    pg_host, pg_port = str(params.get("host", "127.0.0.1")), int(params.get("port", 5432))
    # The simulator keeps the engine's clock: reconciliation compares its timestamps.
    sim_config = SimulatorConfig(
        accounts=tuple(SimAccount(phone=p) for p in PHONES),
        speed=SPEED,
        epoch=epoch,
        sent_events=False,
    )
    restart = PostgresRestart() if real else None
    with running_simulator(sim_config) as sim, proxied(pg_host, pg_port) as proxy:
        through_proxy = make_url(pg_url).set(host="127.0.0.1", port=proxy.port)
        engine_url = make_url(pg_url) if real else through_proxy
        write_config(
            tmp_path, database_url=engine_url.render_as_string(hide_password=False),
            namespace=redis_namespace, base_url=sim.base_url, epoch=epoch, port=port,
        )  # fmt: skip
        services.env["OUTREACH_WEBHOOK_SECRET"] = SECRET
        services.start("webhook", "webhook", "serve")
        assert wait_until(lambda: healthy(f"http://127.0.0.1:{port}"), 60), services.log("webhook")
        services.start("scheduler", "scheduler")
        services.start("workers", "worker", "--processes", "2", "--threads", "2")
        logs = lambda: "".join(services.log(n) for n in ("workers", "scheduler", "webhook"))  # noqa: E731
        url = f"http://127.0.0.1:{port}/webhooks/timelinesai?secret={SECRET}"
        poster = ReplyPoster(url, sim.requests, random.Random(9))
        assert wait_until(lambda: len(sim.sends()) >= OUTAGE_AFTER_SENDS // 3, 120), logs()
        poster.start()
        assert wait_until(lambda: len(sim.sends()) >= OUTAGE_AFTER_SENDS, 120), logs()
        children = set(services.children("workers"))
        outage_at = datetime.now(UTC)
        (restart or proxy).outage(OUTAGE_S)
        back_at = datetime.now(UTC)
        pg_database.engine.dispose()  # the test's own connections died with a real restart
        time.sleep(REPLIES_AFTER_S)
        poster.stop()
        taken = [r for r in poster.replies if r.taken_at is not None]
        events_then, _ = stored(pg_database, taken)  # before anything is delivered again
        # TimelinesAI delivers again what was not taken (its retries), until it is.
        for reply in poster.replies:
            deadline = time.monotonic() + 60
            while reply.taken_at is None and time.monotonic() < deadline:
                poster.post(reply)
                time.sleep(0 if reply.taken_at else 0.2)
        redelivered = [r for r in poster.replies[:5] if poster.post(r).status == 200]
        assert wait_until(lambda: running(pg_database) == 0, 180), logs()[-5000:]
        alive = {name: process.poll() is None for name, process in services.processes.items()}
        same_children = set(services.children("workers")) == children
        log = sim.requests()
        poster.close()
        services.stop_all()

    replies = poster.replies
    answers = [a for r in replies for a in r.answers]
    during = [a for a in answers if outage_at <= a.sent_at and a.answered_at <= back_at]
    unavailable_during = sum(1 for a in during if a.status == 503)
    other = Counter(a.status for a in answers if a.status is None or a.status not in (200, 503))
    events, messages = stored(pg_database, replies)
    # Every reply answered 2xx at any time is on record; none is stored twice; and after
    # the redeliveries every reply is stored, exactly once.
    not_stored_after_2xx = [r.uid for r in taken if events_then[r.uid] != 1]
    stored_twice = [uid for uid, n in (events | messages).items() if n > 1]
    missing = [r.uid for r in replies if events[r.uid] != 1 or messages[r.uid] != 1]

    sends = accepted_sends(log)
    report = check(
        sends, jitter_min_s=JITTER_MIN_S, speed=SPEED, epoch=epoch,
        quota_per_day=dict.fromkeys(PHONES, 1000), quota_timezone="UTC",
    )  # fmt: skip
    taken_at = {r.lead: r.taken_at for r in replies if r.taken_at is not None}
    with pg_database.engine.connect() as connection:
        in_flight = in_flight_at_replies(connection)
        rows = connection.execute(
            select(Lead.phone, Enrollment.state).join(Enrollment)  # type: ignore[arg-type]
        ).all()
        reconciled = connection.execute(
            text("SELECT count(*) FROM messages WHERE variant_id = 'reconciled'")
        ).scalar_one()
    followups_after_reply = sends_after_replies(sends, taken_at, in_flight)
    ends = {str(phone): str(state) for phone, state in rows}
    sent_steps = Counter(s.recipient for s in sends)
    lost = [
        lead for lead, state in ends.items()
        if state not in ("completed", "replied")
        or (state == "completed" and sent_steps[lead] != 2)
        or (state == "replied" and sent_steps[lead] < 1)
    ]  # fmt: skip
    after = [s.received_at for s in sends if s.received_at > back_at]
    recovery_s = (min(after) - back_at).total_seconds() if after else -1.0
    figures(
        "db_restart", leads=leads, sends=report.sends, duplicates=report.duplicates,
        lost=len(lost), overlaps=report.overlaps,
        followups_after_reply=len(followups_after_reply), recovery_s=recovery_s,
        short_gaps=report.short_gaps, replies=len(replies), answers=len(answers),
        answered_503_during_outage=unavailable_during,
        answered_503=sum(1 for a in answers if a.status == 503),
        not_stored_after_2xx=len(not_stored_after_2xx), stored_twice=len(stored_twice),
        fault="pg_ctlcluster restart" if real else "proxy",
        connections_cut=proxy.cut, connections_refused=proxy.refused,
        replied=sum(1 for s in ends.values() if s == "replied"), reconciled=reconciled,
    )  # fmt: skip
    assert not_stored_after_2xx == [], not_stored_after_2xx
    assert stored_twice == [] and missing == [], (stored_twice, missing)
    assert other == Counter(), other  # only 2xx and 503: never a 500, always an answer
    assert len(redelivered) == 5  # a redelivery is taken again, and stored no second time
    twice = Counter((s.recipient, s.step) for s in sends) - Counter(
        {(s.recipient, s.step): 1 for s in sends}
    )
    assert report.duplicates == 0 and report.overlaps == 0, (
        report.problems[:10],
        [(s, (s.received_at - outage_at).total_seconds()) for s in sends
         if (s.recipient, s.step) in twice][:10],
    )  # fmt: skip
    assert report.short_gaps == 0, report.problems[:10]
    assert followups_after_reply == [], followups_after_reply[:5]
    assert lost == [], [(lead, ends[lead], sent_steps[lead]) for lead in lost[:10]]
    assert alive == {"webhook": True, "scheduler": True, "workers": True}, logs()[-5000:]
    assert same_children, logs()[-5000:]  # no worker process died and was replaced
    assert recovery_s >= 0, "nothing was sent after the outage"
    # The fault was real: live connections were cut, new ones refused, 503s answered.
    if restart is None:
        assert proxy.cut > 0 and proxy.refused > 0
    else:
        assert restart.restarts == 1
    assert unavailable_during > 0
