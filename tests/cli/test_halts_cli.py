"""``outreach status`` says what stops sending (with the fixing command) and never shows a
phone as plainly active while nothing can be sent; ``outreach alerts`` lists the alerts.

Against a scratch SQLite site and a private Redis namespace; the CLI's clock runs at
speed 1, so the seeded times are relative to the wall clock at the test's start.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis

from cli.main import run
from engine.db import Database
from engine.models import Alert, Enrollment, Lead, Phone
from engine.sending.halt import halt_key
from engine.timelinesai.ratelimit.base import month_of
from engine.workspace_quota import QuotaReading, save_reading, set_quota_halt
from tests.conftest import REDIS_URL
from tests.seed import campaign_id

CONFIG = """
[database]
url = "sqlite:///site.db"
[redis]
url = "{redis_url}"
namespace = "{namespace}"
[timelinesai]
monthly_call_budget = 1000
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
template = "Hello"
"""

TOKEN_MESSAGE = "TimelinesAI refused the token: all sending stopped until it works"


@dataclass
class Site:
    """A configured, migrated site in the test's working directory; ``now`` is the wall
    clock at the test's start."""

    database: Database
    namespace: str
    folder: Path
    now: datetime

    def config(self, redis_url: str = REDIS_URL) -> None:
        text = CONFIG.format(redis_url=redis_url, namespace=self.namespace)
        (self.folder / "config.toml").write_text(text)

    def phones(self, last_send_ago: timedelta | None = None, **states: str) -> None:
        last = None if last_send_ago is None else self.now - last_send_ago
        with self.database.session() as session:
            for index in ("01", "02"):
                state = states.get(f"p{index}", "active")
                session.add(Phone(id=index, phone=f"+4477009000{index}", state=state,
                                  state_reason=states.get(f"why{index}"),
                                  last_send_at=last))  # fmt: skip

    def alert(self, kind: str, ago: timedelta, message: str, phone_id: str | None = None) -> None:
        with self.database.session() as session:
            session.add(Alert(kind=kind, message=message, created_at=self.now - ago,
                              phone_id=phone_id, severity="critical"))  # fmt: skip

    def dead_letter(self) -> None:
        with self.database.session() as session:
            lead = Lead(phone="+40712000001")
            session.add(lead)
            session.flush()
            session.add(Enrollment(lead_id=lead.id or 0, sequence="intro", state="active",
                                   campaign_id=campaign_id(session, "intro"),
                                   step_state="failed", phone_id="01",
                                   last_error="PayloadTooLarge"))  # fmt: skip


