"""``outreach campaign export`` and ``outreach leads export`` on a scratch SQLite database:
a campaign with sent, delivered, read, replied and ended enrollments, and a lead never
enrolled; the exact columns, CSV and JSON."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cli.export_cmd import PROGRESS_MIN_ROWS, shows_progress
from cli.main import run
from engine.db import Database
from engine.models import Enrollment, Lead, LeadTag, Message, Phone
from tests.seed import campaign_id

CONFIG = """
[database]
url = "sqlite:///x.db"
[[phones]]
id = "01"
phone = "+447700900001"
[[phones]]
id = "02"
phone = "+447700900002"
[sequences.intro]
timezone = "UTC"
[[sequences.intro.steps]]
after = "0m"
template = "Hello {{name}}"
[[sequences.intro.steps]]
after = "2d"
variants = ["Any thoughts, {{name}}?", "Just checking in, {{name}}."]
[[sequences.intro.steps]]
after = "2d"
template = "Last one, {{name}}"
"""

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HEADER = [
    "number", "name", "variables", "campaign", "phone_id", "state", "end_reason",
    "enrolled_at", "ended_at",
    *(f"step_{n}_{field}" for n in (1, 2, 3)
      for field in ("sent_at", "delivered_at", "read_at", "variant", "variant_id")),
    "replies", "last_reply_at", "last_reply_text", "last_reply_class", "last_reply_intents",
]  # fmt: skip


def _at(hours: float) -> str:
    return (T0 + timedelta(hours=hours)).isoformat()


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("OUTREACH_CONFIG", "OUTREACH_DATABASE_URL", "OUTREACH_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """intro: Ana sent, Bob delivered, Cyan read both steps (variant 2), Dan replied,
    Eve stopped; Fay never enrolled. Ana and Dan are tagged 'vip'."""
    (tmp_path / "config.toml").write_text(CONFIG)
    database = Database(f"sqlite:///{tmp_path / 'x.db'}")
    database.upgrade()
    with database.session() as session:
        intro = campaign_id(session, "intro")
        session.add_all([Phone(id="01", phone="+447700900001"),
                         Phone(id="02", phone="+447700900002")])  # fmt: skip
        names = ("Ana", "Bob", "Cyan", "Dan", "Eve", "Fay")
        leads = [
            Lead(phone=f"+4071200000{i}", variables={"name": name, "company": "Ăcme"})
            for i, name in enumerate(names, start=1)
        ]
        session.add_all(leads)
        session.flush()
        ana, bob, cyan, dan, eve, _ = (lead.id or 0 for lead in leads)
        session.add_all([LeadTag(lead_id=ana, tag="vip"), LeadTag(lead_id=dan, tag="vip")])
        # (lead, state, end reason, phone, steps as (variant, delivered after h, read after h))
        plans = [
            (ana, "active", None, "01", [(0, None, None)]),
            (bob, "active", None, "02", [(0, 0.5, None)]),
            (cyan, "completed", "completed", "01", [(0, 0.5, 1), (1, 48.5, 49)]),
            (dan, "replied", "replied", "02", [(0, 0.5, 1)]),
            (eve, "stopped", "stopped_by_operator", "01", [(0, None, None)]),
        ]
        for lead_id, state, reason, phone, steps in plans:
            ended = T0 + timedelta(hours=50) if reason else None
            enrollment = Enrollment(lead_id=lead_id, sequence="intro", campaign_id=intro,
                                    state=state, end_reason=reason, phone_id=phone, created_at=T0,
                                    ended_at=ended)  # fmt: skip
            session.add(enrollment)
            session.flush()
            for step, (variant, delivered, read) in enumerate(steps):
                sent = T0 + timedelta(hours=48 * step)
                session.add(Message(
                    direction="out", enrollment_id=enrollment.id, step=step, lead_id=lead_id,
                    phone_id=phone, status="sent", template_variant=variant,
                    variant_id=f"v{step}{variant}", sent_at=sent,
                    delivered_at=None if delivered is None else T0 + timedelta(hours=delivered),
                    read_at=None if read is None else T0 + timedelta(hours=read),
                ))  # fmt: skip
            if lead_id == dan:
                for hours, text, label in (
                    (2, "cine e?", "question"),
                    (50, "Da, sunați-mă", "positive"),
                ):
                    session.add(Message(
                        direction="in", enrollment_id=enrollment.id, step=0, lead_id=dan,
                        phone_id=phone, text=text, status="received", intent=label,
                        intents=["call_me"] if label == "positive" else None,
                        sent_at=T0 + timedelta(hours=hours),
                    ))  # fmt: skip
    database.dispose()
    return tmp_path


def _csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_campaign_export_as_csv(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["campaign", "export", "intro"]) == 0
    header, *rows = _csv(capsys.readouterr().out)
    assert header == HEADER
    by_name = {row[1]: dict(zip(header, row, strict=True)) for row in rows}
    assert list(by_name) == ["Ana", "Bob", "Cyan", "Dan", "Eve"]
    assert by_name["Dan"] == dict(zip(HEADER, [
        "+40712000004", "Dan", '{"company": "Ăcme", "name": "Dan"}', "intro", "02", "replied",
        "replied", _at(0), _at(50),
        _at(0), _at(0.5), _at(1), "1", "v00",
        "", "", "", "", "",
        "", "", "", "", "",
        "2", _at(50), "Da, sunați-mă", "positive", "call_me",
    ], strict=True))  # fmt: skip
    ana, bob, cyan, eve = (by_name[n] for n in ("Ana", "Bob", "Cyan", "Eve"))
    assert (ana["step_1_sent_at"], ana["step_1_delivered_at"]) == (_at(0), "")
    assert (bob["step_1_delivered_at"], bob["step_1_read_at"]) == (_at(0.5), "")
    assert (cyan["state"], cyan["step_2_read_at"], cyan["step_2_variant"]) == (
        "completed", _at(49), "2",
    )  # fmt: skip
    assert (eve["state"], eve["end_reason"], eve["replies"]) == (
        "stopped", "stopped_by_operator", "0",
    )  # fmt: skip


def test_campaign_export_as_json(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["campaign", "export", "intro", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["name"] for row in rows] == ["Ana", "Bob", "Cyan", "Dan", "Eve"]
    dan = rows[3]
    assert dan["variables"] == {"name": "Dan", "company": "Ăcme"}
    assert dan["steps"] == [{
        "step": 1, "sent_at": _at(0), "delivered_at": _at(0.5), "read_at": _at(1),
        "variant": 1, "variant_id": "v00",
    }]  # fmt: skip
    assert (dan["replies"], dan["last_reply"]) == (2, {
        "at": _at(50), "text": "Da, sunați-mă", "class": "positive", "intents": ["call_me"],
    })  # fmt: skip
    assert [len(row["steps"]) for row in rows] == [1, 1, 2, 1, 1]
    assert set(rows[0]) == {
        "number", "name", "variables", "campaign", "phone_id", "state", "end_reason",
        "enrolled_at", "ended_at", "steps", "replies", "last_reply",
    }  # fmt: skip


def test_export_to_a_file_for_excel(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["campaign", "export", "intro", "--output", "out.csv", "--excel"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and "5 rows written to out.csv" in captured.err
    data = (site / "out.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data
    header, *rows = _csv(data.decode("utf-8-sig"))
    assert header == HEADER and len(rows) == 5
    assert rows[0][0] == '="+40712000001"'  # Excel keeps it as text, with its +
    assert not (site / "out.csv.part").exists()


def test_leads_export_has_never_enrolled_leads_once(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["leads", "export"]) == 0
    header, *rows = _csv(capsys.readouterr().out)
    assert header == HEADER
    assert [(row[1], row[3]) for row in rows] == [
        ("Ana", "intro"), ("Bob", "intro"), ("Cyan", "intro"), ("Dan", "intro"),
        ("Eve", "intro"), ("Fay", ""),
    ]  # fmt: skip
    fay = dict(zip(header, rows[-1], strict=True))
    assert fay["number"] == "+40712000006" and fay["replies"] == "0"
    assert all(fay[name] == "" for name in header[3:] if name != "replies")


def test_leads_export_by_tag_as_json(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["leads", "export", "--tag", "vip", "-f", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(row["name"], row["state"]) for row in rows] == [("Ana", "active"), ("Dan", "replied")]


def test_an_unknown_campaign_is_one_line_and_exit_1(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["campaign", "export", "nope"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip().count("\n") == 0 and "no campaign 'nope'" in captured.err


def test_an_unwritable_output_is_one_line_and_exit_1(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["leads", "export", "--output", "missing/dir/out.csv"]) == 1
    err = capsys.readouterr().err
    assert "cannot write missing/dir/out.csv" in err and "Traceback" not in err


def test_excel_with_json_is_a_usage_error(site: Path) -> None:
    assert run(["leads", "export", "--format", "json", "--excel"]) == 2


def test_an_empty_database_exports_just_the_header(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["leads", "export", "--tag", "nobody"]) == 0
    assert _csv(capsys.readouterr().out) == [HEADER]
    assert run(["leads", "export", "--tag", "nobody", "-f", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


@pytest.mark.parametrize(
    ("total", "stderr_tty", "stdout_tty", "to_file", "expected"),
    [
        (PROGRESS_MIN_ROWS + 1, True, False, False, True),  # piped: stdout is not the terminal
        (PROGRESS_MIN_ROWS + 1, True, True, True, True),  # to a file
        (PROGRESS_MIN_ROWS + 1, True, True, False, False),  # rows on the terminal itself
        (PROGRESS_MIN_ROWS + 1, False, False, True, False),  # stderr not a terminal
        (PROGRESS_MIN_ROWS, True, False, True, False),  # short
    ],
)
def test_when_progress_shows(
    total: int, stderr_tty: bool, stdout_tty: bool, to_file: bool, expected: bool
) -> None:
    assert (
        shows_progress(total, stderr_tty=stderr_tty, stdout_tty=stdout_tty, to_file=to_file)
        is expected
    )
