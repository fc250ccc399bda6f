"""Errors as a new user meets them: one line and the right exit status, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.main import run


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (
        "OUTREACH_CONFIG", "OUTREACH_DATABASE_URL", "OUTREACH_REDIS_URL", "TIMELINESAI_TOKEN",
        "OUTREACH_WEBHOOK_SECRET", "OUTREACH_TIMELINESAI_BASE_URL",
    ):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")


def _one_line(err: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("command", [["phones", "list"], ["dispatch"], ["worker"], ["serve"]])
@pytest.mark.parametrize(
    ("variable", "url", "expected"),
    [
        ("OUTREACH_DATABASE_URL", "mysql://u@h/db", "postgresql+psycopg://"),
        ("OUTREACH_DATABASE_URL", "postgres://u@h/db", "postgresql+psycopg://"),
        ("OUTREACH_REDIS_URL", "localhost:6379", "redis://HOST:PORT/DB"),
    ],
)
def test_an_unusable_database_or_redis_url_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    command: list[str], variable: str, url: str, expected: str,
) -> None:  # fmt: skip
    (tmp_path / "config.toml").write_text("")
    monkeypatch.setenv(variable, url)
    assert run(command) == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith(f"error: {variable}: ") and expected in line
