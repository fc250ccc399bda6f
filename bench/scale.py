"""Scale benchmark: what the number of phones costs Redis, idle and sending (issue 21).

For each number of phones (20, 200 and 1,000 by default), against a private
``redis-server`` of its own (so no other client's commands or CPU count):

- idle commands/s: one idle worker process (4 threads, both queues of every phone, as
  ``outreach worker`` has), Redis's INFO commandstats summed
  (every command, those run inside Lua scripts included) over a window;
- Redis CPU: ten such idle processes, Redis's used_cpu_user + used_cpu_sys over the
  window, as a share of one core;
- sends/s: the same total of messages (100,000: 20 phones x 5,000 or 1,000 phones x 100)
  pre-queued, then worked by 2 worker processes x 4 threads whose actors send nothing
  (each counts itself with one INCR), so the rate is the broker's alone, with no
  pacing: zero jitter. From a tenth of them done to nine tenths (past the start-up).

The workers are bench/scale_worker.py on the engine's own PhoneBroker. With ``--against
REV`` the same runs also use the code of git revision REV (``git archive`` into a
temporary folder, first on the children's PYTHONPATH), printed side by side.

    .venv/bin/python bench/scale.py [--phones 20,200,1000] [--quick] [--against REV]

``--quick``: 10,000 messages and 5 s windows (about 3 minutes; the full run about 8,
twice that with ``--against``). Targets: idle cost flat in the number of phones (at
most 2x from 20 to 1,000), Redis under 5% of a core with 10 idle processes at 1,000
phones, sends/s at 1,000 phones within 10% of the 20-phone figure.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[1]
CHILD = ROOT / "bench" / "scale_worker.py"
THREADS = 4
MAX_THREADS = 5_000  # no run starts more threads than this in all
SETTLE_S = 3.0  # after the workers say they are ready, before a window opens


@dataclass
class Row:
    phones: int
    idle_cmds_s: float = float("nan")
    cpu_pct: float = float("nan")
    idle10_cmds_s: float = float("nan")
    sends_s: float = float("nan")
    note: str = ""


class PrivateRedis:
    """A ``redis-server`` of the benchmark's own, keeping nothing on disk."""

    def __init__(self, folder: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("bench/scale.py: redis-server is not installed")
        with contextlib.closing(__import__("socket").socket()) as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = subprocess.Popen(
            [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "no", "--dir", str(folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        self.client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(redis.RedisError):
                if self.client.ping():
                    return
            if time.monotonic() > deadline:
                raise SystemExit("bench/scale.py: the private redis-server did not start")
            time.sleep(0.05)

    def commands(self) -> int:
        stats = self.client.info("commandstats")
        return sum(int(v["calls"]) for k, v in stats.items() if k.startswith("cmdstat_"))

    def cpu_s(self) -> float:
        info = self.client.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])

    def close(self) -> None:
        self.client.close()
        self.process.kill()
        self.process.wait()


def source_tree(rev: str, into: Path) -> Path:
    """The code of git revision ``rev``, unpacked into ``into``."""
    data = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", rev],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        tar.extractall(into, filter="data")
    return into


class Children:
    """Worker processes of one tree, stopped on exit."""

    def __init__(self, tree: Path) -> None:
        self.env = {**os.environ, "PYTHONPATH": str(tree)}
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, *args: object, wait_ready: bool = True) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, str(CHILD), *map(str, args)], env=self.env, cwd=self.env["PYTHONPATH"],
            stdout=subprocess.PIPE, start_new_session=True,
        )  # fmt: skip
        self.procs.append(process)
        if wait_ready:
            assert process.stdout is not None
            line = process.stdout.readline()
            if line.strip() != b"ready":
                raise RuntimeError(f"a worker did not start ({process.wait()})")
        return process

    def run(self, *args: object, parts: int = 4) -> None:
        """Run ``args`` in ``parts`` children at once (each given its part), to the end."""
        procs = [
            subprocess.Popen(
                [sys.executable, str(CHILD), *map(str, args), str(part), str(parts)],
                env=self.env,
                cwd=self.env["PYTHONPATH"],
                start_new_session=True,
            )
            for part in range(parts)
        ]
        self.procs += procs
        for process in procs:
            if process.wait() != 0:
                raise RuntimeError(f"a producer failed ({process.returncode})")

    def stop(self) -> None:
        for process in self.procs:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.procs:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.procs = []


@contextlib.contextmanager
def children(tree: Path) -> Iterator[Children]:
    group = Children(tree)
    try:
        yield group
    finally:
        group.stop()


def threads_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    return 0


def idle(server: PrivateRedis, tree: Path, ns: str, phones: int, processes: int,
         window_s: float) -> tuple[float, float, int]:  # fmt: skip
    """Redis commands/s and Redis CPU (% of a core) with ``processes`` idle workers, and
    the threads of the first."""
    with children(tree) as group:
        threads = 0
        for _ in range(processes):
            process = group.start("work", server.url, ns, phones, THREADS)
            threads = threads or threads_of(process.pid)
        time.sleep(SETTLE_S)
        commands, cpu, start = server.commands(), server.cpu_s(), time.monotonic()
        time.sleep(window_s)
        commands = server.commands() - commands
        cpu, took = server.cpu_s() - cpu, time.monotonic() - start
    return commands / took, 100 * cpu / took, threads


