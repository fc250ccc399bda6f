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
from engine.settings import PhoneSettings
from phones import sync_phones

CONFIG = """
[database]
url = "sqlite:///site.db"
[redis]
namespace = "{namespace}"
[[phones]]
id = "01"
phone = "+447700900001"
[[phones]]
id = "02"
phone = "+447700900002"
"""
REASON = "3 of its last 20 numbers were invalid"


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, redis_namespace: str) -> Database:
    for name in ("OUTREACH_CONFIG", "OUTREACH_DATABASE_URL", "OUTREACH_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "250")
    (tmp_path / "config.toml").write_text(CONFIG.format(namespace=redis_namespace))
    database = Database(f"sqlite:///{tmp_path / 'site.db'}")
    database.upgrade()
    with database.session() as session:
        sync_phones(session, (PhoneSettings("01", "+447700900001"),
                              PhoneSettings("02", "+447700900002")))  # fmt: skip
        phone = session.get(Phone, "01")
        assert phone is not None
        phone.state, phone.state_reason, phone.trips = "cooling", REASON, 1
        phone.cooling_until = datetime.now(UTC) + timedelta(minutes=30)
        session.add(phone)
    return database


def test_a_cooling_phone_is_shown_with_its_end_and_can_be_resumed(
    site: Database, capsys: pytest.CaptureFixture[str]
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
    with site.session() as session:
        phone = session.get(Phone, "01")
        assert phone is not None
        assert (phone.state, phone.trips) == ("active", 1)  # its trips still double the next
    assert run(["phones", "resume", "01"]) == 1
    assert "phone 01 is active; nothing to do" in capsys.readouterr().err


def test_a_cooling_phone_can_be_paused_so_its_probe_does_not_bring_it_back(
    site: Database,
) -> None:
    assert run(["phones", "pause", "01"]) == 0
    with site.session() as session:
        phone = session.get(Phone, "01")
        assert phone is not None and phone.state == "paused"
