"""The ``outreach serve`` supervisor with fake children: restarts, config errors, stopping."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path

from engine.serve import child_specs
from engine.supervisor import Child, ChildSpec, Supervisor, spawn_process
from engine.worker import worker_specs

SPECS = [ChildSpec("worker", ("w",)), ChildSpec("scheduler", ("s",))]


class FakeChild:
    """A child that exits when told to (``exit_with``), or on SIGTERM unless ``stubborn``."""

    next_pid = 100

    def __init__(self, stubborn: bool = False) -> None:
        FakeChild.next_pid += 1
        self.pid = FakeChild.next_pid
        self.code: int | None = None
        self.signals: list[int] = []
        self.stubborn = stubborn
        self.killed = False

    def poll(self) -> int | None:
        return self.code

    def send_signal(self, sig: int) -> None:
        self.signals.append(sig)
        if not self.stubborn:
            self.code = -sig

    def wait(self, timeout: float | None = None) -> int:
        if self.code is None:
            raise subprocess.TimeoutExpired("fake", timeout or 0)
        return self.code

    def kill(self) -> None:
        self.killed = True
        self.code = -signal.SIGKILL


class Spawner:
    def __init__(self, stubborn: bool = False) -> None:
        self.started: list[tuple[str, FakeChild]] = []
        self.stubborn = stubborn

    def __call__(self, spec: ChildSpec, env: Mapping[str, str]) -> Child:
        child = FakeChild(self.stubborn)
        self.started.append((spec.name, child))
        return child


def _run_in_thread(supervisor: Supervisor, stopping: threading.Event) -> list[int]:
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(supervisor.run(stopping)))
    thread.start()
    return result


def _wait(predicate: object, timeout_s: float = 5.0) -> None:
    done = threading.Event()
    for _ in range(int(timeout_s / 0.01)):
        if predicate():  # type: ignore[operator]
            return
        done.wait(0.01)
    raise AssertionError("timed out")


def test_sigterm_is_forwarded_and_a_clean_stop_exits_0() -> None:
    spawn = Spawner()
    stopping = threading.Event()
    stopping.set()
    assert Supervisor(SPECS, {}, stop_timeout_s=1, spawn=spawn).run(stopping) == 0
    assert [name for name, _ in spawn.started] == ["worker", "scheduler"]
    assert all(child.signals == [signal.SIGTERM] for _, child in spawn.started)


def test_a_child_that_dies_is_restarted() -> None:
    spawn = Spawner()
    stopping = threading.Event()
    supervisor = Supervisor(SPECS, {}, stop_timeout_s=1, restart_delay_s=0.01, spawn=spawn)
    result = _run_in_thread(supervisor, stopping)
    _wait(lambda: len(spawn.started) == 2)
    spawn.started[0][1].code = -signal.SIGKILL
    _wait(lambda: len(spawn.started) == 3)
    assert spawn.started[2][0] == "worker"
    stopping.set()
    _wait(lambda: result == [0])


def test_a_configuration_error_stops_everything_with_status_2() -> None:
    spawn = Spawner()
    stopping = threading.Event()
    supervisor = Supervisor(SPECS, {}, stop_timeout_s=1, restart_delay_s=0.01, spawn=spawn)
    result = _run_in_thread(supervisor, stopping)
    _wait(lambda: len(spawn.started) == 2)
    spawn.started[1][1].code = 2
    _wait(lambda: result == [2])
    assert len(spawn.started) == 2
    assert spawn.started[0][1].signals == [signal.SIGTERM]


def test_a_child_that_does_not_stop_in_time_is_killed_and_the_status_is_1() -> None:
    spawn = Spawner(stubborn=True)
    stopping = threading.Event()
    stopping.set()
    assert Supervisor(SPECS, {}, stop_timeout_s=0.05, spawn=spawn).run(stopping) == 1
    assert all(child.killed for _, child in spawn.started)


def test_the_children_run_the_outreach_commands_on_one_config() -> None:
    specs = child_specs(
        Path("/srv/config.toml"), worker_processes=3, threads=4, webhook_workers=2, python="py",
        options=("--log-format", "json"),
    )  # fmt: skip
    root = ("py", "-m", "cli", "--log-format", "json")
    assert [spec.argv for spec in specs] == [
        (*root, "worker", "--processes", "3", "--threads", "4", "--config", "/srv/config.toml"),
        (*root, "scheduler", "--config", "/srv/config.toml"),
        (*root, "webhook", "serve", "--workers", "2", "--config", "/srv/config.toml"),
        (*root, "replies", "worker", "--threads", "2", "--config", "/srv/config.toml"),
    ]
    with_console = child_specs(
        Path("/srv/config.toml"), worker_processes=1, threads=1, webhook_workers=1, python="py",
        console=True,
    )  # fmt: skip
    assert with_console[-1].name == "console"
    assert with_console[-1].argv == ("py", "-m", "cli", "console", "--config", "/srv/config.toml")


def test_the_worker_processes_are_told_everything_in_their_arguments() -> None:
    specs = worker_specs(Path("/srv/c.toml"), processes=2, threads=3, phones=["01", "07"])
    assert [spec.name for spec in specs] == ["worker-1", "worker-2"]
    assert specs[0].argv[1:] == (
        "-m", "cli", "worker", "--in-process", "--threads", "3", "--phones", "01,07",
        "--config", "/srv/c.toml",
    )  # fmt: skip
    assert specs[0].env == {} and specs[0].pass_fds == ()


def test_a_child_gets_its_own_environment_and_files_on_top_of_the_supervisors(
    tmp_path: Path,
) -> None:
    with (tmp_path / "shared").open("w") as shared:
        code = (
            "import os, sys; os.write(int(sys.argv[1]), "
            "(os.environ['FROM_SUPERVISOR'] + os.environ['FROM_SPEC']).encode())"
        )
        fd = shared.fileno()
        spec = ChildSpec(
            "child", (sys.executable, "-c", code, str(fd)), env={"FROM_SPEC": "b"}, pass_fds=(fd,)
        )
        assert spawn_process(spec, {"FROM_SUPERVISOR": "a"}).wait(timeout=30) == 0
    assert (tmp_path / "shared").read_text() == "ab"


class CountingSpawn:
    """Real child processes (:func:`spawn_process`), counted by name."""

    def __init__(self) -> None:
        self.started: list[str] = []

    def __call__(self, spec: ChildSpec, env: Mapping[str, str]) -> Child:
        self.started.append(spec.name)
        return spawn_process(spec, env)


def _run_bounded(supervisor: Supervisor, bound_s: float = 120.0) -> int:
    """Run until the supervisor returns; a supervisor that restarts a child forever is
    stopped after ``bound_s`` (and the test's assertions then fail)."""
    stopping = threading.Event()
    guard = threading.Timer(bound_s, stopping.set)
    guard.start()
    try:
        return supervisor.run(stopping)
    finally:
        guard.cancel()


def test_a_real_child_exiting_2_is_never_restarted_and_stops_the_rest() -> None:
    spawn = CountingSpawn()
    specs = [
        ChildSpec("steady", (sys.executable, "-c", "import time; time.sleep(120)")),
        ChildSpec("misconfigured", (sys.executable, "-c", "import sys; sys.exit(2)")),
    ]
    supervisor = Supervisor(specs, os.environ, stop_timeout_s=30, restart_delay_s=0.01,
                            spawn=spawn)  # fmt: skip
    assert _run_bounded(supervisor) == 2
    assert spawn.started == ["steady", "misconfigured"]
    assert supervisor.children["steady"].poll() == -signal.SIGTERM


def test_worker_processes_without_a_token_exit_2_once(tmp_path: Path) -> None:
    """``outreach worker --in-process`` children, as ``outreach worker`` starts them."""
    config = tmp_path / "config.toml"
    config.write_text('[[phones]]\nid = "01"\nphone = "+447700900001"\n')
    env = {k: v for k, v in os.environ.items() if k != "TIMELINESAI_TOKEN"}
    spawn = CountingSpawn()
    specs = worker_specs(config, processes=2, threads=1, phones=None)
    supervisor = Supervisor(specs, env, stop_timeout_s=30, restart_delay_s=0.01, spawn=spawn)
    assert _run_bounded(supervisor) == 2
    assert spawn.started == ["worker-1", "worker-2"]