@pytest.fixture
def site(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, redis_client: redis.Redis,
    redis_namespace: str,
) -> Site:  # fmt: skip
    for name in ("OUTREACH_CONFIG", "OUTREACH_DATABASE_URL", "OUTREACH_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "220")
    database = Database(f"sqlite:///{tmp_path / 'site.db'}")
    database.upgrade()
    made = Site(database, redis_namespace, tmp_path, datetime.now(UTC))
    made.config()
    return made


def status_json(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    capsys.readouterr()
    assert run(["status", "--json"]) == 0
    result: dict[str, Any] = json.loads(capsys.readouterr().out)
    return result


def refused_seven_times(site: Site) -> None:
    """The issue's scenario: the last send an hour ago, then 7 refusals of the token."""
    site.phones(last_send_ago=timedelta(hours=1))
    for minutes in range(35, 0, -5):
        site.alert("bad_token", timedelta(minutes=minutes), TOKEN_MESSAGE)


# --- outreach status ---------------------------------------------------------------


def test_a_refused_token_is_on_top_and_no_phone_shows_active(
    site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    refused_seven_times(site)
    assert run(["status"]) == 0
    out = capsys.readouterr().out
    top = out[: out.index("Phones")]
    assert "What stops sending now" in top
    assert "TimelinesAI refused the token 7 times" in top
    assert "TIMELINESAI_TOKEN" in top and "`outreach phones sync`" in top
    phones = out[out.index("Phones") : out.index("Health")]
    rows = [line for line in phones.splitlines() if "+4477009000" in line]
    assert len(rows) == 2
    assert all("halted: token refused" in row and " active " not in row for row in rows)


def test_a_refused_token_in_json(site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    refused_seven_times(site)
    report = status_json(capsys)
    [blocker] = report["blockers"]
    assert (blocker["kind"], blocker["severity"]) == ("token_refused", "critical")
    assert blocker["command"] == "outreach phones sync"
    assert [(p["id"], p["state"], p["shown_state"]) for p in report["phones"]] == [
        ("01", "active", "halted: token refused"),
        ("02", "active", "halted: token refused"),
    ]


def test_a_send_after_the_refusals_clears_them(
    site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    site.phones(last_send_ago=timedelta(minutes=1))
    site.alert("bad_token", timedelta(minutes=30), TOKEN_MESSAGE)
    assert status_json(capsys)["blockers"] == []
    assert run(["status"]) == 0
    out = capsys.readouterr().out
    assert "Nothing stops sending." in out and "halted" not in out


def test_the_redis_halt_shows_even_without_an_alert(
    site: Site, capsys: pytest.CaptureFixture[str], redis_client: redis.Redis
) -> None:
    site.phones()
    redis_client.set(halt_key(site.namespace), site.now.isoformat(), px=60_000)
    report = status_json(capsys)
    assert [b["kind"] for b in report["blockers"]] == ["halted"]
    assert {p["shown_state"] for p in report["phones"]} == {"halted: sending halted"}


def test_the_workspace_messages_reading_and_their_halt(
    site: Site, capsys: pytest.CaptureFixture[str], redis_client: redis.Redis
) -> None:
    site.phones()
    assert run(["status"]) == 0
    assert "workspace messages: not read yet" in capsys.readouterr().out
    reading = QuotaReading(2000, 1240, site.now - timedelta(minutes=3))
    save_reading(redis_client, site.namespace, reading)
    assert run(["status"]) == 0
    out = capsys.readouterr().out
    assert "workspace messages: 1,240 of 2,000 left this month, read 3 min ago" in out
    assert "Nothing stops sending." in out
    # The scheduler read 80 left, under the reserve, and halted every send.
    save_reading(redis_client, site.namespace, replace(reading, left=80))
    set_quota_halt(redis_client, site.namespace, True, site.now)
    report = status_json(capsys)
    [blocker] = report["blockers"]
    assert (blocker["kind"], blocker["severity"]) == ("workspace_quota", "critical")
    assert "only 80 of 2,000 TimelinesAI workspace messages are left" in blocker["reason"]
    assert report["workspace_messages"].startswith("workspace messages: 80 of 2,000 left")
    assert {p["shown_state"] for p in report["phones"]} == {"halted: workspace messages used up"}


def test_the_api_budget_used_up_and_low(
    site: Site, capsys: pytest.CaptureFixture[str], redis_client: redis.Redis
) -> None:
    site.phones()
    key = f"{site.namespace}:timelinesai:calls:{month_of(datetime.now(UTC))}"
    redis_client.set(key, 1000)
    [spent] = status_json(capsys)["blockers"]
    assert spent["kind"] == "budget_used_up" and "1000 of 1000 calls" in spent["reason"]
    assert "monthly_call_budget" in spent["fix"]
    redis_client.set(key, 850)
    [low] = status_json(capsys)["blockers"]
    assert (low["kind"], low["severity"]) == ("budget_low", "warning")


def test_redis_down_is_said_and_the_rest_still_shows(
    site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    site.phones()
    site.config(redis_url="redis://127.0.0.1:1/0")
    assert run(["status"]) == 0
    out = capsys.readouterr().out
    assert "Redis does not answer" in out and "redis-server" in out
    assert "halted: Redis unreachable" in out and "Phones" in out


def test_phones_out_of_the_pool_and_dead_letters_each_name_their_fix(
    site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    site.phones(p01="banned", why01="TimelinesAI account status banned", p02="paused",
                why02="operator")  # fmt: skip
    site.dead_letter()
    report = status_json(capsys)
    assert [(b["kind"], b["command"]) for b in report["blockers"]] == [
        ("no_phone_active", "outreach phones list"),
        ("phone_banned", "outreach phones sync"),
        ("phone_paused", "outreach phones resume 02"),
        ("dead_letters", "outreach dlq list"),
    ]
    assert [p["shown_state"] for p in report["phones"]] == ["banned", "paused"]


def test_text_from_data_is_not_read_as_markup(
    site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    site.phones(p01="offline", why01="status [bold]gone[/bold]")
    assert run(["status"]) == 0
    assert "(status [bold]gone[/bold])" in capsys.readouterr().out


def test_watch_and_json_together_is_a_usage_error(
    site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["status", "--json", "--watch"]) == 2
    assert "--watch" in capsys.readouterr().err


# --- outreach alerts ---------------------------------------------------------------


@pytest.fixture
def history(site: Site) -> Site:
    site.alert("phone_offline", timedelta(days=8), "phone 02 is offline (old)", "02")
    site.alert("dead_letter", timedelta(hours=30), "enrollment 4 step 0 failed", "01")
    site.alert("phone_banned", timedelta(hours=3), "phone 02 is banned [red]x[/red]", "02")
    site.alert("bad_token", timedelta(minutes=10), TOKEN_MESSAGE)
    return site


def test_alerts_newest_first_from_the_last_7_days(
    history: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["alerts"]) == 0
    out = capsys.readouterr().out
    assert "3 alerts since" in out and "(old)" not in out
    order = [out.index(text) for text in ("refused the token", "banned", "enrollment 4")]
    assert order == sorted(order)
    token_row = next(line for line in out.splitlines() if "bad_token" in line)
    assert f"{history.now - timedelta(minutes=10):%Y-%m-%d %H:%M}" in token_row
    assert "phone 02 is banned [red]x[/red]" in out  # data is never markup


@pytest.mark.parametrize(
    ("since", "count"), [("2h", 1), ("1d", 2), ("12d", 4), ("90m", 1), ("2000-01-01", 4)]
)
def test_alerts_since(
    history: Site, capsys: pytest.CaptureFixture[str], since: str, count: int
) -> None:
    assert run(["alerts", "--since", since, "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == count


def test_alerts_since_an_iso_time(history: Site, capsys: pytest.CaptureFixture[str]) -> None:
    since = (history.now - timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M")
    assert run(["alerts", "--since", since, "--json"]) == 0
    assert [a["kind"] for a in json.loads(capsys.readouterr().out)] == ["bad_token", "phone_banned"]


def test_alerts_of_some_kinds_as_json(history: Site, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["alerts", "--kind", "phone_banned", "--kind", "dead_letter", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert [(a["kind"], a["phone_id"]) for a in found] == [
        ("phone_banned", "02"),
        ("dead_letter", "01"),
    ]
    assert datetime.fromisoformat(found[0]["created_at"]) == history.now - timedelta(hours=3)
    assert set(found[0]) == {
        "id", "created_at", "kind", "severity", "phone_id", "message", "details",
    }  # fmt: skip


def test_no_alerts_is_one_line(site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["alerts"]) == 0
    assert capsys.readouterr().out.startswith("no alerts since ")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--since", "yesterday"], "neither a duration"),
        (["--kind", "phone_gone"], "unknown kind phone_gone"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    site: Site, capsys: pytest.CaptureFixture[str], args: list[str], says: str
) -> None:
    assert run(["alerts", *args]) == 2
    captured = capsys.readouterr()
    assert says in captured.err and "Traceback" not in captured.err


def test_help_states_the_default_window(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "220")
    assert run(["alerts", "--help"]) == 0
    out = capsys.readouterr().out
    assert "last 7 days" in out and "--since" in out and "--json" in out
