"""`outreach suppress`, `leads forget`, `leads list` and `leads show` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import build_app, run
from engine.db import Database

CONFIG = """
[database]
url = "sqlite:///x.db"
[leads]
default_region = "RO"
[[phones]]
id = "01"
phone = "+447700900001"

[sequences.intro]
timezone = "UTC"
[[sequences.intro.steps]]
after = "0m"
template = "Hi {{first_name}}"
"""

LEADS = (
    "Telefon,First Name,Last Name,country\n"
    "0712 345 678,Ana,Pop,\n"
    "(415) 555-0134,Ann,Lee,United States\n"
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("OUTREACH_CONFIG", "OUTREACH_DATABASE_URL", "OUTREACH_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "160")


@pytest.fixture
def site(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A config, a migrated database, two imported leads tagged 'jan', enrolled in intro."""
    (tmp_path / "config.toml").write_text(CONFIG)
    database = Database(f"sqlite:///{tmp_path / 'x.db'}")
    database.upgrade()
    database.dispose()
    (tmp_path / "leads.csv").write_text(LEADS)
    assert run(["leads", "import", "leads.csv", "--tag", "jan"]) == 0
    assert run(["campaign", "launch", "intro", "--tag", "jan"]) == 0
    capsys.readouterr()
    return tmp_path


def outreach(*args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(build_app(), list(args), input=stdin)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def test_leads_list_shows_names_tags_and_each_campaign_state(site: Path) -> None:
    code, out = outreach("leads", "list")
    assert code == 0
    assert "Ana Pop" in out and "Ann Lee" in out and "jan" in out
    assert out.count("intro: pending (step 0)") == 2
    code, out = outreach("leads", "list", "--json")
    listed = json.loads(out)
    assert listed["total"] == 2
    first = listed["leads"][0]
    assert (first["phone"], first["name"], first["tags"]) == ("+40712345678", "Ana Pop", ["jan"])
    assert first["campaigns"] == [
        {"campaign": "intro", "state": "pending", "step": 0, "end_reason": None}
    ]


@pytest.mark.parametrize(
    "written", ["+40 712-345-678", "0712 345 678", "40712345678", "0040712345678"]
)
def test_leads_show_takes_the_number_as_people_write_it(site: Path, written: str) -> None:
    code, out = outreach("leads", "show", written, "--json")
    assert code == 0, out
    assert json.loads(out)["phone"] == "+40712345678"


def test_suppress_add_list_remove(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = outreach("suppress", "add", "0712 345 678", "--reason", "asked on the phone")
    assert code == 0
    assert "+40712345678: added to the do-not-contact list; 1 running campaign(s)" in out
    assert "already on" in outreach("suppress", "add", "+40712345678")[1]
    code, out = outreach("suppress", "list", "--json")
    [entry] = json.loads(out)
    assert (entry["phone"], entry["reason"]) == ("+40712345678", "asked on the phone")
    assert "intro: stopped (suppressed)" in outreach("leads", "list")[1]
    assert "+40712345678: removed" in outreach("suppress", "remove", "40712345678")[1]
    assert run(["suppress", "remove", "+40712345678"]) == 1
    assert "not on the do-not-contact list" in capsys.readouterr().err


def test_suppress_import_reads_files_like_leads_import(site: Path) -> None:
    (site / "dnc.csv").write_bytes(
        "Mobil;Nume;Country\n(415) 555-0134;Ştefan;USA\n07400 123456;Bob;UK\nnope;X;\n".encode(
            "cp1250"
        )
    )
    code, out = outreach("suppress", "import", "dnc.csv", "--encoding", "cp1250")
    assert code == 1
    assert "dnc.csv: 2 added, 0 already on the list, 1 invalid; 1 running campaign(s) ended" in out
    assert "line 4: 'nope' is not a phone number" in out
    phones = {entry["phone"] for entry in json.loads(outreach("suppress", "list", "--json")[1])}
    assert phones == {"+14155550134", "+447400123456"}


def test_forget_asks_first_then_erases_and_keeps_the_number_off(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = outreach("leads", "forget", "0712 345 678", stdin="n\n")
    assert code == 1
    assert "would erase" in out and "nothing erased" in out
    assert "Ana Pop" in outreach("leads", "list")[1]

    code, out = outreach("leads", "forget", "0712 345 678", stdin="y\n")
    assert code == 0, out
    assert "variables (name and the file's other columns): 2" in out
    assert "running campaigns ended: 1" in out
    listing = outreach("leads", "list")[1]
    assert "Ana" not in listing and "+40712345678" not in listing
    assert "intro: stopped (forgotten)" in listing
    [entry] = json.loads(outreach("suppress", "list", "--json")[1])
    assert (entry["phone"], entry["reason"]) == (None, "forgotten")

    assert run(["leads", "show", "0712345678"]) == 1
    assert "was forgotten on" in capsys.readouterr().err
    (site / "again.csv").write_text("phone,name\n+40712345678,Ana\n")
    code, out = outreach("leads", "import", "again.csv")
    assert any(
        "suppressed" in line and line.rstrip(" │").endswith("1") for line in out.splitlines()
    )


def test_forget_yes_json_skips_the_question(site: Path) -> None:
    code, out = outreach("leads", "forget", "+1 415 555 0134", "--yes", "--json")
    assert code == 0
    erased = json.loads(out)
    assert (erased["phone"], erased["enrollments_ended"]) == ("+14155550134", 1)
    assert erased["key"].startswith("#")
