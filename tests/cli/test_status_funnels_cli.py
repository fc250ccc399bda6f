"""``outreach status`` past ``[scheduler] live_funnel_max_messages``: the funnels' snapshot,
its age in ``--json``, and ``--refresh-funnels`` making one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cli.main import run
from engine.db import Database
from tests.seed import campaign_id

CONFIG = """
[database]
url = "sqlite:///site.db"
[redis]
namespace = "{namespace}"
[scheduler]
live_funnel_max_messages = 0
[[phones]]
id = "01"
phone = "+447700900001"
"""


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, redis_namespace: str) -> Path:
    for name in ("OUTREACH_CONFIG", "OUTREACH_DATABASE_URL", "OUTREACH_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.toml").write_text(CONFIG.format(namespace=redis_namespace))
    database = Database(f"sqlite:///{tmp_path / 'site.db'}")
    database.upgrade()
    with database.session() as session:
        campaign_id(session, "intro")
    database.dispose()
    return tmp_path


def printed_json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> Any:
    capsys.readouterr()
    assert run(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_status_says_there_is_no_snapshot_then_refresh_makes_one(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = printed_json(capsys, ["status", "--json"])
    assert before["funnels_as_of"] is None
    assert any("--refresh-funnels" in note for note in before["notes"])
    after = printed_json(capsys, ["status", "--json", "--refresh-funnels"])
    assert after["funnels_as_of"] is not None
    assert any(note.startswith("funnels as of ") for note in after["notes"])
    assert [c["campaign"] for c in after["campaigns"]] == ["intro"]
