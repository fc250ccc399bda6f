"""One process supervisor for every service that runs children.

``outreach worker`` runs its worker processes, ``outreach webhook serve --workers N``
its receiver processes and ``outreach serve`` every service, each child as a command
line (:func:`cli_command`) told everything in its arguments. A child that dies
unexpectedly is restarted; one that exits with status 2 (bad configuration) stops
everything, since restarting cannot help. SIGTERM or SIGINT is forwarded to every
child, and the supervisor waits for them up to a stop timeout (for the workers: the
send time limit plus a margin, so in-flight sends finish and queued messages stay in
Redis); a child still running then is killed.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
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
    """One child: its name in logs, the command line that runs it, what its environment
    adds to the supervisor's, and the open files it inherits (a listening socket)."""

    name: str
    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    pass_fds: tuple[int, ...] = ()


class Child(Protocol):
    """What the supervisor needs of a running child (``subprocess.Popen`` has it)."""

    pid: int

    def poll(self) -> int | None: ...

    def send_signal(self, sig: int) -> None: ...

    def wait(self, timeout: float | None = None) -> int: ...

    def kill(self) -> None: ...


Spawn = Callable[[ChildSpec, Mapping[str, str]], Child]


def spawn_process(spec: ChildSpec, env: Mapping[str, str]) -> Child:
    """Start ``spec`` in the supervisor's process group, sharing its stdout and stderr."""
    return subprocess.Popen(spec.argv, env={**env, **spec.env}, pass_fds=spec.pass_fds)


def cli_command(
    config_path: Path, *command: str, options: Sequence[str] = (), python: str = sys.executable
) -> tuple[str, ...]:
    """The command line of an ``outreach`` command on ``config_path``: ``options`` are the
    root's (``--log-format``), so a child is told everything in its arguments."""
    return (python, "-m", "cli", *options, *command, "--config", str(config_path))


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


def run_until_signalled(supervisor: Supervisor) -> int:
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
