"""The workspace's monthly message quota: the latest reading, and the halt before it runs out.

TimelinesAI caps the messages a workspace sends a month and reports what is left at
``GET /workspace/quotas`` (read by :func:`engine.timelinesai.message_quota.read_message_quota`).
The scheduler reads it on ``[scheduler] workspace_quota_cron`` (:mod:`engine.jobs.
workspace_quota`) and keeps the latest reading in Redis, with when it was read, for
``outreach status`` and the forecast. When ``[workspace] reserve_messages`` or fewer are
left, it sets the quota halt: a Redis key without expiry that every worker's
:class:`~engine.sending.halt.RedisHalt` checks beside its own, so a send meets it like a
refused token (back to due, nothing lost, no dead letter). It is cleared when a reading
shows room again (a new month, more seats).

The halt stops every send, follow-ups and automatic answers too, not only first
messages: readings are minutes apart, so the reserve must absorb the sends made between
two of them, and it is what is left for people answering replies by hand in the shared
inbox. Letting follow-ups drain it would leave the engine to meet TimelinesAI's own
refusal, whose shape nobody documents (a dead letter at best).

Losing either key is safe: the next reading writes both again; until then status says the
quota was not read, and at most one interval's sends go out (the reserve covers them).
An unreadable answer changes neither key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

import redis

from engine.timelinesai.message_quota import MessageQuota

__all__ = [
    "QuotaReading",
    "describe_reading",
    "forecast_messages",
    "latest_reading",
    "load_reading",
    "messages_halt_key",
    "quota_halted",
    "reading_key",
    "save_reading",
    "set_quota_halt",
    "should_halt",
]

_MINUTE_S: Final = 60


@dataclass(frozen=True)
class QuotaReading:
    """One reading of the month's messages: the limit and what is left (``None``: the
    answer did not say), when it was read (the engine's clock)."""

    limit: int | None
    left: int | None
    read_at: datetime

    def to_json(self) -> str:
        return json.dumps(
            {"limit": self.limit, "left": self.left, "read_at": self.read_at.isoformat()}
        )

    @classmethod
    def from_json(cls, text: str) -> QuotaReading | None:
        """The reading written by :meth:`to_json`; ``None`` for anything else."""
        try:
            data = json.loads(text)
            return cls(
                _int_or_none(data.get("limit")),
                _int_or_none(data.get("left")),
                datetime.fromisoformat(data["read_at"]),
            )
        except (ValueError, TypeError, KeyError, AttributeError):
            return None


def should_halt(quota: MessageQuota, reserve: int) -> bool | None:
    """Whether sending must halt: ``reserve`` or fewer messages left. ``None`` when what
    is left is unknown: the halt stays as it is."""
    if quota.left is None:
        return None
    return quota.left <= reserve


def forecast_messages(
    reading: QuotaReading | None, *, configured_limit: int, reserve: int, now: datetime
) -> tuple[int, int | None]:
    """What the forecast may send of the workspace's messages: (a month's, this month's
    left), both less the reserve the engine halts at. A month's is the reading's limit, else
    ``configured_limit`` (0: not capped); this month's is ``None`` (a whole month's) when
    nothing was read this calendar month (UTC)."""
    limit = reading.limit if reading is not None and reading.limit is not None else 0
    limit = limit or configured_limit
    per_month = max(0, limit - reserve) if limit > 0 else 0
    if reading is None or reading.left is None or not _same_month(reading.read_at, now):
        return per_month, None
    return per_month, max(0, reading.left - reserve)


def describe_reading(reading: QuotaReading | None, now: datetime) -> str:
    """One line for ``outreach status``: ``workspace messages: 1,240 of 2,000 left this
    month, read 3 min ago``."""
    if reading is None:
        return "workspace messages: not read yet (the scheduler reads them)"
    of = "" if reading.limit is None else f" of {reading.limit:,}"
    left = "unknown (TimelinesAI's answer did not say)" if reading.left is None else (
        f"{reading.left:,}{of} left this month"
    )  # fmt: skip
    return f"workspace messages: {left}, read {_ago(now, reading.read_at)}"


def reading_key(namespace: str) -> str:
    """The Redis key of the latest reading (JSON)."""
    return f"{namespace}:workspace:messages"


def messages_halt_key(namespace: str) -> str:
    """The Redis key that halts all sending while it exists; its value is the reading's time."""
    return f"{namespace}:halt:messages"


def save_reading(client: redis.Redis, namespace: str, reading: QuotaReading) -> None:
    client.set(reading_key(namespace), reading.to_json())


def load_reading(client: redis.Redis, namespace: str) -> QuotaReading | None:
    """The latest reading (``None``: none kept); raises ``redis.RedisError``."""
    value = client.get(reading_key(namespace))
    if value is None:
        return None
    return QuotaReading.from_json(value.decode() if isinstance(value, bytes) else str(value))


def latest_reading(url: str, namespace: str, *, timeout_s: float = 2.0) -> QuotaReading | None:
    """The latest reading for a forecast, or ``None`` when Redis does not answer: a forecast
    without it assumes the configured month (``[workspace] messages_per_month``)."""
    client = redis.Redis.from_url(url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s)
    try:
        return load_reading(client, namespace)
    except redis.RedisError:
        return None
    finally:
        client.close()


def set_quota_halt(client: redis.Redis, namespace: str, halted: bool, now: datetime) -> None:
    if halted:
        client.set(messages_halt_key(namespace), now.isoformat())
    else:
        client.delete(messages_halt_key(namespace))


def quota_halted(client: redis.Redis, namespace: str) -> bool:
    """Whether the quota halt is set; raises ``redis.RedisError``."""
    return bool(client.exists(messages_halt_key(namespace)))


def _same_month(one: datetime, other: datetime) -> bool:
    one, other = one.astimezone(UTC), other.astimezone(UTC)
    return (one.year, one.month) == (other.year, other.month)


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _ago(now: datetime, then: datetime) -> str:
    seconds = max(0.0, (now - then).total_seconds())
    if seconds < _MINUTE_S:
        return "just now"
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", _MINUTE_S)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return "just now"
