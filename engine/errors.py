"""The one error root of outreach and the base of each subsystem's errors.

Every error a user can meet derives from :class:`OutreachError`; the CLI turns
one into a single line and a non-zero exit status instead of a traceback.
"""

from __future__ import annotations


class OutreachError(Exception):
    """Raised when outreach cannot do what was asked; the message says what to do."""

    exit_code: int = 1


class ConfigError(OutreachError):
    """Raised when the configuration file or an environment override is invalid."""

    exit_code = 2

    def __init__(self, message: str, *, path: str | None = None, key: str | None = None) -> None:
        self.path = path
        self.key = key
        where = ": ".join(part for part in (path, key) if part)
        super().__init__(f"{where}: {message}" if where else message)


class StorageError(OutreachError):
    """Raised when the database cannot be reached or is not at the expected revision."""


class ServiceUnavailableError(OutreachError):
    """Raised when Redis or the database does not answer; the message says how to start it."""
