"""Errors as a new user meets them: one line and the right exit status, never a traceback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cli.main import run
from engine.db import Database
from engine.models import Enrollment, Lead
from tests.seed import campaign_id


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (
        "OUTREACH_CONFIG", "OUTREACH_DATABASE_URL", "OUTREACH_REDIS_URL", "TIMELINESAI_TOKEN",
        "OUTREACH_WEBHOOK_SECRET", "OUTREACH_TIMELINESAI_BASE_URL",
    ):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")


def _one_line(err: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("command", [["phones", "list"], ["dispatch"], ["worker"], ["serve"]])
@pytest.mark.parametrize(
    ("variable", "url", "expected"),
    [
        ("OUTREACH_DATABASE_URL", "mysql://u@h/db", "postgresql+psycopg://"),
        ("OUTREACH_DATABASE_URL", "postgres://u@h/db", "postgresql+psycopg://"),
        ("OUTREACH_REDIS_URL", "localhost:6379", "redis://HOST:PORT/DB"),
    ],
)
def test_an_unusable_database_or_redis_url_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    command: list[str], variable: str, url: str, expected: str,
) -> None:  # fmt: skip
    (tmp_path / "config.toml").write_text("")
    monkeypatch.setenv(variable, url)
    assert run(command) == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith(f"error: {variable}: ") and expected in line


def test_brackets_in_an_error_are_text_not_markup(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "config.toml").write_text(
        '[sequences.intro]\ntimezone = "UTC"\n[[sequences.intro.steps]]\nafter = "0m"\n'
        'template = "Hi"\n'
    )
    assert run(["sequences", "show", "nosuch"]) == 1
    assert "add a [sequences.NAME] table" in _one_line(capsys.readouterr().err)
    (tmp_path / "config.toml").write_text('[sequences.intro]\ntimezone = "UTC"\n')
    assert run(["sequences", "list"]) == 2
    assert "add a [[sequences.intro.steps]] table" in _one_line(capsys.readouterr().err)


def test_a_folder_with_brackets_is_printed_as_it_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["init", "site[red]"]) == 0
    out = capsys.readouterr().out
    assert f"wrote site[red]{os.sep}config.toml" in out
    assert f"next: add your phones to site[red]{os.sep}config.toml" in out


@pytest.fixture
def dead_letter(tmp_path: Path) -> int:
    """A config, its database, and one running enrollment whose step 2 (index 1) failed."""
    assert run(["init"]) == 0
    with Database(f"sqlite:///{tmp_path / 'outreach.db'}").session() as session:
        lead = Lead(phone="+40712000001")
        session.add(lead)
        session.flush()
        enrollment = Enrollment(
            lead_id=lead.id or 0, sequence="intro", state="active", step=1, step_state="failed",
            last_error="ServerError: [503] upstream", campaign_id=campaign_id(session, "intro"),
        )  # fmt: skip
        session.add(enrollment)
        session.flush()
        assert enrollment.id is not None
        return enrollment.id


def test_dlq_list_numbers_steps_from_1_and_shows_the_error_whole(
    dead_letter: int, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert run(["dlq", "list"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if "intro" in line)
    cells = [cell.strip() for cell in row.split("│")]
    assert cells[1:4] == [str(dead_letter), "intro", "2"]
    assert "ServerError: [503] upstream" in row


def test_dlq_retry_of_an_unknown_id_is_one_line_exit_1_and_retries_nothing(
    tmp_path: Path, dead_letter: int, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert run(["dlq", "retry", str(dead_letter), "999"]) == 1
    line = _one_line(capsys.readouterr().err)
    assert "no dead letter for enrollment 999" in line and "nothing was retried" in line
    with Database(f"sqlite:///{tmp_path / 'outreach.db'}").session() as session:
        enrollment = session.get(Enrollment, dead_letter)
        assert enrollment is not None and enrollment.step_state == "failed"
    assert run(["dlq", "retry", str(dead_letter)]) == 0
    assert "1 step(s) due again" in capsys.readouterr().out


PHONE = '[[phones]]\nid = "01"\nphone = "+447700900001"\n'


@pytest.mark.parametrize("command", [["worker"], ["serve"]])
@pytest.mark.parametrize(
    ("body", "token", "expected"),
    [
        (PHONE, None, "TIMELINESAI_TOKEN is not set"),
        ("", "tok", "phones: no phones configured: add a [[phones]] table"),
        (PHONE + "[clock]\nspeed = 200\n", "tok", "clock.epoch: speed is 200, so the processes"),
    ],
)
def test_a_service_that_cannot_send_says_why_in_one_line_before_starting_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    command: list[str], body: str, token: str | None, expected: str,
) -> None:  # fmt: skip
    (tmp_path / "config.toml").write_text(body)
    if token:
        monkeypatch.setenv("TIMELINESAI_TOKEN", token)
    monkeypatch.setenv("OUTREACH_WEBHOOK_SECRET", "s")
    assert run(command) == 2
    captured = capsys.readouterr()
    assert expected in _one_line(captured.err)
    assert captured.out == ""  # nothing started, not even a child


@pytest.mark.parametrize("command", [["scheduler"], ["webhook", "serve"], ["replies", "worker"]])
def test_the_other_services_refuse_a_sped_up_clock_without_an_epoch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    command: list[str],
) -> None:  # fmt: skip
    (tmp_path / "config.toml").write_text(PHONE + "[clock]\nspeed = 200\n")
    monkeypatch.setenv("TIMELINESAI_TOKEN", "tok")
    monkeypatch.setenv("OUTREACH_WEBHOOK_SECRET", "s")
    assert run(command) == 2
    line = _one_line(capsys.readouterr().err)
    assert "clock.epoch" in line and "add e.g. epoch = 20" in line and "under [clock]" in line


def test_init_creates_the_database_where_the_environment_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    elsewhere = tmp_path / "data" / "elsewhere.db"
    elsewhere.parent.mkdir()
    monkeypatch.setenv("OUTREACH_DATABASE_URL", f"sqlite:///{elsewhere}")
    assert run(["init", "site"]) == 0
    assert f"database ready at sqlite:///{elsewhere}" in capsys.readouterr().out
    assert elsewhere.is_file() and not (tmp_path / "site" / "outreach.db").exists()
    assert Database(f"sqlite:///{elsewhere}").current_revision() is not None
    assert run(["phones", "list", "--config", "site/config.toml"]) == 0  # the same database
