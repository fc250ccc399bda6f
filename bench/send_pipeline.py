"""Send pipeline benchmark: the engine against a bare Dramatiq actor, same simulator, one run.

20 phones, zero jitter, the simulator with zero latency, 10,000 first messages, 2 worker
processes. Prints sends/s for both, their ratio, and the engine's database round trips
and Redis commands per send. Target: at least half the bare actor's rate, at most 6
database round trips per send.

    .venv/bin/python bench/send_pipeline.py [--messages 10000] [--threads 4]

Needs PostgreSQL and Redis on 127.0.0.1 (it creates and drops its own database and
uses its own Redis namespace).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
import redis
from sqlalchemy import func, select, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.db import Database  # noqa: E402
from engine.dispatcher import Dispatcher  # noqa: E402
from engine.models import Enrollment  # noqa: E402
from engine.queues import build_broker, declare_actors  # noqa: E402
from engine.settings import compiled_sequences, load_settings  # noqa: E402

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=test"
REDIS_URL = "redis://127.0.0.1:6379/0"
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redis_commands(client: redis.Redis) -> dict[str, int]:
    stats = client.info("commandstats")
    return {
        k[len("cmdstat_") :]: int(v["calls"]) for k, v in stats.items() if k.startswith("cmdstat_")
    }


def redis_delta(client: redis.Redis, before: dict[str, int]) -> dict[str, int]:
    after = redis_commands(client)
    return {k: after[k] - before.get(k, 0) for k in after if after[k] - before.get(k, 0) > 0}


def sim_window(sim_url: str) -> tuple[int, float]:
    """Accepted sends in the simulator's log and the seconds from the first to the last."""
    rows = httpx.get(f"{sim_url}/_sim/requests", timeout=60).json()
    sends = [r for r in rows if r["method"] == "POST" and r["status_code"] == 200]
    times = sorted(datetime.fromisoformat(r["received_at"]) for r in sends)
    return len(sends), (times[-1] - times[0]).total_seconds() if len(times) > 1 else 0.0


def write_config(folder: Path, db_url: str, namespace: str, sim_api: str, phones: int) -> Path:
    lines = [
        f'[database]\nurl = "{db_url}"',
        f'[redis]\nnamespace = "{namespace}"',
        f'[timelinesai]\nbase_url = "{sim_api}"\nrequests_per_minute = 100000000',
        "[pacing]\njitter_min_s = 0\njitter_max_s = 0",
        "[quota]\nnew_contacts_per_day = 1000000\nwarmup = []",
        "[scheduler]\nmax_queued_per_phone = 100000\nqueue_ahead_s = 100000000",
        '[sequences.bench]\ntimezone = "UTC"\n[[sequences.bench.steps]]\nafter = "0m"\n'
        'template = "{Hi|Hello} {{name|there}}, a short note [s0]"',
    ]
    lines += [
        f'[[phones]]\nid = "{i:02d}"\nphone = "+4477009{i:05d}"' for i in range(1, phones + 1)
    ]
    path = folder / "config.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def seed(database: Database, count: int) -> None:
    now = datetime.now(UTC)
    with database.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO campaigns (sequence, state, created_at, updated_at) VALUES ('bench', 'active', :n, :n)"
            ),
            {"n": now},
        )
        connection.execute(
            text(
                "INSERT INTO leads (phone, variables, created_at, updated_at) "
                "SELECT '+4079' || lpad(g::text, 7, '0'), json_build_object('name', 'Lead' || g), :n, :n "
                "FROM generate_series(1, :count) g"
            ),
            {"n": now, "count": count},
        )
        connection.execute(
            text(
                "INSERT INTO enrollments (lead_id, sequence, state, step, step_state, due_at, attempts, created_at, updated_at) "
                "SELECT id, 'bench', 'pending', 0, 'due', :n, 0, :n, :n FROM leads"
            ),
            {"n": now},
        )