def throughput(server: PrivateRedis, tree: Path, ns: str, phones: int, messages: int,
               processes: int) -> float:  # fmt: skip
    """Sends/s of ``processes`` workers through ``messages`` pre-queued messages."""
    with children(tree) as group:
        group.run("enqueue", server.url, ns, phones, max(1, messages // phones))
        total = max(1, messages // phones) * phones
        done_key = f"{ns}:bench:done"
        for _ in range(processes):
            group.start("work", server.url, ns, phones, THREADS, wait_ready=False)
        # The steady rate: from a tenth done to nine tenths, past the workers' start-up
        # and the last phones' tail.
        low, high = total // 10, total - total // 10
        low_at = low_count = None
        deadline = time.monotonic() + 1800
        while time.monotonic() < deadline:
            done = int(server.client.get(done_key) or 0)
            now = time.monotonic()
            if low_at is None and done >= low:
                low_at, low_count = now, done
            if done >= high:
                assert low_at is not None
                assert low_count is not None
                return (done - low_count) / max(now - low_at, 1e-9)
            time.sleep(0.01)
    raise RuntimeError("the messages were not all worked within 30 minutes")


def measure(server: PrivateRedis, tree: Path, label: str, phones: int, args: argparse.Namespace,
            run: int) -> Row:  # fmt: skip
    row = Row(phones)
    ns = f"bench-scale-{label}-{phones}-{run}"
    print(f"  {label}: {phones} phones ...", file=sys.stderr, flush=True)
    row.idle_cmds_s, _, threads = idle(server, tree, ns + "-idle", phones, 1, args.window)
    # The machine is shared: no run of more threads than MAX_THREADS in all (the code
    # before the ready index had 4 Dramatiq consumer threads a phone in each process).
    if threads * 10 > MAX_THREADS:
        row.note += f" 10 idle not run: {threads:,} threads a process;"
    else:
        row.idle10_cmds_s, row.cpu_pct, _ = idle(
            server, tree, ns + "-idle10", phones, 10, args.window
        )
    if threads * args.processes > MAX_THREADS:
        row.note += f" sending not run: {threads:,} threads a process;"
    else:
        row.sends_s = throughput(server, tree, ns + "-send", phones, args.messages, args.processes)
    print(
        f"{label} {phones} phones: idle {row.idle_cmds_s:,.0f} cmd/s a process ({threads:,}"
        f" threads), 10 idle {row.idle10_cmds_s:,.0f} cmd/s at {row.cpu_pct:.1f}% CPU,"
        f" {row.sends_s:,.0f} sends/s",
        flush=True,
    )
    return row


def table(results: dict[str, list[Row]]) -> str:
    labels = list(results)
    head = ["phones"]
    for label in labels:
        head += [f"idle cmd/s/proc {label}", f"Redis CPU 10 idle {label}", f"sends/s {label}"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for index, row in enumerate(results[labels[0]]):
        cells = [str(row.phones)]
        for label in labels:
            other = results[label][index]
            base = results[label][0]
            cells += [
                f"{other.idle_cmds_s:,.0f} ({other.idle_cmds_s / base.idle_cmds_s:.2f}x)",
                f"{other.cpu_pct:.1f}% ({other.idle10_cmds_s:,.0f} cmd/s)",
                f"{other.sends_s:,.0f} ({other.sends_s / base.sends_s:.2f}x)",
            ]
        lines.append("| " + " | ".join(cells) + " |")
    notes = [f"{label} {r.phones}: {r.note}" for label in labels for r in results[label] if r.note]
    return "\n".join(lines + notes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--phones", default="20,200,1000", help="phone counts, comma-separated")
    parser.add_argument("--quick", action="store_true", help="10,000 messages, 5 s windows")
    parser.add_argument("--against", metavar="REV", help="also run git revision REV")
    parser.add_argument("--messages", type=int, help="messages per throughput run (100,000)")
    parser.add_argument("--window", type=float, help="seconds of each idle window (10)")
    parser.add_argument("--processes", type=int, default=2, help="worker processes sending")
    args = parser.parse_args()
    args.messages = args.messages or (10_000 if args.quick else 100_000)
    args.window = args.window or (5.0 if args.quick else 10.0)
    counts = [int(n) for n in args.phones.split(",")]
    with tempfile.TemporaryDirectory(prefix="outreach-scale-") as folder:
        trees = {"now": ROOT}
        if args.against:
            trees = {args.against: source_tree(args.against, Path(folder) / "against"), **trees}
        server = PrivateRedis(Path(folder))
        try:
            results: dict[str, list[Row]] = {label: [] for label in trees}
            for run, phones in enumerate(counts):
                for label, tree in trees.items():  # turn by turn: drift falls on both
                    results[label].append(measure(server, tree, label, phones, args, run))
        finally:
            server.close()
    print(
        f"bench/scale.py: {args.messages:,} messages per send run, {args.processes} x {THREADS}"
        f" threads sending; idle windows {args.window:.0f} s; a private redis-server"
    )
    print(table(results))


if __name__ == "__main__":
    main()
