"""Send pipeline benchmark: the engine against a bare Dramatiq actor, same simulator, one run.

20 phones, zero jitter, the simulator with zero latency, 10,000 first messages, 2 worker
processes. Prints sends/s for both, their ratio, the engine's database round trips and
Redis commands per send, and the CPU spent per send by the worker processes and by the
whole machine (steadier than rates on a shared machine). The two run in turn for
``--rounds`` rounds (3 by default) and the ratio's verdict is the median round's: this
machine's speed drifts by 15% within minutes. Target: at least half the bare actor's
rate, at most 6 database round trips per send.

    .venv/bin/python bench/send_pipeline.py [--messages 10000] [--threads 4] [--rounds 3]

Needs PostgreSQL and Redis on 127.0.0.1 (it creates and drops its own database and
uses its own Redis namespace).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import redis
from sqlalchemy import func, select, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.scratch import (  # noqa: E402
    REDIS_URL,
    drop_namespace,
    free_port,
    scratch_database,
    stop,
)
from engine.broker import build_broker, declare_actors  # noqa: E402
from engine.db import Database  # noqa: E402
from engine.dispatcher import Dispatcher  # noqa: E402
from engine.models import Enrollment  # noqa: E402
from engine.settings import load_settings  # noqa: E402
from sequences import compiled_sequences  # noqa: E402

PYTHON = sys.executable


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


def tree_cpu_s(root: int) -> float:
    """CPU seconds (user + system) used so far by the living descendants of ``root`` (Linux)."""
    tick = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[tuple[int, float]]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile
        used = (int(fields[11]) + int(fields[12])) / tick
        children.setdefault(int(fields[1]), []).append((int(stat.parent.name), used))
    total, todo = 0.0, [root]
    while todo:
        for pid, used in children.get(todo.pop(), []):
            total += used
            todo.append(pid)
    return total


def machine_busy_s() -> float:
    """CPU seconds the whole machine has spent busy (all cores, /proc/stat) since boot."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle and iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class SendWatch:
    """Follows the simulator's accepted sends, reading only its new log entries (the whole
    log on every poll would load the simulator the bare actor is measured on), and the CPU
    spent from the first accepted send to the last: by the worker processes under ``root``
    and by the whole machine (workers, simulator, Redis, PostgreSQL, this script)."""

    def __init__(self, sim_url: str, root: int) -> None:
        self._root = root
        # One client for all polls: a client per poll (httpx.get) costs the machine ~20 ms
        # of CPU each to build, which the runs being measured would pay for.
        self._http = httpx.Client(base_url=sim_url, timeout=60)
        self._since = self.accepted = 0
        self._first: tuple[int, float, float] | None = None
        self._last: tuple[int, float, float] | None = None

    def wait(self, count: int, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        try:
            while self.accepted < count:
                if time.monotonic() > deadline:
                    raise SystemExit(f"only {self.accepted} of {count} sends in {timeout_s:.0f} s")
                time.sleep(0.2)
                self._poll()
                if self._first is None and self.accepted:
                    self._first = (self.accepted, tree_cpu_s(self._root), machine_busy_s())
            self._last = (self.accepted, tree_cpu_s(self._root), machine_busy_s())
        finally:
            self._http.close()

    def cpu_ms_per_send(self) -> float:
        """Worker CPU milliseconds per send."""
        return self._per_send(1)

    def machine_ms_per_send(self) -> float:
        """Whole-machine busy CPU milliseconds per send."""
        return self._per_send(2)

    def _per_send(self, index: int) -> float:
        if self._first is None or self._last is None or self._last[0] == self._first[0]:
            return 0.0
        used = self._last[index] - self._first[index]
        return used / (self._last[0] - self._first[0]) * 1000

    def _poll(self) -> None:
        for row in self._http.get("/_sim/requests", params={"since": self._since}).json():
            if row["status_code"] is None:
                break  # still being answered: read it again next time
            self._since = row["seq"]
            self.accepted += row["method"] == "POST" and row["status_code"] == 200


def write_config(folder: Path, db_url: str, namespace: str, sim_api: str, phones: int) -> Path:
    lines = [
        f'[database]\nurl = "{db_url}"',
        f'[redis]\nnamespace = "{namespace}"',
        f'[timelinesai]\nbase_url = "{sim_api}"\nrequests_per_minute = 100000000',
        "[pacing]\njitter_min_s = 0\njitter_max_s = 0",
        # The hourly cap set high: its count runs in every claim and never binds (at 80 an
        # hour, the default, 20 phones would stop at 1,600 of the 10,000).
        "[quota]\nnew_contacts_per_day = 1000000\nnew_contacts_per_hour = 1000000\nwarmup = []",
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
                "INSERT INTO campaigns (id, name, sequence, state, created_at, updated_at) "
                "VALUES (1, 'bench', 'bench', 'active', :n, :n)"
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
                "INSERT INTO enrollments (lead_id, campaign_id, sequence, state, step, step_state, "
                "due_at, attempts, created_at, updated_at) "
                "SELECT id, 1, 'bench', 'pending', 0, 'due', :n, 0, :n, :n FROM leads"
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


def start_workers(
    module: list[str], args: argparse.Namespace, env: dict[str, str], log: Path
) -> subprocess.Popen[bytes]:
    """``python -m <module...>`` with the run's processes and threads, in a session of its own."""
    command = [PYTHON, "-m", *module, "--processes", str(args.processes)]
    return subprocess.Popen(
        [*command, "--threads", str(args.threads)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
        start_new_session=True,
    )


def run_engine(
    args: argparse.Namespace, folder: Path, sim_url: str, r: redis.Redis
) -> dict[str, float]:
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    with scratch_database() as db_url:
        try:
            config = write_config(
                folder, db_url, namespace, f"{sim_url}/integrations/api", args.phones
            )
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
            round_trips_file.unlink(missing_ok=True)  # an earlier round's counts
            env = {
                **os.environ,
                "TIMELINESAI_TOKEN": "bench",
                "OUTREACH_LOG_LEVEL": "WARNING",
                "OUTREACH_ROUND_TRIPS_FILE": str(round_trips_file),
            }
            before = redis_commands(r)
            worker = start_workers(
                ["cli", "worker", "--config", str(config)], args, env, folder / "engine.log"
            )
            watch = SendWatch(sim_url, worker.pid)
            watch.wait(args.messages, args.timeout)
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
                "cpu": watch.cpu_ms_per_send(),
                "machine": watch.machine_ms_per_send(),
            }
        finally:
            drop_namespace(r, namespace)


def run_bare(
    args: argparse.Namespace, folder: Path, sim_url: str, r: redis.Redis
) -> dict[str, float]:
    # One namespace for every round: the bare actors bind their broker when first imported.
    namespace = os.environ.get("BENCH_NAMESPACE") or f"bench-bare-{uuid.uuid4().hex[:8]}"
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
        worker = start_workers(["dramatiq", "bench.bare_actor"], args, env, folder / "bare.log")
        watch = SendWatch(sim_url, worker.pid)
        watch.wait(args.messages, args.timeout)
        stop(worker)
        redis_used = redis_delta(r, before)
        sends, seconds = sim_window(sim_url)
        return {
            "sends": sends,
            "seconds": seconds,
            "round_trips": 0.0,
            "redis": sum(redis_used.values()) / max(sends, 1),
            "cpu": watch.cpu_ms_per_send(),
            "machine": watch.machine_ms_per_send(),
        }
    finally:
        drop_namespace(r, namespace)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--phones", type=int, default=20)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument(
        "--rounds", type=int, default=3, help="bare-then-engine rounds; the verdict is the median"
    )
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()
    r = redis.Redis.from_url(REDIS_URL)
    rounds: list[dict[str, dict[str, float]]] = []
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
            for number in range(1, args.rounds + 1):
                results = {}
                for name, run in (("bare actor", run_bare), ("engine", run_engine)):
                    httpx.post(f"{sim_url}/_sim/reset", timeout=30)
                    results[name] = run(args, folder, sim_url, r)
                    print(f"  round {number}: {name} done", file=sys.stderr)
                rounds.append(results)
        finally:
            stop(sim)
    report(args, rounds)


def report(args: argparse.Namespace, rounds: list[dict[str, dict[str, float]]]) -> None:
    """A table with a line per run, then the verdicts on the median round."""
    print(
        f"\nsend pipeline: {args.messages} first messages, {args.phones} phones, zero jitter, "
        f"{args.processes} worker processes x {args.threads} threads, simulator on loopback\n"
    )
    print(
        f"{'':18} {'sends':>7} {'seconds':>8} {'sends/s':>8} {'db trips/send':>14} "
        f"{'redis cmds/send':>16} {'worker CPU ms/send':>19} {'machine CPU ms/send':>20}"
    )
    ratios = []
    for number, results in enumerate(rounds, 1):
        for name, res in results.items():
            res["rate"] = res["sends"] / res["seconds"] if res["seconds"] else 0.0
            shown = f"{res['round_trips']:.2f}" if name == "engine" else "-"
            print(
                f"{f'{number}: {name}':18} {int(res['sends']):>7} {res['seconds']:>8.1f} "
                f"{res['rate']:>8.0f} {shown:>14} {res['redis']:>16.1f} {res['cpu']:>19.2f} "
                f"{res['machine']:>20.2f}"
            )
        ratios.append(results["engine"]["rate"] / results["bare actor"]["rate"])
    ratio = statistics.median(ratios)
    each = ", ".join(f"{value:.2f}" for value in ratios)
    print(
        f"\nengine / bare = {ratio:.2f}, median of rounds ({each}) "
        f"(target >= 0.50): {'PASS' if ratio >= 0.5 else 'MISS'}"
    )
    trips = max(results["engine"]["round_trips"] for results in rounds)
    print(
        f"database round trips per send = {trips:.2f}, worst round "
        f"(target <= 6): {'PASS' if trips <= 6 else 'MISS'}"
    )


if __name__ == "__main__":
    main()
