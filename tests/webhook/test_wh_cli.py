"""The commands as a user meets them: webhook register/list/serve, replies, phones sync, chats."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import select

from cli.main import run
from engine.db import Database
from engine.models import Message, Phone, ReviewFlag
from engine.timelinesai.simulator import (
    SimAccount,
    SimulatorConfig,
    SimulatorHandle,
    running_simulator,
)
from tests.webhook.conftest import LEAD, OURS, SECRET, enroll

URL = "https://hooks.example.com/webhooks/timelinesai"


@pytest.fixture
def sim() -> Iterator[SimulatorHandle]:
    config = SimulatorConfig(accounts=tuple(SimAccount(phone=p) for p in OURS), sent_events=False)
    with running_simulator(config) as handle:
        yield handle


@pytest.fixture
def site(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sim: SimulatorHandle, redis_namespace: str
) -> Database:
    """A config next to a migrated SQLite database, pointing at the simulator."""
    for name in ("OUTREACH_CONFIG", "OUTREACH_DATABASE_URL", "OUTREACH_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("TIMELINESAI_TOKEN", "cli-token")
    monkeypatch.setenv("OUTREACH_WEBHOOK_SECRET", SECRET)
    phones = "\n".join(f'[[phones]]\nid = "{i:02d}"\nphone = "{p}"' for i, p in enumerate(OURS, 1))
    (tmp_path / "config.toml").write_text(
        f'[redis]\nnamespace = "{redis_namespace}"\n'
        f'[timelinesai]\nbase_url = "{sim.base_url}"\nrequests_per_minute = 100000\n{phones}\n'
        '[sequences.intro]\ntimezone = "UTC"\n[[sequences.intro.steps]]\nafter = "0m"\n'
        'template = "Hello"\n'
    )
    database = Database(f"sqlite:///{tmp_path / 'outreach.db'}")
    database.upgrade()
    return database


def test_register_twice_creates_nothing_new_and_list_hides_the_secret(
    site: Database, sim: SimulatorHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["webhook", "register", "--url", URL]) == 0
    out = capsys.readouterr().out
    assert "6 created, 0 updated, 0 already in place" in out
    assert SECRET not in out
    assert run(["webhook", "register", "--url", URL]) == 0
    assert "0 created, 0 updated, 6 already in place" in capsys.readouterr().out
    client = sim.client()
    hooks = client.list_webhooks()
    client.close()
    assert {h.event_type for h in hooks} == {
        "message:received:new", "message:sent:new", "whatsapp:account:connected",
        "whatsapp:account:disconnected", "whatsapp:account:suspended",
        "whatsapp:account:resumed",
    }  # fmt: skip
    assert all(h.url == f"{URL}?secret={SECRET}" for h in hooks)
    assert run(["webhook", "list"]) == 0
    listed = capsys.readouterr().out
    assert "6 webhook subscriptions" in listed and "secret=•••" in listed
    assert SECRET not in listed


def test_a_new_secret_updates_the_subscriptions(
    site: Database, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["webhook", "register", "--url", URL]) == 0
    monkeypatch.setenv("OUTREACH_WEBHOOK_SECRET", "rotated")
    assert run(["webhook", "register", "--url", URL]) == 0
    assert "0 created, 6 updated, 0 already in place" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["webhook", "register", "--url", "ftp://x"], "must be an http(s) URL"),
        (["webhook", "register", "--url", URL + "?secret=x"], "must not carry a secret"),
    ],
)
def test_register_refuses_urls_that_cannot_work(
    site: Database, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert run(args) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_serve_without_a_secret_is_one_line(
    site: Database, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("OUTREACH_WEBHOOK_SECRET")
    assert run(["webhook", "serve"]) == 2
    err = capsys.readouterr().err
    assert "OUTREACH_WEBHOOK_SECRET is not set" in err and len(err.strip().splitlines()) == 1


def test_phones_sync_reports_the_changes(
    site: Database, sim: SimulatorHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    sim.set_account_status(OURS[1], "banned")  # shown as disconnected, as TimelinesAI does
    assert run(["phones", "sync"]) == 0
    out = capsys.readouterr().out
    assert "phone 02 is offline" in out and "2 phones checked, 1 changed" in out
    with site.session() as session:
        phone = session.get(Phone, "02")
        assert phone is not None and phone.state == "offline"


def test_chats_history_fetches_and_stores_once(
    site: Database, sim: SimulatorHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    client = sim.client()
    client.send_message(phone=LEAD, text="Hello", from_phone=OURS[0])
    client.close()
    sim.inbound("Who is this?", phone=LEAD, account_phone=OURS[0])
    assert run(["chats", "history", "0712 345 678", "--region", "RO"]) == 0
    assert "(not a lead): 1 chat(s), 2 message(s), 2 new" in capsys.readouterr().out
    assert run(["chats", "history", LEAD]) == 0
    assert "2 message(s), 0 new" in capsys.readouterr().out
    assert run(["chats", "history", "not-a-number"]) == 1
    assert "is not a phone number" in capsys.readouterr().err


def test_replies_review_resolve_and_unmatched(
    site: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(UTC)
    assert run(["phones", "list"]) == 0  # creates the phones' rows
    eid = enroll(site, now)
    with site.session() as session:
        flagged = Message(direction="in", enrollment_id=eid, lead_id=1, message_uid="m1",
                          text="Urgent: avocat", intent="human_review", status="received",
                          sent_at=now)  # fmt: skip
        stranger = Message(direction="in", peer_phone="+40799999999", phone_id="01",
                           message_uid="m2", text="who dis", intent="other",
                           status="received", sent_at=now)  # fmt: skip
        session.add(flagged)
        session.add(stranger)
        session.flush()
        assert flagged.id is not None
        held = [{"lead_id": 2, "phone": "+40712345002", "sequence": "intro", "state": "paused"}]
        matched = {"matched": {"human_review": ["urgent", "avocat"]}, "company_held": held}
        session.add(
            ReviewFlag(
                message_id=flagged.id, lead_id=1, enrollment_id=eid, priority=2, reasons=matched
            )
        )
    capsys.readouterr()
    assert run(["replies", "review"]) == 0
    out = capsys.readouterr().out
    assert "1 replies to review" in out and "urgent, avocat" in out and "Urgent: avocat" in out
    assert "held colleagues: +40712345002 (paused)" in " ".join(out.split()).replace("│ ", "")
    assert "`outreach leads resume +40712345002`" in out  # how to let it go on
    assert run(["replies", "unmatched"]) == 0
    out = capsys.readouterr().out
    # The full number: a person may call it back (masking is for logs).
    assert "1 unmatched replies" in out and "+40799999999" in out and "who dis" in out
    with site.session() as session:
        [flag] = session.exec(select(ReviewFlag))
    assert run(["replies", "resolve", str(flag.id)]) == 0
    assert run(["replies", "review"]) == 0
    assert "0 replies to review" in capsys.readouterr().out
    assert run(["replies", "resolve", str(flag.id)]) == 1
    assert "no open review flag" in capsys.readouterr().err
