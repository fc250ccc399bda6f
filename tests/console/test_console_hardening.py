"""What a review of the console found, each kept fixed: users changed on disk take effect
at once, sign-in attempts are counted before the password is checked, password checks
are limited, and no input or outage turns into a bare 500."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from cli.main import run
from console.sessions import start
from console.throttle import LoginThrottle
from console.users import Account, BusyError, Directory, User, hash_password, write_accounts
from engine.db import Database
from engine.tables import CA, CS
from tests.console.conftest import ConsoleHarness


def test_a_directory_reads_the_users_file_again_when_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "users.toml"
    write_accounts(path, {"ana": Account("ana", "operator", hash_password("first-pass"))})
    directory = Directory({}, source=path)
    assert directory.role_of("ana") == "operator"
    write_accounts(path, {"ana": Account("ana", "viewer", hash_password("second-pass"))})
    assert directory.verify("ana", "first-pass") is None
    assert directory.verify("ana", "second-pass") == User("ana", "viewer")
    write_accounts(path, {})
    assert directory.role_of("ana") is None and len(directory) == 0
    path.write_text("not toml [")  # broken: the users read last stay
    assert directory.role_of("ana") is None


def test_password_checks_beyond_the_limit_are_refused_as_busy() -> None:
    directory = Directory(
        {"ana": Account("ana", "viewer", hash_password("long-pass"))}, checks_at_once=1, wait_s=0
    )
    directory._checks.acquire()  # another check is running
    with pytest.raises(BusyError):
        directory.verify("ana", "long-pass")
    directory._checks.release()
    assert directory.verify("ana", "long-pass") is not None


def test_attempts_count_before_the_check_and_success_clears_only_the_name() -> None:
    throttle = LoginThrottle(per_name=5, per_address=20, window_s=300)
    for _ in range(5):  # five in flight at once: all counted at once
        assert throttle.admit("vic", "10.0.0.1", 0) == 0
    assert throttle.admit("vic", "10.0.0.1", 1) > 0  # the sixth waits, password unchecked
    assert throttle.admit("ana", "10.0.0.1", 1) == 0  # another name from the same address
    throttle.succeeded("ana", "10.0.0.1")
    assert throttle.admit("vic", "10.0.0.1", 2) > 0  # ana's success does not clear vic
    for n in range(15):  # vic's 5 and ana's forgiven 1: 15 more make 20
        assert throttle.admit(f"user{n}", "10.0.0.1", 3) == 0
    assert throttle.admit("newcomer", "10.0.0.1", 4) > 0  # the address's 20 are used up
    assert throttle.admit("newcomer", "10.0.0.2", 4) == 0
    assert throttle.admit("vic", "10.0.0.1", 301) == 0  # the window passed


@pytest.mark.parametrize(
    "path",
    ["/leads?q=%00", "/activity?user=a%00b", "/leads?after=9223372036854775808",
     "/leads?after=abc", "/campaigns/a%00b"],
)  # fmt: skip
def test_unusable_input_is_a_page_saying_so_not_a_500(console: ConsoleHarness, path: str) -> None:
    console.sign_in("ana")
    answer = console.client.get(path)
    assert answer.status_code == 400, answer.text
    assert "Not understood" in answer.text
    assert answer.headers["content-type"].startswith("text/html")


def test_an_oversized_id_in_a_form_is_a_400(console: ConsoleHarness) -> None:
    console.sign_in("ana")
    assert console.post("/replies/9223372036854775808/resolve").status_code == 400
    answer = console.post("/dead-letters/retry", {"id": "²"})
    assert answer.status_code == 303  # a note: not an enrollment id


def test_a_database_that_is_gone_is_a_503_page(
    make_console: Callable[..., ConsoleHarness], tmp_path: Path
) -> None:
    database = Database(f"sqlite:///{tmp_path / 'gone.db'}")
    database.upgrade()
    harness = make_console(database=database)
    harness.sign_in("ana")
    (tmp_path / "gone.db").unlink()
    database.dispose()  # the next connection opens a new, empty file: no tables
    answer = harness.client.get("/")
    assert answer.status_code == 503 and "Database unavailable" in answer.text


def test_an_action_that_changed_nothing_is_not_recorded_as_done(console: ConsoleHarness) -> None:
    console.sign_in("ana")
    console.post("/campaigns/nope/pause")
    console.post("/replies/12345/resolve")
    with console.database.engine.connect() as connection:
        actions = [a for (a,) in connection.execute(select(CA.c.action))]
    assert actions == ["signed in"]


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for variable in ("OUTREACH_CONSOLE_PASSWORD", "OUTREACH_DATABASE_URL", "OUTREACH_CONFIG"):
        monkeypatch.delenv(variable, raising=False)
    assert run(["init"]) == 0
    return tmp_path


def add(monkeypatch: pytest.MonkeyPatch, *args: str, password: str = "long-password") -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    return run(["console", "user", "add", *args])


def sessions_of(site: Path, name: str) -> int:
    database = Database(f"sqlite:///{site / 'outreach.db'}")
    try:
        with database.engine.connect() as connection:
            return len(connection.execute(select(CS.c.user).where(CS.c.user == name)).all())
    finally:
        database.dispose()


def sign_in_directly(site: Path, name: str, role: str) -> None:
    database = Database(f"sqlite:///{site / 'outreach.db'}")
    try:
        with database.engine.begin() as connection:
            from datetime import UTC, datetime

            start(connection, User(name, role), datetime.now(UTC), 12)
    finally:
        database.dispose()


def test_user_add_keeps_the_role_unless_told_and_remove_signs_out(
    site: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert add(monkeypatch, "ana", "--role", "operator") == 0
    assert add(monkeypatch, "ana", password="another-password") == 0
    assert "updated ana (operator)" in capsys.readouterr().out
    sign_in_directly(site, "ana", "operator")
    assert run(["console", "user", "remove", "ana"]) == 0
    assert sessions_of(site, "ana") == 0


def test_people_signing_in_together_wait_for_few_checks() -> None:
    directory = Directory(
        {"ana": Account("ana", "viewer", hash_password("long-pass"))}, checks_at_once=2
    )
    results: list[User | None] = []
    threads = [
        threading.Thread(target=lambda: results.append(directory.verify("ana", "long-pass")))
        for _ in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [User("ana", "viewer")] * 6


def test_behind_a_tls_proxy_every_cookie_is_marked_secure(
    make_console: Callable[..., ConsoleHarness], redis_namespace: str
) -> None:
    from dataclasses import replace

    from tests.console.conftest import base_settings

    settings = base_settings(redis_namespace)
    settings = replace(settings, console=replace(settings.console, secure_cookies=True))
    harness = make_console(settings=settings)
    form = harness.client.get("/login")
    assert "secure" in form.headers["set-cookie"].lower()


def test_the_preview_carries_every_choice_back_to_the_form(console: ConsoleHarness) -> None:
    console.sign_in("ana")
    page = console.client.get(
        "/campaigns/new", params={"name": "spring", "tag": "jan", "start": "2026-01-06 09:00"}
    )
    assert 'value="spring"' in page.text and 'value="jan"' in page.text
    assert 'value="2026-01-06 09:00"' in page.text
