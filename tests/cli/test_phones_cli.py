"""``outreach phones list`` and ``outreach status`` show each phone's health, as a table and
with ``--json``, read with the config's ``[health]`` windows.

Against a scratch SQLite site; the CLI's clock runs at speed 1, so the history is seeded
relative to the wall clock at the test's start.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cli.main import run
from engine.db import Database
from engine.settings import PhoneSettings
from phones import sync_phones
from tests.seed import seed_phone_history

CONFIG = """
[database]
url = "sqlite:///site.db"
[redis]
namespace = "{namespace}"
[health]
first_messages = 3
sends = 4
replies = 3
stuck_after_h = 6.0
[[phones]]
id = "01"
phone = "+447700900001"
[[phones]]
id = "02"
phone = "+447700900002"
"""

HEALTH_01 = {
    "first_messages": 3, "delivered": 2, "failed": 0, "stuck": 1, "answered": 1, "sends": 4,
    "invalid": 1, "replies": 3, "opt_outs": 2, "delivered_rate": 2 / 3, "reply_rate": 1 / 3,
    "invalid_rate": 0.25, "opt_out_rate": 2 / 3,
}  # fmt: skip


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, redis_namespace: str) -> Path:
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
    seed_phone_history(database, datetime.now(UTC))
    database.dispose()
    return tmp_path


def printed_json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> Any:
    capsys.readouterr()
    assert run(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_phones_list_shows_each_phones_health(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    phones = printed_json(capsys, ["phones", "list", "--json"])
    assert [phone["id"] for phone in phones] == ["01", "02"]
    assert phones[0]["health"] == pytest.approx(HEALTH_01)
    assert phones[1]["health"]["failed"] == 1 and phones[1]["health"]["delivered_rate"] == 0.0
    assert run(["phones", "list"]) == 0
    table = capsys.readouterr().out
    assert "replies / opt-outs" in table
    assert "67% of 3, 1 stuck" in table and "1 of 4" in table and "3 / 2" in table
    assert "0% of 1, 1 failed" in table


def test_status_shows_each_phones_health(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = printed_json(capsys, ["status", "--json"])
    assert status["phones"][0]["health"] == pytest.approx(HEALTH_01)
    assert run(["status"]) == 0
    assert "67% of 3, 1 stuck" in capsys.readouterr().out
