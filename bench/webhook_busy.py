"""The receiver's answer times while every phone sends back-to-back, and after a worker
holding leases is SIGKILLed: the second case of ``bench/webhook.py``.

20 phones with zero jitter on the simulator (no latency), ``outreach worker`` (2 processes
x 4 threads) sending first messages to thousands of leads without a pause, so each
phone's lease is taken nearly all the time; the receiver (``--workers`` processes) takes
replies of those leads at a steady rate. Phase one measures while they send; then one
worker process is SIGKILLed (its leases stay taken until their TTL, 90 s) and phase two
measures the seconds after. Targets: p99 < 100 ms and max < 1 s in both phases, every
reply answered 2xx and stored once.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import redis
from sqlalchemy import text

from bench import send_pipeline
from bench.scratch import REDIS_URL, drop_namespace, free_port, scratch_database, stop
from engine.broker import build_broker, declare_actors
from engine.db import Database
from engine.dispatcher import Dispatcher
from engine.settings import load_settings
from phones import sync_phones
from phones.lease import lease_key
from sequences import compiled_sequences

PHONES = 20
LEADS = 30_000


@dataclass
class Phase:
    """Answer times (s) and statuses of the replies posted in one phase, and the sends made."""

    name: str
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    answered: set[str] = field(default_factory=set)
    sends: int = 0
    seconds: float = 0.0
    stored_ok: bool = False

    def quantile_ms(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000 if ordered else 0.0

    def line(self) -> str:
        return (
            f"{self.name:22} replies={len(self.latencies):5,} p50={self.quantile_ms(0.5):6.1f} ms "
            f"p99={self.quantile_ms(0.99):6.1f} ms max={self.quantile_ms(1.0):7.1f} ms "
            f"statuses={dict(sorted(self.statuses.items()))} sends meanwhile={self.sends:,} "
            f"({self.sends / self.seconds if self.seconds else 0:.0f}/s)"
        )


def write_config(folder: Path, db_url: str, namespace: str, sim_api: str, port: int) -> Path:
    """The send pipeline benchmark's config (20 phones, zero jitter) and the receiver's port."""
    path = send_pipeline.write_config(folder, db_url, namespace, sim_api, PHONES)
    path.write_text(path.read_text() + f"[webhook]\nport = {port}\n")
    return path


def pairs(database: Database) -> list[tuple[str, str]]:
    """(lead, our phone) of every queued lead: its reply comes to the phone sending to it."""
    with database.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT l.phone, p.phone FROM enrollments e JOIN leads l ON l.id = e.lead_id "
                 "JOIN phones p ON p.id = e.phone_id")
        ).all()  # fmt: skip
    return [(str(lead), str(ours)) for lead, ours in rows]


def reply(lead: str, ours: str) -> bytes:
    body = {
        "event_type": "message:received:new",
        "chat": {"full_name": "Lead", "phone": lead, "is_group": False},
        "whatsapp_account": {"phone": ours},
        "message": {
            "message_uid": str(uuid.uuid4()), "text": "Yes, call me", "direction": "received",
            "sender": {"phone": lead}, "recipient": {"phone": ours}, "attachments": [],
        },
    }  # fmt: skip
    return json.dumps(body).encode()


async def post_steadily(
    port: int, secret: str, replies: list[tuple[str, str]], phase: Phase, seconds: float,
    rate: float, concurrency: int,
) -> None:  # fmt: skip
    """Post replies at ``rate`` a second over ``concurrency`` keep-alive connections."""
    from bench.webhook import post

    path = f"/webhooks/timelinesai?secret={secret}"
    deadline = time.perf_counter() + seconds
    gap_s = concurrency / rate

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < deadline and replies:
                lead, ours = replies.pop()
                body = reply(lead, ours)
                started = time.perf_counter()
                status = await post(reader, writer, path, body)
                elapsed = time.perf_counter() - started
                phase.latencies.append(elapsed)
                phase.statuses[status] = phase.statuses.get(status, 0) + 1
                if 200 <= status < 300:
                    phase.answered.add(json.loads(body)["message"]["message_uid"])
                await asyncio.sleep(max(0.0, gap_s - elapsed))
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    phase.seconds = time.perf_counter() - started


def sends_so_far(sim: httpx.Client) -> int:
    return int(sum(1 for r in sim.get("/_sim/requests").json() if r["method"] == "POST"))


def run_busy(args: object, secret: str, root: Path, wait_healthy: object) -> list[Phase]:
    """Both phases; returns them for the verdict (and prints their lines)."""
    duration = float(getattr(args, "busy_duration", 20.0))
    workers = int(getattr(args, "workers", 2))
    namespace = f"bench-busy-{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url(REDIS_URL)
    processes: list[subprocess.Popen[bytes]] = []
    folder = Path(os.environ.get("TMPDIR", "/tmp")) / f"outreach-busy-{uuid.uuid4().hex[:6]}"
    folder.mkdir()
    sim_port, port = free_port(), free_port()
    (folder / "sim.json").write_text(json.dumps({
        "accounts": [{"phone": f"+4477009{i:05d}"} for i in range(1, PHONES + 1)],
        "sent_events": False,
    }))  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("OUTREACH_")}
    env.update(OUTREACH_WEBHOOK_SECRET=secret, OUTREACH_LOG_LEVEL="WARNING",
               TIMELINESAI_TOKEN="bench")  # fmt: skip
    with scratch_database() as url:
        database = Database(url)
        try:
            database.upgrade()
            config = write_config(folder, url, namespace,
                                  f"http://127.0.0.1:{sim_port}/integrations/api", port)  # fmt: skip
            settings = load_settings(config, {"TIMELINESAI_TOKEN": "bench"})
            send_pipeline.seed(database, LEADS)
            with database.session() as session:
                sync_phones(session, settings.phones)
            actors = declare_actors(build_broker(settings), settings, lambda *a: None)
            Dispatcher(settings, compiled_sequences(settings), database, actors.enqueue).run_once(
                datetime.now(UTC)
            )
            replies = pairs(database)
            random.Random(3).shuffle(replies)

            def start(name: str, *argv: str) -> subprocess.Popen[bytes]:
                process = subprocess.Popen(
                    [sys.executable, "-m", "cli", *argv], cwd=root, env=env,
                    stdout=subprocess.DEVNULL, stderr=(folder / f"{name}.log").open("wb"),
                    start_new_session=True,
                )  # fmt: skip
                processes.append(process)
                return process

            start("simulator", "simulator", "serve", "--port", str(sim_port),
                  "--config", str(folder / "sim.json"))  # fmt: skip
            wait_healthy(sim_port, "/_sim/requests")  # type: ignore[operator]
            start("webhook", "webhook", "serve", "--config", str(config),
                  "--workers", str(workers))  # fmt: skip
            wait_healthy(port, "/healthz")  # type: ignore[operator]
            worker = start("worker", "worker", "--config", str(config), "--processes", "2",
                           "--threads", "4")  # fmt: skip
            sim = httpx.Client(base_url=f"http://127.0.0.1:{sim_port}", timeout=60)
            while sends_so_far(sim) < 200:  # every phone is sending back-to-back
                time.sleep(0.2)
            busy, killed = Phase("while phones send"), Phase("after a worker SIGKILL")
            before = sends_so_far(sim)
            asyncio.run(post_steadily(port, secret, replies, busy, duration, 100, 4))
            busy.sends = sends_so_far(sim) - before
            held = kill_a_worker(worker, client, namespace)
            before = sends_so_far(sim)
            asyncio.run(post_steadily(port, secret, replies, killed, duration, 100, 4))
            killed.sends = sends_so_far(sim) - before
            killed.name = f"after SIGKILL ({held} leases held)"
            sim.close()
            from bench.webhook import verify

            for phase in (busy, killed):
                print(phase.line())
                missing, twice, _ = verify(database, phase.answered)
                phase.stored_ok = missing == 0 and twice == 0
                print(f"{'':22} answered={len(phase.answered):,} missing={missing} "
                      f"stored_twice={twice}")  # fmt: skip
            return [busy, killed]
        finally:
            for process in reversed(processes):
                stop(process, signal.SIGINT, timeout_s=30)
            database.dispose()
            drop_namespace(client, namespace)
            client.close()


def kill_a_worker(supervisor: subprocess.Popen[bytes], client: redis.Redis, namespace: str) -> int:
    """SIGKILL one worker process of the supervisor; how many phone leases it left taken."""
    keys = [lease_key(namespace, f"{i:02d}") for i in range(1, PHONES + 1)]
    children = subprocess.run(
        ["pgrep", "-P", str(supervisor.pid)], capture_output=True, text=True, check=False
    ).stdout.split()
    victims = [
        int(pid)
        for pid in children
        if b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]
    before = client.mget(keys)
    os.kill(victims[0], signal.SIGKILL)
    time.sleep(0.5)
    after = client.mget(keys)
    return sum(1 for b, a in zip(before, after, strict=True) if b is not None and b == a)
