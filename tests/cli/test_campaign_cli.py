"""``outreach campaign``, ``outreach forecast`` and ``outreach sequences`` as a user runs them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cli.main import run
from engine.db import Database

CONFIG = """
[database]
url = "sqlite:///x.db"
[pacing]
jitter_min_s = 1
jitter_max_s = 2
[quota]
warmup = []
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
template = "{Hi|Hello} {{name}}, a question for {{company|your team}}"
[[sequences.intro.steps]]
after = "2d"
variants = ["Any thoughts, {{name}}?", "Just checking in, {{name}}."]
"""

LEADS = "phone,name,company\n+40712000001,Ana,Acme\n+40712000002,Bob,\n+40712000003,,Cyan\n"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("OUTREACH_CONFIG", "OUTREACH_DATABASE_URL", "OUTREACH_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "160")


@pytest.fixture
def site(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A config, a migrated database and three imported leads tagged 'jan' (one lacks a name)."""
    (tmp_path / "config.toml").write_text(CONFIG)
    database = Database(f"sqlite:///{tmp_path / 'x.db'}")
    database.upgrade()
    database.dispose()
    (tmp_path / "leads.csv").write_text(LEADS)
    assert run(["leads", "import", "leads.csv", "--tag", "jan"]) == 0
    capsys.readouterr()
    return tmp_path


def row(out: str, label: str) -> str:
    """The last cell of the table row that starts with ``label``."""
    for line in out.splitlines():
        cells = [cell.strip() for cell in line.strip("│┃ ").split("│")]
        if cells and cells[0] == label:
            return cells[-1]
    raise AssertionError(f"no row {label!r} in:\n{out}")


def test_dry_run_then_launch_then_relaunch(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["campaign", "launch", "intro", "--tag", "jan", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "(dry run)" in out and "nothing was written" in out
    assert row(out, "would be enrolled") == "2"
    assert row(out, "refused: missing a template variable") == "1"
    assert "missing variables: name (1)" in out
    assert "2 leads wait for a first message" in out
    assert "finishes on" in out and "2 days from today" in out
    assert run(["campaign", "status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"campaigns": []}

    assert run(["campaign", "launch", "intro", "--tag", "jan"]) == 0
    out = capsys.readouterr().out
    assert row(out, "enrolled") == "2"
    assert "campaign intro is active; it should finish by" in out

    assert run(["campaign", "launch", "intro", "--tag", "jan"]) == 0
    out = capsys.readouterr().out
    assert row(out, "enrolled") == "0"
    assert row(out, "refused: already in this sequence") == "2"


def test_launch_from_a_file_with_a_limit(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (site / "pick.csv").write_text("phone\n0712000002\n0712000001\n0799\n")
    code = run(
        ["campaign", "launch", "intro", "--leads", "pick.csv", "--region", "RO", "--limit", "1"]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert row(out, "enrolled") == "1"
    assert row(out, "over --limit") == "1"
    assert row(out, "invalid numbers in the file") == "1"


def test_usage_and_unknown_names_are_one_line(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["campaign", "launch", "intro", "--tag", "jan", "--leads", "leads.csv"]) == 2
    assert "not both" in capsys.readouterr().err
    for argv in (
        ["campaign", "launch", "nope"],
        ["forecast", "nope"],
        ["sequences", "show", "nope"],
        ["campaign", "launch", "intro", "--tag", "nobody"],
        ["campaign", "pause", "intro"],
        ["campaign", "status", "intro"],
    ):
        assert run(argv) == 1, argv
        err = capsys.readouterr().err
        assert err.startswith("error:") and len(err.strip().splitlines()) == 1, err
    assert run(["sequences", "show", "nope"]) == 1
    assert "defined: intro" in capsys.readouterr().err


def test_pause_resume_stop_and_status(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(["campaign", "launch", "intro", "--tag", "jan"])
    capsys.readouterr()
    assert run(["campaign", "pause", "intro"]) == 0
    assert "campaign intro is paused" in capsys.readouterr().out
    assert run(["campaign", "pause", "intro"]) == 0
    assert "already paused" in capsys.readouterr().out
    assert run(["campaign", "status"]) == 0
    out = capsys.readouterr().out
    assert "1 campaigns" in out and "paused" in out
    assert run(["campaign", "resume", "intro"]) == 0
    assert "active again" in capsys.readouterr().out
    assert run(["campaign", "status", "intro"]) == 0
    out = capsys.readouterr().out
    assert "campaign active, 2 enrolled (pending 2)" in out
    assert "step 1" in out and row(out, "all") == "-"
    assert run(["campaign", "stop", "intro"]) == 0
    assert "2 running enrollments ended" in capsys.readouterr().out
    assert run(["campaign", "status", "intro", "--json"]) == 0
    (status,) = json.loads(capsys.readouterr().out)["campaigns"]
    assert status["state"] == "stopped" and status["states"] == {"stopped": 2}
    assert run(["campaign", "resume", "intro"]) == 1
    assert "is stopped" in capsys.readouterr().err


def test_forecast_shows_days_and_the_last_one(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(["campaign", "launch", "intro", "--tag", "jan"])
    capsys.readouterr()
    assert run(["forecast", "intro"]) == 0
    out = capsys.readouterr().out
    assert "2 leads wait for a first message, 0 follow-ups are scheduled" in out
    assert "2 active phones, 200 new contacts a day each" in out
    assert "once per 1.5 s" in out
    assert row(out, "total").split()[0] == "4"
    assert "2 days from today, if nobody replies" in out


def test_sequences_list_and_show(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["sequences", "list"]) == 0
    out = capsys.readouterr().out
    assert "1 sequences" in out and "intro" in out and "any time" in out
    assert run(["sequences", "show", "intro"]) == 0
    out = capsys.readouterr().out
    assert "required variables (a launch refuses leads without them): name" in out
    assert "at enrollment" in out and "2d" in out and "1 of 2" in out and "2 of 2" in out


def test_sequences_preview_renders_real_leads(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["sequences", "preview", "intro", "--lead", "+40712000001"]) == 0
    out = capsys.readouterr().out
    assert "+40712000001 (not enrolled: seeded as enrollment 0)" in out
    assert "seed 0:0" in out and "seed 0:1" in out
    assert "Ana, a question for Acme" in out
    run(["campaign", "launch", "intro", "--tag", "jan"])
    capsys.readouterr()
    assert run(["sequences", "preview", "intro", "--lead", "0712000001", "--region", "RO"]) == 0
    out = capsys.readouterr().out
    assert "(enrollment 1)" in out and "seed 1:0" in out
    assert run(["sequences", "preview", "intro", "--lead", "+40712000003"]) == 0
    assert "missing 'name': a launch refuses this lead" in capsys.readouterr().out
    assert run(["sequences", "preview", "intro", "--sample", "5"]) == 0
    assert len(re.findall(r"seed \d+:\d+", capsys.readouterr().out)) == 6  # 3 leads x 2 steps
    assert run(["sequences", "preview", "intro", "--lead", "+40712009999"]) == 1
    assert "import it first" in capsys.readouterr().err
    assert run(["sequences", "preview", "intro", "--lead", "x", "--sample", "2"]) == 2
