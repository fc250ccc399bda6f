"""The shipped systemd examples stop cleanly and run commands the CLI accepts."""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path

import pytest

from cli.main import run
from engine.settings import WorkerSettings
from engine.supervisor import STOP_MARGIN_S

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
UNITS = sorted(DEPLOY.glob("*.service"))


def _service(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path)
    return parser["Service"]


def test_the_example_units_are_there() -> None:
    names = {path.name for path in UNITS}
    assert {"outreach-worker.service", "outreach-scheduler.service"} <= names
    assert {"outreach-webhook.service", "outreach-replies.service"} <= names


@pytest.mark.parametrize("unit", UNITS, ids=lambda path: path.name)
def test_each_unit_stops_on_sigterm_after_the_send_time_limit(unit: Path) -> None:
    service = _service(unit)
    assert service["KillSignal"] == "SIGTERM"
    assert service["Restart"] == "on-failure"
    assert service["EnvironmentFile"] == "/etc/outreach/outreach.env"
    command = shlex.split(service["ExecStart"])
    limit_s = WorkerSettings().send_time_limit_s
    if "serve" in unit.name:
        # serve waits for the worker, which waits for its processes: a margin each.
        assert float(service["TimeoutStopSec"]) > limit_s + 2 * STOP_MARGIN_S
    elif command[-1:] == ["worker"] and "replies" not in command:
        # The units that send wait for a send in flight to finish.
        assert float(service["TimeoutStopSec"]) > limit_s + STOP_MARGIN_S
    else:
        assert float(service["TimeoutStopSec"]) >= 30


@pytest.mark.parametrize("unit", UNITS, ids=lambda path: path.name)
def test_each_unit_runs_a_real_command(
    unit: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OUTREACH_LOG_FORMAT", "text")  # a unit may pass --log-format
    argv = shlex.split(_service(unit)["ExecStart"])
    assert argv[0].endswith("/outreach")
    assert run([*argv[1:], "--help"]) == 0
    capsys.readouterr()


def test_the_example_env_file_names_every_secret_and_service() -> None:
    text = (DEPLOY / "outreach.env.example").read_text()
    keys = {line.split("=", 1)[0] for line in text.splitlines() if "=" in line and line[0] != "#"}
    assert {
        "TIMELINESAI_TOKEN", "OUTREACH_WEBHOOK_SECRET", "OUTREACH_DATABASE_URL",
        "OUTREACH_REDIS_URL",
    } <= keys  # fmt: skip
