"""A phone its breaker stopped, as a person sees it: ``phones list`` and ``status`` say it
is cooling and until when, with the fix; ``phones resume`` lets it send at once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cli.main import run
from engine.db import Database
from engine.models import Phone
from tests.cli.test_phones_cli import site  # noqa: F401 - the scratch site, reused

REASON = "3 of its last 20 numbers were invalid"


@pytest.fixture
def cooling(request: pytest.FixtureRequest) -> Database:
    """The site of ``tests/cli/test_phones_cli.py`` with phone 01 cooling for 30 min."""
    root: Path = request.getfixturevalue("site")
    database = Database(f"sqlite:///{root / 'site.db'}")
    with database.session() as session:
        phone = session.get(Phone, "01")
        assert phone is not None
        phone.state, phone.state_reason, phone.trips = "cooling", REASON, 1
        phone.cooling_until = datetime.now(UTC) + timedelta(minutes=30)
        session.add(phone)
    return database


def test_a_cooling_phone_is_shown_with_its_end_and_can_be_resumed(
    cooling: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert run(["phones", "list", "--json"]) == 0
    first = json.loads(capsys.readouterr().out)[0]
    assert (first["state"], first["cooling_until"] is not None) == ("cooling", True)
    assert run(["phones", "list"]) == 0
    assert "cooling until" in capsys.readouterr().out
    assert run(["status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    [blocker] = [b for b in status["blockers"] if b["phone_id"] == "01"]
    assert (blocker["kind"], blocker["command"]) == ("phone_cooling", "outreach phones resume 01")
    assert REASON in blocker["reason"]
    assert status["phones"][0]["shown_state"].startswith("cooling until ")

    assert run(["phones", "resume", "01"]) == 0
    with cooling.session() as session:
        phone = session.get(Phone, "01")
        assert phone is not None
        assert (phone.state, phone.trips) == ("active", 1)  # its trips still double the next
    assert run(["phones", "resume", "01"]) == 1
    assert "phone 01 is active; nothing to do" in capsys.readouterr().err


def test_a_cooling_phone_can_be_paused_so_its_probe_does_not_bring_it_back(
    cooling: Database,
) -> None:
    assert run(["phones", "pause", "01"]) == 0
    with cooling.session() as session:
        phone = session.get(Phone, "01")
        assert phone is not None and phone.state == "paused"
