"""The simulator's log of every API request: who sent what, when it came and went.

Tests read it (over HTTP, or as JSON lines with ``--log-file``) to check pacing and
concurrency from the outside. Times are real (wall clock, UTC, microseconds).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

_SEND_PATH = re.compile(r"^/(messages|messages/to_jid|chats/\d+/messages)$")


def is_send(method: str, path: str) -> bool:
    """True for the calls that send a message (``path`` relative to the API root)."""
    return method == "POST" and _SEND_PATH.match(path) is not None


@dataclass
class LoggedRequest:
    """One request the simulated API received, filled in as it is answered."""

    seq: int
    method: str
    path: str
    query: str
    received_at: datetime
    account_phone: str | None = None
    recipient_phone: str | None = None
    chat_id: int | None = None
    text: str | None = None
    message_uid: str | None = None
    answered_at: datetime | None = None
    status_code: int | None = None
    fault: str | None = None

    @property
    def is_send(self) -> bool:
        """True when the request was a send (accepted or not)."""
        return is_send(self.method, self.path)

    def to_json(self) -> dict[str, Any]:
        """The entry as JSON-ready data (ISO times with microseconds)."""
        data = asdict(self)
        for name in ("received_at", "answered_at"):
            moment = data[name]
            data[name] = moment.isoformat(timespec="microseconds") if moment else None
        return data


LOGGED_REQUESTS = TypeAdapter(list[LoggedRequest])


class RequestLog:
    """Entries in arrival order, optionally appended as JSON lines to ``path`` once answered."""

    def __init__(self, path: Path | None = None) -> None:
        self._path = path
        self._entries: list[LoggedRequest] = []
        # Numbering survives a reset so a log file never repeats a seq.
        self._next_seq = 1

    def begin(self, method: str, path: str, query: str) -> LoggedRequest:
        """Record a request as it arrives."""
        entry = LoggedRequest(self._next_seq, method, path, query, datetime.now(UTC))
        self._next_seq += 1
        self._entries.append(entry)
        return entry

    def finish(
        self, entry: LoggedRequest, status_code: int | None, answered_at: datetime | None = None
    ) -> None:
        """Record the answer (or ``None`` when the connection was dropped instead), given
        at ``answered_at`` (now by default)."""
        entry.answered_at = answered_at or datetime.now(UTC)
        entry.status_code = status_code
        if self._path is not None:
            with self._path.open("a", encoding="utf-8") as file:
                file.write(json.dumps(entry.to_json(), ensure_ascii=False) + "\n")

    def entries(self, since: int = 0) -> list[LoggedRequest]:
        """Entries with ``seq`` above ``since``, answered or not."""
        return [entry for entry in self._entries if entry.seq > since]

    def clear(self) -> None:
        """Forget every entry (the file keeps them)."""
        self._entries.clear()
