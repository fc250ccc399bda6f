"""``outreach phones import FILE``: adds or updates phones in the config's phones file, and
a slug phone from that file is managed by the other ``phones`` commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.main import run
from engine.db import Database
from engine.settings import load_settings

NEW = "id,phone,new_contacts_per_day\nlondon-1,+447700900001,50\n02,+447700900002,\n"


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("OUTREACH_CONFIG", "OUTREACH_DATABASE_URL", "OUTREACH_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.toml").write_text(
        '[database]\nurl = "sqlite:///site.db"\n[phones]\nfile = "phones.csv"\n', "utf-8"
    )
    return tmp_path


def write(path: Path, body: str) -> str:
    path.write_text(body, encoding="utf-8")
    return str(path)


def test_import_creates_the_phones_file_then_counts_what_changed(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["phones", "import", write(site / "new.csv", NEW)]) == 0
    assert "2 added, 0 updated, 0 unchanged" in capsys.readouterr().out
    assert [p.id for p in load_settings(site / "config.toml").phones] == ["london-1", "02"]

    update = "id,phone,new_contacts_per_day\n02,+447700900002,\nlondon-1,+447700900001,60\n"
    assert run(["phones", "import", write(site / "up.csv", update), "--json"]) == 0
    outcome = json.loads(capsys.readouterr().out)
    assert outcome["added"] == [] and outcome["updated"] == ["london-1"]
    assert outcome["unchanged"] == ["02"] and outcome["written"] is True
    assert load_settings(site / "config.toml").phone("london-1").new_contacts_per_day == 60


def test_dry_run_counts_but_writes_nothing(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["phones", "import", write(site / "new.csv", NEW), "--dry-run"]) == 0
    assert "2 added, 0 updated, 0 unchanged (dry run, nothing written)" in capsys.readouterr().out
    assert not (site / "phones.csv").exists()


def test_any_bad_row_writes_nothing_and_every_one_is_listed(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(["phones", "import", write(site / "new.csv", NEW)])
    before = (site / "phones.csv").read_text("utf-8")
    capsys.readouterr()
    bad = "id,phone\nok,+447700900009\nx_followup,+447700900003\nlondon-1,07\n"
    assert run(["phones", "import", write(site / "bad.csv", bad)]) == 2
    err = capsys.readouterr().err
    assert "2 problem(s), nothing written" in err
    assert "bad.csv: line 3: id: 'x_followup' must not end in '_followup'" in err
    assert "bad.csv: line 4: phone: '07' is not a valid E.164 number" in err
    assert "Traceback" not in err
    assert (site / "phones.csv").read_text("utf-8") == before

    assert run(["phones", "import", str(site / "bad.csv"), "--json"]) == 2
    errors = json.loads(capsys.readouterr().out)["errors"]
    assert len(errors) == 2 and errors[0].endswith("the suffix of a phone's follow-up queue")


def test_a_config_without_a_phones_file_is_told_what_to_add(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (site / "config.toml").write_text('[database]\nurl = "sqlite:///site.db"\n', "utf-8")
    assert run(["phones", "import", write(site / "new.csv", NEW)]) == 2
    err = capsys.readouterr().err
    assert 'no phones file to import into. Add:\n  [phones]\n  file = "phones.csv"' in err
    assert not (site / "phones.csv").exists()


def test_a_slug_phone_is_paused_and_resumed_by_its_id(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(["phones", "import", write(site / "new.csv", NEW)])
    Database(f"sqlite:///{site / 'site.db'}").upgrade()
    assert run(["phones", "pause", "london-1"]) == 0
    capsys.readouterr()
    assert run(["phones", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(row["id"], row["state"]) for row in rows] == [("02", "active"), ("london-1", "paused")]
    assert run(["phones", "resume", "london-1"]) == 0
    assert "phone london-1 is active" in capsys.readouterr().out
