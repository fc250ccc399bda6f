"""``outreach leads resume NUMBER``: a person lets a lead's paused sequences go on, on
SQLite and PostgreSQL; the number as people write it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.main import run
from engine.db import Database
from engine.models import Enrollment
from tests.sequences.test_seq_lead_resume import _paused_pair

CONFIG = """
[database]
url = "{url}"
[leads]
default_region = "RO"
[[phones]]
id = "01"
phone = "+447700900001"
[sequences.s]
timezone = "UTC"
skip_holidays = false
[[sequences.s.steps]]
after = "0m"
template = "Hello"
[[sequences.s.steps]]
after = "2d"
template = "Again"
"""


@pytest.fixture
def site(database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Database:
    for name in ("OUTREACH_CONFIG", "OUTREACH_DATABASE_URL", "OUTREACH_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    (tmp_path / "config.toml").write_text(CONFIG.format(url=database.url))
    return database


def _state(database: Database, eid: int) -> tuple[str, str | None]:
    with database.session() as session:
        row = session.get(Enrollment, eid)
        assert row is not None
        return row.state, row.end_reason


def test_resume_lets_the_paused_sequence_go_on(
    site: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    eid, phone = _paused_pair(site)
    national = "0" + phone.removeprefix("+40")  # as people write it, read in RO
    capsys.readouterr()
    assert run(["leads", "resume", national]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert f"enrollment {eid} (s): resumed, pending" in out and "step 1 due" in out
    assert _state(site, eid) == ("pending", None)
    assert run(["leads", "resume", phone, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown == {"phone": phone, "enrollments": []}


def test_nothing_paused_says_so(site: Database, capsys: pytest.CaptureFixture[str]) -> None:
    _, phone = _paused_pair(site)
    assert run(["leads", "resume", phone]) == 0
    capsys.readouterr()
    assert run(["leads", "resume", phone]) == 0
    assert capsys.readouterr().out.strip() == f"Nothing of {phone} is paused: nothing to resume."


def test_an_unknown_number_is_one_line_and_exit_1(
    site: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["leads", "resume", "+40799999999"]) == 1
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines() == [
        "error: no lead +40799999999; see `outreach leads list`"
    ]
    assert run(["leads", "resume", "not a number"]) == 1
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
