"""The simulator's settings: files, overrides, validation, runtime changes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.errors import ConfigError
from engine.timelinesai.simulator import SimAccount, SimulatorConfig, load_config

TOML = """
token = "t"
speed = 60
latency_ms = [10, 30]
reply_delay_s = 5
reply_texts = ["yes", "no"]
invalid_recipient_pattern = "^\\\\+999"

[[accounts]]
phone = "+15550100001"
name = "Sales 1"

[[accounts]]
phone = "+15550100002"
jid = "custom@s.whatsapp.net"
status = "banned"
ban_after_sends = 3
"""


def test_a_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "sim.toml"
    path.write_text(TOML)
    config = load_config(path)
    assert config.speed == 60
    assert config.latency_ms == (10, 30)
    assert config.reply_delay_s == (5, 5)
    assert config.reply_texts == ("yes", "no")
    assert config.invalid_recipient_pattern == r"^\+999"
    first, second = config.accounts
    assert (first.account_id, first.status, first.name) == (
        "15550100001@s.whatsapp.net",
        "active",
        "Sales 1",
    )
    assert (second.account_id, second.status, second.ban_after_sends) == (
        "custom@s.whatsapp.net",
        "banned",
        3,
    )


def test_a_json_file_with_overrides_on_top(tmp_path: Path) -> None:
    path = tmp_path / "sim.json"
    path.write_text(json.dumps({"error_rate": 0.1, "seed": 3}))
    config = load_config(path, {"error_rate": 0.5})
    assert (config.error_rate, config.seed) == (0.5, 3)
    assert len(config.accounts) == 3


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("errr_rate = 0.1", "errr_rate"),
        ("error_rate = 2.0", "error_rate"),
        ('timeout_mode = "explode"', "timeout_mode"),
        ("delivered_after_s = 1\nread_after_s = 0.5", "read_after_s"),
        ("latency_ms = [50, 10]", "latency_ms"),
        ('invalid_recipient_pattern = "("', "pattern"),
        ('webhook_url = "ftp://x"', "webhook_url"),
        ('[[accounts]]\nphone = "+1"\n[[accounts]]\nphone = "+1"', "twice"),
        ('[[accounts]]\nphone = "+1"\nstatus = "gone"', "accounts.0.status"),
        ("speed = 0", "speed"),
        ("not toml at all", "cannot read"),
    ],
)
def test_bad_settings_name_the_problem(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "sim.toml"
    path.write_text(content)
    with pytest.raises(ConfigError, match=problem) as raised:
        load_config(path)
    assert str(path) in str(raised.value)


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.toml")


def test_runtime_changes_keep_the_rest() -> None:
    config = SimulatorConfig(seed=1, error_rate=0.2)
    changed = config.changed({"error_rate": 0.0, "reply_texts": ["ok"]})
    assert (changed.error_rate, changed.reply_texts, changed.seed) == (0.0, ("ok",), 1)
    with pytest.raises(ConfigError, match="accounts, seed"):
        config.changed({"seed": 2, "accounts": []})


def test_the_token_is_not_shown() -> None:
    shown = SimulatorConfig(token="secret").to_json()
    assert "token" not in shown
    assert shown["accounts"][0]["phone"] == "+15550100001"


def test_an_account_jid_defaults_to_its_digits() -> None:
    assert SimAccount(phone="+40 712 345 678").account_id == "40712345678@s.whatsapp.net"
