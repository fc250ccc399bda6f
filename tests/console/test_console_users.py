"""The users file, the directory that checks passwords, and ``outreach console user``."""

from __future__ import annotations

import io
import stat
from pathlib import Path

import pytest

from cli.main import run
from console.users import Account, Directory, hash_password, read_accounts, write_accounts
from engine.errors import ConfigError


def test_accounts_round_trip_through_the_file_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "users.toml"
    accounts = {"ana": Account("ana", "operator", hash_password("long enough"))}
    write_accounts(path, accounts)
    assert read_accounts(path) == accounts
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "long enough" not in path.read_text()


def test_a_missing_file_has_no_users_and_a_bad_one_names_the_entry(tmp_path: Path) -> None:
    assert read_accounts(tmp_path / "none.toml") == {}
    bad = tmp_path / "bad.toml"
    bad.write_text('[users.ana]\nrole = "boss"\npassword_hash = "$argon2id$x"\n')
    with pytest.raises(ConfigError, match=r"users\.ana.*role must be one of viewer, operator"):
        read_accounts(bad)
    bad.write_text('[users.ana]\nrole = "viewer"\npassword_hash = "plain"\n')
    with pytest.raises(ConfigError, match="argon2"):
        read_accounts(bad)


def test_the_directory_checks_hashes_and_the_single_admin_password() -> None:
    directory = Directory(
        {"ana": Account("ana", "viewer", hash_password("ana-password"))}, "admin-password"
    )
    assert directory.verify("ana", "ana-password") is not None
    assert directory.verify("ana", "wrong") is None
    assert directory.verify("nobody", "ana-password") is None
    admin = directory.verify("admin", "admin-password")
    assert admin is not None and admin.can_act
    assert directory.verify("admin", "wrong") is None
    assert len(directory) == 2
    assert len(Directory({})) == 0


def test_a_short_password_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 8"):
        hash_password("short")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OUTREACH_CONSOLE_PASSWORD", raising=False)
    monkeypatch.delenv("OUTREACH_DATABASE_URL", raising=False)
    monkeypatch.delenv("OUTREACH_CONFIG", raising=False)
    assert run(["init"]) == 0
    return tmp_path


def with_stdin(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(text))


def test_user_add_list_and_remove_from_the_command_line(
    site: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with_stdin(monkeypatch, "s3cret-pass\n")
    assert run(["console", "user", "add", "ana", "--role", "operator"]) == 0
    assert "added ana (operator)" in capsys.readouterr().out
    assert run(["console", "user", "list", "--json"]) == 0
    listed = capsys.readouterr().out
    assert '"name": "ana"' in listed and "argon2" not in listed
    with_stdin(monkeypatch, "short\n")
    assert run(["console", "user", "add", "bo"]) == 2
    short = capsys.readouterr()
    assert "at least 8" in short.err and "Traceback" not in short.err + short.out
    assert run(["console", "user", "remove", "ana"]) == 0
    assert read_accounts(site / "console-users.toml") == {}
    assert run(["console", "user", "remove", "ana"]) == 1


def test_the_console_will_not_start_when_nobody_can_sign_in(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["console", "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert "nobody can sign in" in err and "Traceback" not in err
