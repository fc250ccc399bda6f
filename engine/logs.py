"""Logging setup for every long-running process: one root handler, redacted, text or JSON.

Text is for people at a terminal; JSON (one object per line: ``time``, ``level``,
``logger``, ``message``, ``process`` and any extras) is for log collectors. Either
way the root handler carries a :class:`~engine.redact.RedactingFilter` with the
workspace token, so phone numbers keep only their last four digits and the token
never reaches a log, whichever library logged the record.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TextIO

from engine.errors import ConfigError
from engine.redact import RedactingFilter, redact_text

LOG_FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(process)d %(name)s %(levelname)s %(message)s"
# uvicorn installs handlers of its own on these; they should reach the root handler instead.
# Not ``uvicorn.access``: its lines carry query strings (the webhook's secret), and the
# receiver turns it off; it keeps what uvicorn's ``access_log`` setting made of it.
ADOPTED_LOGGERS = ("uvicorn", "uvicorn.error")
# Libraries that log routine work at INFO, shown only at OUTREACH_LOG_LEVEL=DEBUG:
# APScheduler every job run (on a sped-up clock, thousands of lines), httpx and httpcore
# every HTTP request, Alembic its migration context on every start, and Dramatiq's
# retries every "Retrying message ..." (a retry is logged once, as a warning, by
# engine.broker.retrying).
QUIET_LOGGERS = ("apscheduler", "httpx", "httpcore", "alembic", "dramatiq.middleware.retries")
# Attributes every LogRecord has: anything else on a record is an extra.
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
# uvicorn adds a copy of its message with terminal colours.
_DROPPED = frozenset({"color_message"})


@dataclass(frozen=True)
class LogSettings:
    """How a process logs: ``log_format`` is ``text`` or ``json``, ``level`` a level name."""

    log_format: str = "text"
    level: str = "INFO"


def log_settings(env: Mapping[str, str], log_format: str | None = None) -> LogSettings:
    """Read ``OUTREACH_LOG_FORMAT`` and ``OUTREACH_LOG_LEVEL`` from ``env`` (the process
    edge); ``log_format`` (``--log-format``) wins over the environment's."""
    log_format = (log_format or env.get("OUTREACH_LOG_FORMAT", "")).strip().lower() or "text"
    if log_format not in LOG_FORMATS:
        raise ConfigError(
            f"OUTREACH_LOG_FORMAT: unknown log format {log_format!r}; use text or json"
        )
    level = env.get("OUTREACH_LOG_LEVEL", "").strip().upper() or "INFO"
    return LogSettings(log_format, level)


class JsonFormatter(logging.Formatter):
    """One JSON object per record; string extras are redacted like the message."""

    def __init__(self, token: str | None = None) -> None:
        super().__init__()
        self._token = token

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in _DROPPED and not key.startswith("_"):
                entry[key] = self._plain(value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = redact_text(record.exc_text, self._token)
        return json.dumps(entry, ensure_ascii=False, default=str)

    def _plain(self, value: object) -> object:
        if value is None or isinstance(value, bool | int | float):
            return value
        return redact_text(str(value), self._token)


def build_handler(
    settings: LogSettings, token: str | None, stream: TextIO | None = None
) -> logging.Handler:
    """A stream handler (stderr by default) with the chosen format and the redacting filter."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter(token))
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    handler.addFilter(RedactingFilter(token))
    return handler


def configure_logging(settings: LogSettings, token: str | None) -> None:
    """Make the root logger's only handler the redacting one, at ``settings.level``."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    root.addHandler(build_handler(settings, token))
    level = getattr(logging, settings.level, logging.INFO)
    root.setLevel(level)
    for name in ADOPTED_LOGGERS:
        adopted = logging.getLogger(name)
        adopted.handlers.clear()
        adopted.propagate = True
    # A logger's own level decides for its records (the root's does not filter them).
    quiet = level if level <= logging.DEBUG else max(level, logging.WARNING)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(quiet)
