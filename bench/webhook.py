"""Webhook receiver benchmark: throughput against a bare endpoint, and answer times while
every phone sends and after a worker is killed; one run.

Case ``throughput``: a load generator on loopback posts ``message:received:new`` events
(10% of them redeliveries of an event already answered) for ``--duration`` seconds to
``outreach webhook serve`` (PostgreSQL, Redis, ``--workers`` processes), then to a
bare FastAPI endpoint that only answers 200, served the same way. Prints sustained
requests/s, p50/p99 latency and the ratio, then checks that every event answered
2xx is in the database exactly once. Target: >= 300 events/s sustained, p99 < 100 ms,
none lost. Requests go only to 127.0.0.1, at most ``--concurrency`` in flight.

Case ``busy`` (:mod:`bench.webhook_busy`): replies at 100 a second to leads of 20 phones
that send back-to-back (zero jitter), for ``--busy-duration`` seconds, then as long
again after one worker process holding leases is SIGKILLed. Target in both phases:
p99 < 100 ms, max < 1 s, every reply answered 2xx and stored once.

    .venv/bin/python bench/webhook.py [--case all|throughput|busy] [--duration 60]
        [--concurrency 8] [--workers 2] [--busy-duration 20]

Needs PostgreSQL and Redis on 127.0.0.1 (it creates and drops its own database and
uses its own Redis namespace).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.scratch import (  # noqa: E402
    REDIS_URL,
    drop_namespace,
    free_port,
    scratch_database,
    stop,
)
from engine.db import Database  # noqa: E402
from engine.models import Campaign, Enrollment, Lead, Message, WebhookEvent  # noqa: E402
from engine.settings import load_settings  # noqa: E402
from engine.webhook.serving import bind_listener  # noqa: E402
from phones import sync_phones  # noqa: E402

SECRET = "bench-secret-" + uuid.uuid4().hex
PHONES = [f"+4477009000{i:02d}" for i in range(1, 21)]
LEADS = 5000
DUPLICATE_SHARE = 0.10


def bare_app() -> FastAPI:
    """The baseline: FastAPI on uvicorn, one POST route that reads the body and answers 200."""
    app = FastAPI()

    @app.post("/webhooks/timelinesai")
    async def receive(request: Request) -> JSONResponse:
        await request.body()
        return JSONResponse({"ok": True})

    return app


def write_config(folder: Path, db_url: str, namespace: str) -> Path:
    phones = "\n".join(
        f'[[phones]]\nid = "{i:02d}"\nphone = "{p}"' for i, p in enumerate(PHONES, 1)
    )
    path = folder / "config.toml"
    path.write_text(
        f'[database]\nurl = "{db_url}"\n[redis]\nnamespace = "{namespace}"\n{phones}\n'
        '[sequences.intro]\ntimezone = "UTC"\n'
        '[[sequences.intro.steps]]\nafter = "0m"\ntemplate = "Hello"\n'
        '[[sequences.intro.steps]]\nafter = "2d"\ntemplate = "Again"\n'
    )
    return path


def seed(database: Database) -> list[tuple[str, str]]:
    """Leads with an active enrollment each, spread over the phones: (lead, our phone)."""
    pairs = []
    with database.session() as session:
        campaign = Campaign(name="intro", sequence="intro")
        session.add(campaign)
        session.flush()
        for index in range(LEADS):
            lead = Lead(phone=f"+4079{index:07d}", variables={})
            session.add(lead)
            session.flush()
            assert lead.id is not None
            phone_index = index % len(PHONES)
            session.add(Enrollment(lead_id=lead.id, campaign_id=campaign.id or 0, sequence="intro",
                                   state="active", step=1, phone_id=f"{phone_index + 1:02d}",
                                   chat_id=100_000 + index))  # fmt: skip
            pairs.append((lead.phone, PHONES[phone_index]))
    return pairs


def reply_body(lead: str, ours: str, chat_id: int) -> dict[str, object]:
    uid = str(uuid.uuid4())
    return {
        "event_type": "message:received:new",
        "chat": {"chat_id": chat_id, "full_name": "Lead", "phone": lead, "is_group": False},
        "whatsapp_account": {"phone": ours, "full_name": "Sales", "email": "o@example.com"},
        "message": {
            "message_uid": uid, "text": "Sounds good, what is the price?", "direction": "received",
            "origin": "WhatsApp", "timestamp": "2026-01-06 12:00:00 +0200",
            "sender": {"full_name": "Lead", "phone": lead},
            "recipient": {"full_name": None, "phone": ours}, "attachments": [],
        },
    }  # fmt: skip


@dataclass
class Run:
    """One measurement: latencies (s), statuses, and the uids answered 2xx."""

    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    answered: set[str] = field(default_factory=set)
    seconds: float = 0.0

    def line(self, name: str) -> str:
        ordered = sorted(self.latencies)
        p50 = ordered[len(ordered) // 2] * 1000 if ordered else 0
        p99 = ordered[int(len(ordered) * 0.99)] * 1000 if ordered else 0
        return (
            f"{name:8} requests={len(ordered):7,} rate={self.rate:8.1f}/s "
            f"p50={p50:6.1f} ms p99={p99:6.1f} ms statuses={dict(sorted(self.statuses.items()))}"
        )

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def p99_ms(self) -> float:
        ordered = sorted(self.latencies)
        return ordered[int(len(ordered) * 0.99)] * 1000 if ordered else 0.0


async def post(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str,
               body: bytes) -> int:  # fmt: skip
    """One HTTP/1.1 keep-alive POST; the status code (a minimal client keeps ours cheap)."""
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    return status


async def load(port: int, pairs: list[tuple[str, str]], seconds: float, concurrency: int,
               rng: random.Random) -> Run:  # fmt: skip
    run = Run()
    path = f"/webhooks/timelinesai?secret={SECRET}"
    sent_bodies: list[bytes] = []
    deadline = time.perf_counter() + seconds

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < deadline:
                if sent_bodies and rng.random() < DUPLICATE_SHARE:
                    body = rng.choice(sent_bodies)
                else:
                    index = rng.randrange(len(pairs))
                    body = json.dumps(reply_body(*pairs[index], 100_000 + index)).encode()
                started = time.perf_counter()
                status = await post(reader, writer, path, body)
                run.latencies.append(time.perf_counter() - started)
                run.statuses[status] = run.statuses.get(status, 0) + 1
                if 200 <= status < 300:
                    run.answered.add(json.loads(body)["message"]["message_uid"])
                    if len(sent_bodies) < 10_000:
                        sent_bodies.append(body)
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    run.seconds = time.perf_counter() - started
    return run


def wait_healthy(port: int, path: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}{path}", timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the server on port {port} did not start")


def verify(database: Database, answered: set[str]) -> tuple[int, int, int]:
    """(answered uids missing from messages, uids stored twice, webhook events stored)."""
    with database.engine.connect() as connection:
        counts = dict(
            connection.execute(
                select(Message.message_uid, func.count()).group_by(Message.message_uid)  # type: ignore[arg-type]
            ).all()
        )
        events = connection.execute(select(func.count()).select_from(WebhookEvent)).scalar_one()
    missing = sum(1 for uid in answered if counts.get(uid, 0) == 0)
    twice = sum(1 for count in counts.values() if count > 1)
    return missing, twice, int(events)


def serve_bare(port: int, workers: int) -> None:
    """The bare app in ``workers`` uvicorn processes on one socket, as the receiver runs."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config("webhook:bare_app", factory=True, workers=workers,
                            access_log=False, log_level="warning")  # fmt: skip
    listener = bind_listener("127.0.0.1", port)
    listener.set_inheritable(True)
    with listener:
        Multiprocess(config, sockets=[listener]).run()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", choices=("all", "throughput", "busy"), default="all")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per endpoint")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight")
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    parser.add_argument(
        "--busy-duration", type=float, default=20.0, help="seconds per phase of the busy case"
    )
    parser.add_argument("--serve-bare", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        sys.path.insert(0, str(Path(__file__).parent))
        serve_bare(args.serve_bare, args.workers)
        return 0
    verdicts: list[tuple[str, bool]] = []
    if args.case in ("all", "throughput"):
        verdicts += throughput(args)
    if args.case in ("all", "busy"):
        from bench.webhook_busy import run_busy

        print(f"\nreplies at 100/s to the leads of 20 phones sending back-to-back, "
              f"{args.busy_duration:g} s, then as long after a worker SIGKILL")  # fmt: skip
        for phase in run_busy(args, SECRET, ROOT, wait_healthy):
            stored = verify_phase(phase)
            verdicts += [
                (f"{phase.name}: p99 < 100 ms", phase.quantile_ms(0.99) < 100),
                (f"{phase.name}: max < 1 s", phase.quantile_ms(1.0) < 1000),
                (f"{phase.name}: every reply 2xx, stored once",
                 set(phase.statuses) == {200} and stored),
            ]  # fmt: skip
    for label, ok in verdicts:
        print(f"{'PASS' if ok else 'FAIL'}  {label}")
    return 0 if all(ok for _, ok in verdicts) else 1


def verify_phase(phase: object) -> bool:
    """The busy case checks its own storage (it prints ``missing`` and ``stored_twice``)."""
    return bool(getattr(phase, "stored_ok", True))


def throughput(args: argparse.Namespace) -> list[tuple[str, bool]]:
    """The webhook against a bare endpoint, as fast as they answer."""
    namespace = f"bench-{uuid.uuid4().hex[:10]}"
    folder = Path(tempfile.mkdtemp(prefix="outreach-bench-"))
    processes: list[subprocess.Popen[bytes]] = []
    with scratch_database() as url:
        database = Database(url)
        try:
            database.upgrade()
            config = write_config(folder, url, namespace)
            with database.session() as session:
                sync_phones(session, load_settings(config).phones)
            pairs = seed(database)
            env = {k: v for k, v in os.environ.items() if not k.startswith("OUTREACH_")}
            env.update(OUTREACH_WEBHOOK_SECRET=SECRET, OUTREACH_LOG_LEVEL="WARNING")
            port, bare_port = free_port(), free_port()
            log = (folder / "webhook.log").open("wb")
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "cli", "webhook", "serve", "--config", str(config),
                 "--port", str(port), "--workers", str(args.workers)],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            ))  # fmt: skip
            processes.append(subprocess.Popen(
                [sys.executable, __file__, "--serve-bare", str(bare_port), "--workers", str(args.workers)],
                cwd=ROOT, env=env, start_new_session=True,
            ))  # fmt: skip
            wait_healthy(port, "/healthz")
            wait_healthy(bare_port, "/docs")
            print(f"{len(pairs)} leads over {len(PHONES)} phones; {args.workers} server processes, "
                  f"{args.concurrency} requests in flight, {args.duration:g} s per endpoint, "
                  f"{DUPLICATE_SHARE:.0%} redeliveries")  # fmt: skip
            asyncio.run(
                load(port, pairs, min(3.0, args.duration), args.concurrency, random.Random(1))
            )
            database.dispose()
            with database.engine.begin() as connection:  # the warm-up's rows do not count
                connection.exec_driver_sql(
                    "TRUNCATE webhook_events, review_flags, auto_replies, messages, suppressions"
                )
                connection.exec_driver_sql(
                    "UPDATE enrollments SET state = 'active', end_reason = NULL"
                )
            webhook = asyncio.run(
                load(port, pairs, args.duration, args.concurrency, random.Random(2))
            )
            bare = asyncio.run(
                load(bare_port, pairs, args.duration, args.concurrency, random.Random(2))
            )
            print(webhook.line("webhook"))
            print(bare.line("bare"))
            print(f"ratio    webhook/bare = {webhook.rate / bare.rate:.2f}")
            missing, twice, events = verify(database, webhook.answered)
            print(f"check    answered={len(webhook.answered):,} stored events={events:,} "
                  f"missing={missing} stored_twice={twice}")  # fmt: skip
            return [
                ("sustained >= 300 events/s", webhook.rate >= 300),
                ("p99 < 100 ms", webhook.p99_ms() < 100),
                ("none lost", missing == 0 and twice == 0 and events == len(webhook.answered)),
                ("no 5xx", not any(code >= 500 for code in webhook.statuses)),
            ]
        finally:
            for process in processes:
                stop(process, signal.SIGINT, timeout_s=30)
            database.dispose()
            client = redis.Redis.from_url(REDIS_URL)
            drop_namespace(client, namespace)
            client.close()


if __name__ == "__main__":
    sys.exit(main())
