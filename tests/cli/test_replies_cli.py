"""``outreach replies review|assign|resolve`` and ``outreach leads show`` as a person uses them:
full numbers to call back, names, campaigns, waiting times, who has each reply."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cli.main import run
from engine.db import Database
from engine.models import Enrollment, Lead, Message, Phone, ReviewFlag
from tests.seed import campaign_id

CONFIG = """
[database]
url = "sqlite:///x.db"
[replies]
review_sla_h = 4
[[phones]]
id = "01"
phone = "+447700900001"
[sequences.intro]
timezone = "UTC"
[[sequences.intro.steps]]
after = "0m"
template = "Hello {{name}}"
[[sequences.intro.steps]]
after = "2d"
template = "Again, {{name}}"
"""

NUMBER = "+40712343644"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("OUTREACH_CONFIG", "OUTREACH_DATABASE_URL", "OUTREACH_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")


@pytest.fixture
def site(tmp_path: Path) -> Database:
    """A lead who got step 1, answered it ("call me tomorrow at 10") and is flagged."""
    (tmp_path / "config.toml").write_text(CONFIG)
    database = Database(f"sqlite:///{tmp_path / 'x.db'}")
    database.upgrade()
    now = datetime.now(UTC)
    with database.session() as session:
        cid = campaign_id(session, "spring", sequence="intro")
        session.add(Phone(id="01", phone="+447700900001"))
        lead = Lead(phone=NUMBER, variables={"first_name": "Ioana", "last_name": "Pop"})
        session.add(lead)
        session.flush()
        enrollment = Enrollment(
            lead_id=lead.id or 0,
            campaign_id=cid,
            sequence="intro",
            state="replied",
            step=1,
            step_state="due",
            phone_id="01",
            end_reason="replied",
            ended_at=now - timedelta(hours=5),
        )
        session.add(enrollment)
        session.flush()
        session.add(Message(direction="out", enrollment_id=enrollment.id, step=0,
                            lead_id=lead.id, phone_id="01", text="Hello Ioana", status="read",
                            sent_at=now - timedelta(hours=6)))  # fmt: skip
        reply = Message(direction="in", enrollment_id=enrollment.id, step=0, lead_id=lead.id,
                        phone_id="01", text="Sunați-mă mâine la 10", status="received",
                        intent="schedule_call", sent_at=now - timedelta(hours=5))  # fmt: skip
        session.add(reply)
        session.flush()
        session.add(ReviewFlag(message_id=reply.id or 0, lead_id=lead.id,
                               enrollment_id=enrollment.id, priority=2,
                               created_at=now - timedelta(hours=5),
                               reasons={"matched": {"human_review": ["suna"]}}))  # fmt: skip
    return database


def test_review_shows_the_full_number_name_campaign_age_and_overdue_mark(
    site: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["replies", "review"]) == 0
    out = capsys.readouterr().out
    assert NUMBER in out and "••••" not in out  # the whole number, to call back
    assert "Ioana Pop" in out and "spring" in out and "Sunați-mă mâine la 10" in out
    assert "5h 00m OVERDUE" in out or "4h 59m OVERDUE" in out  # SLA 4 h
    assert "1 overdue" in out


def test_review_as_json(site: Database, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["replies", "review", "--json"]) == 0
    [item] = json.loads(capsys.readouterr().out)["review"]
    assert (item["phone"], item["name"], item["campaign"]) == (NUMBER, "Ioana Pop", "spring")
    assert (item["intent"], item["priority"], item["overdue"]) == ("schedule_call", 2, True)
    assert 5 * 3600 - 60 < item["age_s"] < 5 * 3600 + 60
    assert item["assigned_to"] is None


def test_assign_then_resolve_a_flag(site: Database, capsys: pytest.CaptureFixture[str]) -> None:
    [flag] = json.loads(_json(capsys, ["replies", "review", "--json"]))["review"]
    assert run(["replies", "assign", str(flag["id"]), "maria@example.com"]) == 0
    [mine] = json.loads(
        _json(capsys, ["replies", "review", "--json", "--assigned-to", "maria@example.com"])
    )["review"]
    assert mine["assigned_to"] == "maria@example.com" and mine["assigned_at"]
    assert run(["replies", "resolve", str(flag["id"]), "--by", "maria@example.com"]) == 0
    assert json.loads(_json(capsys, ["replies", "review", "--json"]))["review"] == []
    [done] = json.loads(_json(capsys, ["replies", "review", "--json", "--all"]))["review"]
    assert (done["resolved_by"], done["overdue"]) == ("maria@example.com", False)


def test_an_unknown_flag_is_one_line_and_exit_1(
    site: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["replies", "assign", "999", "maria"]) == 1
    assert run(["replies", "resolve", "999"]) == 1
    err = capsys.readouterr().err
    assert err.count("error:") == 2 and "Traceback" not in err


def test_leads_show_prints_the_timeline(site: Database, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["leads", "show", "0712 343 644", "--region", "RO"]) == 0
    out = capsys.readouterr().out
    assert NUMBER in out and "Ioana Pop" in out
    assert "step 1" in out and "reply to step 1 (schedule_call)" in out
    assert "replied" in out and "review open" in out


def test_leads_show_as_json(site: Database, capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads(_json(capsys, ["leads", "show", NUMBER, "--json"]))
    assert data["phone"] == NUMBER and data["name"] == "Ioana Pop"
    [enrollment] = data["enrollments"]
    assert (enrollment["state"], enrollment["end_reason"], enrollment["step"]) == (
        "replied", "replied", 2,
    )  # fmt: skip
    kinds = [(m["kind"], m["direction"], m["step"]) for m in data["messages"]]
    assert kinds == [("step", "out", 1), ("reply", "in", 1)]
    assert data["messages"][1]["review"] == "open"


def test_leads_show_of_an_unknown_number(
    site: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["leads", "show", "+40700000000"]) == 1
    assert "no lead +40700000000" in capsys.readouterr().err


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    capsys.readouterr()
    assert run(argv) == 0
    return capsys.readouterr().out


def test_resolving_a_known_and_an_unknown_flag_names_the_unknown_one(
    site: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    [flag] = json.loads(_json(capsys, ["replies", "review", "--json"]))["review"]
    assert run(["replies", "resolve", str(flag["id"]), "999"]) == 1
    captured = capsys.readouterr()
    assert f"1 review flag(s) resolved: {flag['id']}" in captured.out
    assert "no open review flag 999" in captured.err
    assert json.loads(_json(capsys, ["replies", "review", "--json"]))["review"] == []