def wait_done(database: Database, count: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with database.engine.connect() as connection:
            done = connection.execute(
                select(func.count()).select_from(Enrollment).where(Enrollment.state == "completed")  # type: ignore[arg-type]
            ).scalar_one()
        if done >= count:
            return
        time.sleep(0.5)
    raise SystemExit(f"engine run did not finish in {timeout_s:.0f} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def run_engine(
    args: argparse.Namespace, folder: Path, sim_url: str, r: redis.Redis
) -> dict[str, float]:
    name = f"outreach_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    db_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    try:
        config = write_config(folder, db_url, namespace, f"{sim_url}/integrations/api", args.phones)
        settings = load_settings(config, {"TIMELINESAI_TOKEN": "bench"})
        database = Database(db_url)
        database.upgrade()
        seed(database, args.messages)
        from phones import sync_phones

        with database.session() as session:
            sync_phones(session, settings.phones)
        actors = declare_actors(build_broker(settings), settings, lambda *a: None)
        report = Dispatcher(
            settings, compiled_sequences(settings), database, actors.enqueue
        ).run_once(datetime.now(UTC))
        assert report.first_messages == args.messages, report
        round_trips_file = folder / "round_trips.txt"
        env = {
            **os.environ,
            "TIMELINESAI_TOKEN": "bench",
            "OUTREACH_LOG_LEVEL": "WARNING",
            "OUTREACH_ROUND_TRIPS_FILE": str(round_trips_file),
        }
        before = redis_commands(r)
        worker = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "cli",
                "worker",
                "--config",
                str(config),
                "--processes",
                str(args.processes),
                "--threads",
                str(args.threads),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(folder / "engine.log").open("wb"),
            start_new_session=True,
        )
        wait_done(database, args.messages, args.timeout)
        stop(worker)
        redis_used = redis_delta(r, before)
        sends, seconds = sim_window(sim_url)
        round_trips = sum(
            int(line.split()[1]) for line in round_trips_file.read_text().splitlines()
        )
        database.dispose()
        top = sorted(redis_used.items(), key=lambda kv: -kv[1])[:6]
        detail = ", ".join(f"{name} {count / sends:.1f}" for name, count in top)
        print(f"  engine redis commands per send: {detail}", file=sys.stderr)
        return {
            "sends": sends,
            "seconds": seconds,
            "round_trips": round_trips / sends,
            "redis": sum(redis_used.values()) / sends,
        }
    finally:
        for key in r.scan_iter(match=f"{namespace}*", count=1000):
            r.delete(key)
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_bare(
    args: argparse.Namespace, folder: Path, sim_url: str, r: redis.Redis
) -> dict[str, float]:
    namespace = f"bench-bare-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "BENCH_REDIS_URL": REDIS_URL,
        "BENCH_NAMESPACE": namespace,
        "BENCH_SIM_URL": f"{sim_url}/integrations/api",
        "BENCH_PHONES": str(args.phones),
    }
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import bench.bare_actor as bare

    try:
        for index in range(args.messages):
            phone_id = index % args.phones + 1
            bare.ACTORS[f"phone_{phone_id:02d}"].send(
                f"+4079{index:07d}",
                f"Hello Lead{index}, a short note [s0]",
                f"+4477009{phone_id:05d}",
            )
        before = redis_commands(r)
        worker = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "dramatiq",
                "bench.bare_actor",
                "--processes",
                str(args.processes),
                "--threads",
                str(args.threads),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(folder / "bare.log").open("wb"),
            start_new_session=True,
        )
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline and sim_window(sim_url)[0] < args.messages:
            time.sleep(0.5)
        stop(worker)
        redis_used = redis_delta(r, before)
        sends, seconds = sim_window(sim_url)
        return {
            "sends": sends,
            "seconds": seconds,
            "round_trips": 0.0,
            "redis": sum(redis_used.values()) / max(sends, 1),
        }
    finally:
        for key in r.scan_iter(match=f"{namespace}*", count=1000):
            r.delete(key)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--phones", type=int, default=20)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()
    r = redis.Redis.from_url(REDIS_URL)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        port = free_port()
        accounts = {
            "accounts": [{"phone": f"+4477009{i:05d}"} for i in range(1, args.phones + 1)],
            "sent_events": False,
        }
        (folder / "sim.json").write_text(json.dumps(accounts))
        sim = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "cli",
                "simulator",
                "serve",
                "--port",
                str(port),
                "--config",
                str(folder / "sim.json"),
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=(folder / "sim.log").open("wb"),
            start_new_session=True,
        )
        sim_url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(100):
                try:
                    httpx.get(f"{sim_url}/_sim/requests", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.2)
            results = {}
            for name, run in (("bare actor", run_bare), ("engine", run_engine)):
                httpx.post(f"{sim_url}/_sim/reset", timeout=30)
                results[name] = run(args, folder, sim_url, r)
                print(f"  {name}: done", file=sys.stderr)
        finally:
            stop(sim)
    print(
        f"\nsend pipeline: {args.messages} first messages, {args.phones} phones, zero jitter, "
        f"{args.processes} worker processes x {args.threads} threads, simulator on loopback\n"
    )
    print(
        f"{'':12} {'sends':>7} {'seconds':>8} {'sends/s':>8} {'db trips/send':>14} {'redis cmds/send':>16}"
    )
    for name, res in results.items():
        rate = res["sends"] / res["seconds"] if res["seconds"] else 0.0
        res["rate"] = rate
        trips = f"{res['round_trips']:.2f}" if name == "engine" else "-"
        print(
            f"{name:12} {int(res['sends']):>7} {res['seconds']:>8.1f} {rate:>8.0f} {trips:>14} {res['redis']:>16.1f}"
        )
    ratio = results["engine"]["rate"] / results["bare actor"]["rate"]
    print(f"\nengine / bare = {ratio:.2f} (target >= 0.50): {'PASS' if ratio >= 0.5 else 'MISS'}")
    trips = results["engine"]["round_trips"]
    print(
        f"database round trips per send = {trips:.2f} (target <= 6): {'PASS' if trips <= 6 else 'MISS'}"
    )


if __name__ == "__main__":
    main()
