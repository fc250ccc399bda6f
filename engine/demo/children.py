"""The demo's child processes: each in its own session, so stopping one stops its tree."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

OUTREACH = (sys.executable, "-m", "cli")


class Children:
    """Starts ``outreach`` commands as child processes and stops every one of them."""

    def __init__(self, folder: Path, env: Mapping[str, str]) -> None:
        self.folder = folder
        self.env = dict(env)
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str) -> None:
        with (self.folder / f"{name}.log").open("wb") as log:  # the child keeps its own copy
            self.processes[name] = subprocess.Popen(
                [*OUTREACH, *args], cwd=self.folder, env=self.env, stdout=log,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip

    def dead(self) -> list[str]:
        """The children that exited (on their own: none should while the demo runs)."""
        return [name for name, process in self.processes.items() if process.poll() is not None]

    def log_tail(self, name: str, lines: int = 15) -> str:
        try:
            text = (self.folder / f"{name}.log").read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop_all(self, timeout_s: float = 10.0) -> None:
        """SIGTERM every child's process group, then SIGKILL what is left after ``timeout_s``."""
        for process in self.processes.values():
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for process in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(max(deadline - time.monotonic(), 0.1))
            _signal_group(process, signal.SIGKILL)  # stragglers of the group, if any
            process.wait()
        self.processes.clear()


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


def wait_http(url: str, timeout_s: float, children: Children, name: str) -> bool:
    """Poll ``url`` until it answers 200, ``timeout_s`` passes or child ``name`` exits."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if name in children.dead():
            return False
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    return False
