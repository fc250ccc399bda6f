"""``outreach serve``: every service of a deployment in one process tree.

The workers send, the scheduler dispatches due steps and runs the maintenance jobs,
the webhook receiver takes TimelinesAI's events, and the replies worker classifies
replies, raises review flags, sends notifications and checks unknown sent messages.

For a small deployment on one machine. The supervisor starts each service as a
child process running its own ``outreach`` command, so a child behaves exactly as
when run alone: the worker supervises its own worker processes, the receiver its
uvicorn processes. A child that dies unexpectedly is restarted; one that exits
with status 2 (bad configuration) stops everything, since restarting cannot help.
SIGTERM or SIGINT is forwarded to every child, and the supervisor waits for them
up to the send time limit plus a margin, so in-flight sends finish and queued
messages stay in Redis.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

log = logging.getLogger("outreach.serve")

RESTART_DELAY_S = 1.0
POLL_INTERVAL_S = 0.25
# Beyond the send time limit: process start-up, the broker's ack, closing connections.
STOP_MARGIN_S = 15.0
CONFIG_ERROR = 2
# A child stopped by our own forwarded signal may die of it (uvicorn re-raises it).
_CLEAN_EXITS = frozenset({0, -signal.SIGTERM, -signal.SIGINT})


@dataclass(frozen=True)
class ChildSpec:
    """One service: its name in logs and the command line that runs it."""

    name: str
    argv: tuple[str, ...]


class Child(Protocol):
    """What the supervisor needs of a running child (``subprocess.Popen`` has it)."""

    pid: int

    def poll(self) -> int | None: ...

    def send_signal(self, sig: int) -> None: ...

    def wait(self, timeout: float | None = None) -> int: ...

    def kill(self) -> None: ...


Spawn = Callable[[ChildSpec, Mapping[str, str]], Child]


def child_specs(
    config_path: Path,
    *,
    worker_processes: int,
    threads: int,
    webhook_workers: int,
    reply_threads: int = 2,
    python: str = sys.executable,
) -> list[ChildSpec]:
    """The four services as ``python -m cli`` commands on the same config file."""
    base = (python, "-m", "cli")
    config = ("--config", str(config_path))
    worker = ("worker", "--processes", str(worker_processes), "--threads", str(threads))
    webhook = ("webhook", "serve", "--workers", str(webhook_workers))
    replies = ("replies", "worker", "--threads", str(reply_threads))
    return [
        ChildSpec("worker", (*base, *worker, *config)),
        ChildSpec("scheduler", (*base, "scheduler", *config)),
        ChildSpec("webhook", (*base, *webhook, *config)),
        ChildSpec("replies", (*base, *replies, *config)),
    ]


def spawn_process(spec: ChildSpec, env: Mapping[str, str]) -> Child:
    """Start ``spec`` in the supervisor's process group, sharing its stdout and stderr."""
    return subprocess.Popen(spec.argv, env=dict(env))


class Supervisor:
    """Keeps the children running until ``stopping`` is set, then stops them all.

    ``stop_timeout_s`` bounds the wait for the children after the signal is forwarded;
    a child still running then is killed, and :meth:`run` returns 1.
    """

    def __init__(
        self,
        specs: Sequence[ChildSpec],
        env: Mapping[str, str],
        *,
        stop_timeout_s: float,
        restart_delay_s: float = RESTART_DELAY_S,
        spawn: Spawn = spawn_process,
    ) -> None:
        self.specs = list(specs)
        self.env = dict(env)
        self.stop_timeout_s = stop_timeout_s
        self.restart_delay_s = restart_delay_s
        self.spawn = spawn
        self.children: dict[str, Child] = {}

    def run(self, stopping: threading.Event) -> int:
        """Start, watch and restart the children; stop them when ``stopping`` is set."""
        status = 0
        try:
            for spec in self.specs:
                self._start(spec)
            while not stopping.is_set():
                failed = self._restart_dead(stopping)
                if failed is not None:
                    status = failed
                    break
                stopping.wait(POLL_INTERVAL_S)
        finally:
            stopped = self.stop()
        return status or (0 if stopped else 1)

    def stop(self) -> bool:
        """Forward SIGTERM to every running child and wait; True when all exited in time."""
        for name, child in self.children.items():
            if child.poll() is None:
                log.info("stopping %s (pid %d)", name, child.pid)
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout_s
        clean = True
        for name, child in self.children.items():
            try:
                code = child.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.error("%s (pid %d) did not stop in time; killing it", name, child.pid)
                child.kill()
                child.wait()
                clean = False
                continue
            if code not in _CLEAN_EXITS:
                log.warning(
                    "%s (pid %d) exited with status %d while stopping", name, child.pid, code
                )
        return clean

    def _start(self, spec: ChildSpec) -> None:
        child = self.spawn(spec, self.env)
        self.children[spec.name] = child
        log.info("started %s (pid %d)", spec.name, child.pid)

    def _restart_dead(self, stopping: threading.Event) -> int | None:
        """Restart each child that exited; the status to stop with on a configuration error."""
        for spec in self.specs:
            code = self.children[spec.name].poll()
            if code is None or stopping.is_set():
                continue
            if code == CONFIG_ERROR:
                log.error("%s exited with status 2 (configuration); stopping", spec.name)
                return CONFIG_ERROR
            log.warning("%s exited with status %d; restarting", spec.name, code)
            if stopping.wait(self.restart_delay_s):
                return None
            self._start(spec)
        return None


def serve(supervisor: Supervisor) -> int:
    """Run ``supervisor`` until SIGTERM or SIGINT; the exit status (0 after a clean stop)."""
    stopping = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stopping.set())
        for sig in (signal.SIGTERM, signal.SIGINT)
    }
    try:
        return supervisor.run(stopping)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
