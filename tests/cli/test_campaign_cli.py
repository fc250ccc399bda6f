"""``outreach campaign``, ``outreach forecast`` and ``outreach sequences`` as a user runs them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import redis

from cli.main import run
from engine.db import Database
from engine.runtime import build_clock
from engine.settings import load_settings
from engine.workspace_quota import QuotaReading, save_reading

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
    assert row(out, "refused: already in this campaign") == "2"


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


def test_launch_reads_a_file_as_an_import_does(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Excel in Central Europe: cp1250, the numbers under a column named as the user named it.
    (site / "pick.csv").write_bytes("Nume,Contact\nŞtefan Łódź,0712000001\n".encode("cp1250"))
    code = run(["campaign", "launch", "intro", "--leads", "pick.csv", "--region", "RO",
                "--encoding", "cp1250", "--phone-column", "contact"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert row(capsys.readouterr().out, "enrolled") == "1"
    # Read as UTF-8 it is refused in one line, nothing enrolled.
    code = run(["campaign", "launch", "second", "--sequence", "intro", "--leads", "pick.csv",
                "--phone-column", "contact"])  # fmt: skip
    assert code == 1
    assert "cp1250" in capsys.readouterr().err


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
    assert "campaign active of sequence intro, 2 enrolled (pending 2)" in out
    assert "every lead; every phone" not in out and "leads tagged jan; every phone" in out
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


FEB = "phone,name\n+40712000011,Dan\n+40712000012,Eva\n"


def test_two_named_campaigns_of_one_sequence(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (site / "feb.csv").write_text(FEB)
    assert run(["leads", "import", "feb.csv", "--tag", "feb"]) == 0
    code = run(
        ["campaign", "launch", "spring", "--sequence", "intro", "--tag", "jan", "--phones", "01"]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "spring (intro): 3 leads selected" in out and row(out, "enrolled") == "2"
    assert "campaign spring is active" in out
    assert run(["campaign", "launch", "autumn", "--sequence", "intro", "--tag", "feb"]) == 0
    capsys.readouterr()
    assert run(["campaign", "status"]) == 0
    out = capsys.readouterr().out
    assert "2 campaigns" in out
    assert run(["campaign", "status", "--json"]) == 0
    statuses = json.loads(capsys.readouterr().out)["campaigns"]
    assert [(s["campaign"], s["sequence"], s["enrolled"]) for s in statuses] == [
        ("autumn", "intro", 2),
        ("spring", "intro", 2),
    ]
    assert statuses[1]["selection"]["phones"] == ["01"]
    assert run(["campaign", "status", "spring"]) == 0
    out = capsys.readouterr().out
    assert "spring: campaign active of sequence intro, 2 enrolled" in out
    assert "leads tagged jan; phones 01" in out
    # Its forecast counts its own leads on its own phones.
    assert run(["forecast", "spring"]) == 0
    out = capsys.readouterr().out
    assert "2 leads wait for a first message" in out and "1 active phones" in out
    # Pausing one leaves the other running.
    assert run(["campaign", "pause", "autumn"]) == 0
    capsys.readouterr()
    assert run(["campaign", "status", "--json"]) == 0
    states = {s["campaign"]: s["state"] for s in json.loads(capsys.readouterr().out)["campaigns"]}
    assert states == {"autumn": "paused", "spring": "active"}
    # A relaunch without a selection uses the saved one: no lead outside 'jan' is added.
    assert run(["campaign", "launch", "spring"]) == 0
    out = capsys.readouterr().out
    assert "spring (intro): 3 leads selected" in out and row(out, "enrolled") == "0"


def test_a_draft_then_a_scheduled_launch(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["campaign", "create", "xmas", "--sequence", "intro", "--leads", "leads.csv",
                "--phones", "02", "--start", "2030-12-08 09:00"]) == 0  # fmt: skip
    assert "campaign xmas of sequence intro is saved as a draft" in capsys.readouterr().out
    assert run(["campaign", "status", "xmas", "--json"]) == 0
    (draft,) = json.loads(capsys.readouterr().out)["campaigns"]
    assert (draft["state"], draft["enrolled"]) == ("draft", 0)
    assert draft["selection"]["leads_file"] == str(site / "leads.csv")
    assert draft["selection"]["starts_at"] == "2030-12-08T09:00:00+00:00"  # intro is in UTC
    assert run(["campaign", "launch", "xmas"]) == 0
    out = capsys.readouterr().out
    assert row(out, "enrolled") == "2"
    assert "campaign xmas is scheduled: it sends nothing before Sun 2030-12-08 09:00 UTC" in out
    assert run(["forecast", "xmas"]) == 0
    out = capsys.readouterr().out
    assert "1 active phones" in out and "Sun 2030-12-08" in out
    assert run(["campaign", "pause", "xmas"]) == 0
    capsys.readouterr()
    assert run(["campaign", "resume", "xmas"]) == 0
    assert "campaign xmas is scheduled again" in capsys.readouterr().out


def test_campaign_mistakes_are_one_line(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for argv, code, says in (
        (["campaign", "launch", "spring"], 1, "no campaign 'spring' and no sequence of that name"),
        (["campaign", "launch", "s", "--sequence", "nope"], 1, "no sequence 'nope'"),
        (["campaign", "launch", "s", "--sequence", "intro", "--phones", "03"], 2, "unknown phone"),
        (["campaign", "launch", "s", "--sequence", "intro", "--start", "soon"], 2, "2026-12-08"),
        (["campaign", "create", "intro", "--tag", "a", "--leads", "leads.csv"], 2, "not both"),
    ):
        assert run(argv) == code, argv
        err = capsys.readouterr().err
        assert says in err, err
        if code == 1:  # usage errors (2) come with typer's usage line
            assert len(err.strip().splitlines()) == 1, err
    assert run(["campaign", "launch", "intro", "--tag", "jan"]) == 0
    capsys.readouterr()
    assert run(["campaign", "create", "intro"]) == 1
    assert "it was launched already" in capsys.readouterr().err
    assert run(["campaign", "status", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["campaigns"]) == 1  # nothing else was saved


def test_forecast_and_launch_say_whether_the_sends_fit_the_workspaces_messages(
    site: Path, capsys: pytest.CaptureFixture[str], redis_client: redis.Redis,
    redis_namespace: str,
) -> None:  # fmt: skip
    config = site / "config.toml"
    config.write_text(
        f'[redis]\nnamespace = "{redis_namespace}"\n'
        "[workspace]\nmessages_per_month = 2000\nreserve_messages = 100\n" + CONFIG
    )
    # Nothing read yet: the configured month, less the reserve.
    assert run(["campaign", "launch", "intro", "--tag", "jan"]) == 0
    out = capsys.readouterr().out
    assert (
        "workspace messages: 1,900 a month after the reserve (not read this month); the "
        "campaign's 4 remaining sends fit"
    ) in " ".join(out.split())
    # The scheduler read 102 left: 2 may still go this month.
    now = build_clock(load_settings(config)).now()
    save_reading(redis_client, redis_namespace, QuotaReading(2000, 102, now))
    assert run(["forecast", "intro"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert (
        "workspace messages: 2 may still be sent this month (the last reading less the "
        "reserve); the campaign's 4 remaining sends do not fit: 2 wait for a later month"
    ) in out
