"""Log setup: JSON lines that parse, numbers masked, the token never written; --log-format."""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.context import child_options, logs
from cli.main import run
from engine.errors import ConfigError
from engine.logs import LogSettings, build_handler, configure_logging, log_settings

TOKEN = "tok-very-secret-9f3a"


def _emit(log_format: str, message: str, *args: object, **extra: object) -> str:
    stream = io.StringIO()
    logger = logging.getLogger("outreach.test.logs")
    logger.propagate = False
    handler = build_handler(LogSettings(log_format, "INFO"), TOKEN, stream)
    logger.addHandler(handler)
    try:
        logger.warning(message, *args, extra=extra or None)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_json_lines_parse_and_carry_the_fields_and_extras() -> None:
    line = _emit("json", "sent to %s", "+40712345678", phone_id="01", lead="+40799999999")
    record = json.loads(line)
    assert record["level"] == "WARNING"
    assert record["logger"] == "outreach.test.logs"
    assert record["message"] == "sent to ••••5678"
    assert isinstance(record["process"], int)
    assert record["time"].endswith("+00:00")
    assert record["phone_id"] == "01"
    assert record["lead"] == "••••9999"
    assert line.count("\n") == 1


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_the_token_and_numbers_never_reach_the_log(log_format: str) -> None:
    output = _emit(log_format, f"Authorization: Bearer {TOKEN} for 40712345678 token=%s", TOKEN)
    assert TOKEN not in output
    assert "40712345678" not in output
    assert "5678" in output


def test_exceptions_are_redacted_in_json() -> None:
    stream = io.StringIO()
    logger = logging.getLogger("outreach.test.exc")
    logger.propagate = False
    handler = build_handler(LogSettings("json"), TOKEN, stream)
    logger.addHandler(handler)
    try:
        raise RuntimeError(f"failed for +40712345678 with {TOKEN}")
    except RuntimeError:
        logger.exception("send failed")
    finally:
        logger.removeHandler(handler)
    record = json.loads(stream.getvalue())
    assert "RuntimeError" in record["exception"]
    assert TOKEN not in stream.getvalue() and "40712345678" not in stream.getvalue()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, LogSettings("text", "INFO")),
        (
            {"OUTREACH_LOG_FORMAT": "JSON", "OUTREACH_LOG_LEVEL": "debug"},
            LogSettings("json", "DEBUG"),
        ),
        ({"OUTREACH_LOG_FORMAT": ""}, LogSettings("text", "INFO")),
    ],
)
def test_log_settings_from_the_environment(env: dict[str, str], expected: LogSettings) -> None:
    assert log_settings(env) == expected


def test_an_unknown_log_format_in_the_environment_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="OUTREACH_LOG_FORMAT"):
        log_settings({"OUTREACH_LOG_FORMAT": "xml"})


def test_a_bad_log_format_option_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--log-format", "xml", "serve"]) == 2
    assert "--log-format" in capsys.readouterr().err


def test_the_log_format_option_reaches_children_as_an_argument(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OUTREACH_LOG_FORMAT", "text")
    assert run(["--log-format", "json", "spintax", "check", "Hello"]) == 0
    assert os.environ["OUTREACH_LOG_FORMAT"] == "text"  # the environment is left alone
    assert (logs().log_format, child_options()) == ("json", ("--log-format", "json"))
    assert run(["spintax", "check", "Hello"]) == 0  # the next command, without it
    assert (logs().log_format, child_options()) == ("text", ())


def test_configuring_logging_leaves_a_silenced_access_log_silent() -> None:
    # uvicorn with access_log=False (the webhook receiver): access lines carry ?secret=.
    access = logging.getLogger("uvicorn.access")
    root = logging.getLogger()
    saved = (access.handlers[:], access.propagate, root.handlers[:], root.level)
    access.handlers.clear()
    access.propagate = False
    try:
        configure_logging(LogSettings(), None)
        assert access.propagate is False and not access.handlers
        assert logging.getLogger("uvicorn.error").propagate is True
    finally:
        for handler in root.handlers:
            root.removeHandler(handler)
            handler.close()
        access.handlers[:], access.propagate = saved[0], saved[1]
        for handler in saved[2]:
            root.addHandler(handler)
        root.setLevel(saved[3])


def test_the_receivers_uvicorn_logs_through_the_redacting_json_handler(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The receiver configures logging, then builds uvicorn's settings: uvicorn must not
    put its own handler back (its lines, tracebacks included, would skip redaction)."""
    from fastapi import FastAPI

    from engine.webhook.serving import uvicorn_config

    names = ("uvicorn", "uvicorn.error", "uvicorn.access")
    root = logging.getLogger()
    saved = {n: (logging.getLogger(n).handlers[:], logging.getLogger(n).propagate) for n in names}
    saved_root = (root.handlers[:], root.level)
    try:
        configure_logging(LogSettings("json"), TOKEN)
        uvicorn_config(FastAPI())
        logging.getLogger("uvicorn.error").error("Exception in ASGI application for +40712345678")
        [line] = capsys.readouterr().err.splitlines()
        record = json.loads(line)
        assert (record["logger"], record["message"]) == (
            "uvicorn.error", "Exception in ASGI application for ••••5678",
        )  # fmt: skip
    finally:
        for name, (handlers, propagate) in saved.items():
            logging.getLogger(name).handlers[:] = handlers
            logging.getLogger(name).propagate = propagate
        for handler in root.handlers:
            root.removeHandler(handler)
            handler.close()
        for handler in saved_root[0]:
            root.addHandler(handler)
        root.setLevel(saved_root[1])


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """Put the root handlers and the quietened libraries' levels back after the test."""
    from engine.logs import QUIET_LOGGERS

    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    levels = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    yield
    for handler in root.handlers[:]:
        root.removeHandler(handler)
        handler.close()
    for handler in saved[0]:
        root.addHandler(handler)
    root.setLevel(saved[1])
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def _routine_library_work(tmp_path: Path) -> None:
    """An HTTP request through httpx and a migration through Alembic (``outreach init``,
    ``db upgrade``; the schema check of every other command no longer asks Alembic)."""
    import httpx

    from engine.db import Database

    transport = httpx.MockTransport(lambda request: httpx.Response(200))
    with httpx.Client(transport=transport) as client:
        client.get("http://api.example/whatsapp_accounts")
    database = Database(f"sqlite:///{tmp_path / 'quiet.db'}")
    try:
        database.upgrade()
    finally:
        database.dispose()
    logging.getLogger("outreach.test.quiet").info("our own line")


@pytest.mark.usefixtures("restored_logging")
@pytest.mark.parametrize(("level", "shown"), [("INFO", False), ("DEBUG", True)])
def test_httpx_and_alembic_info_lines_only_at_debug(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], level: str, shown: bool
) -> None:
    configure_logging(LogSettings("text", level), None)
    _routine_library_work(tmp_path)
    err = capsys.readouterr().err
    assert "our own line" in err
    assert ("HTTP Request: GET" in err) is shown
    assert ("Context impl SQLiteImpl" in err) is shown
