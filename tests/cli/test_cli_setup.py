"""The CLI skeleton as a user meets it: init, phones list, db upgrade, errors without tracebacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.main import run
from engine.db import Database


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("OUTREACH_CONFIG", "OUTREACH_DATABASE_URL", "OUTREACH_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "120")


def test_init_then_phones_list_says_to_add_phones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["init"]) == 0
    assert (tmp_path / "config.toml").is_file()
    assert (tmp_path / "outreach.db").is_file()
    assert "next: add your phones to config.toml" in capsys.readouterr().out
    assert run(["phones", "list"]) == 0
    out = capsys.readouterr().out
    assert "0 phones" in out and "+447700900001" not in out
    assert "no phones configured: add a [[phones]] table per WhatsApp number" in out


def test_phones_added_to_the_written_config_are_listed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["init"]) == 0
    config = tmp_path / "config.toml"
    phones = "".join(f'[[phones]]\nid = "{i:02d}"\nphone = "+4071200{i:04d}"\n' for i in (1, 2))
    config.write_text(config.read_text().replace("[leads]", phones + "[leads]"))
    capsys.readouterr()
    assert run(["phones", "list"]) == 0
    out = capsys.readouterr().out
    assert "2 phones" in out and "+40712000001" in out and "+40712000002" in out
    assert out.count("0 / 200") == 2


def test_init_into_a_folder_keeps_an_existing_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["init", "site"]) == 0
    (tmp_path / "site" / "config.toml").write_text("# mine\n")
    assert run(["init", "site"]) == 0
    assert (tmp_path / "site" / "config.toml").read_text() == "# mine\n"
    assert "keeping it" in capsys.readouterr().out


def test_misspelled_key_exits_2_naming_the_key_and_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(["init"])
    config = tmp_path / "config.toml"
    config.write_text(config.read_text().replace("jitter_max_s", "jitter_maxs"))
    capsys.readouterr()
    assert run(["phones", "list"]) == 2
    err = capsys.readouterr().err
    assert "jitter_maxs" in err and "did you mean 'jitter_max_s'" in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_config_found_through_option_and_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run(["init", "elsewhere"])
    monkeypatch.chdir(tmp_path / "elsewhere")
    monkeypatch.chdir("/")
    assert run(["phones", "list", "--config", str(tmp_path / "elsewhere" / "config.toml")]) == 0
    monkeypatch.setenv("OUTREACH_CONFIG", str(tmp_path / "elsewhere" / "config.toml"))
    assert run(["phones", "list"]) == 0
    assert "0 phones" in capsys.readouterr().out


def test_missing_config_says_how_to_create_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["phones", "list"]) == 2
    assert "outreach init" in capsys.readouterr().err


def test_db_upgrade_on_an_empty_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "config.toml").write_text('[database]\nurl = "sqlite:///fresh.db"\n')
    assert run(["phones", "list"]) == 1
    assert "outreach db upgrade" in capsys.readouterr().err
    head = Database(f"sqlite:///{tmp_path / 'fresh.db'}").head_revision()
    assert run(["db", "upgrade"]) == 0
    assert f"upgraded from empty to {head}" in capsys.readouterr().out
    assert run(["db", "upgrade"]) == 0
    assert f"already at revision {head}" in capsys.readouterr().out


def test_unreachable_database_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "config.toml").write_text(
        '[database]\nurl = "postgresql+psycopg://nobody@127.0.0.1:1/none"\n'
    )
    assert run(["db", "upgrade"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error:") and "Traceback" not in err


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--version"]) == 0
    assert capsys.readouterr().out.startswith("outreach 0.")
    assert run(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("init", "db", "phones"):
        assert command in out


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["frobnicate"]) == 2
    assert "No such command" in capsys.readouterr().err
