"""The workspace's message quota, read out of ``GET /workspace/quotas`` whatever its shape.

TimelinesAI caps the messages a workspace sends a month (Mass Messaging: 2,000 per seat)
and reports what is left at ``GET /workspace/quotas``, but its spec does not say in what
shape. Integrations that read it see ``{"messaging_quota": {"total", "used"}, ...}``; the
simulator answers that shape and a flat one. :func:`read_message_quota` accepts both,
a few other plausible names, and the same one level down (``data``, ``quotas``). Pure:
an answer it cannot read is a quota it does not know (``known`` is false), never a crash.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["MessageQuota", "read_message_quota"]

# Nested tables of one quota, by the names TimelinesAI (or a plausible successor) uses.
_TABLES: Final = (
    "messaging_quota",
    "messages_quota",
    "message_quota",
    "mass_messaging",
    "messages",
)
_LIMIT_IN_TABLE: Final = ("total", "limit", "monthly_limit", "max", "quota")
_LEFT_IN_TABLE: Final = ("left", "remaining", "available")
_USED_IN_TABLE: Final = ("used", "sent", "spent")
# The same figures written flat, beside the API-call ones.
_FLAT_LIMIT: Final = (
    "messages_monthly_limit",
    "messages_limit",
    "messaging_quota_total",
    "messages_total",
    "monthly_messages_limit",
)
_FLAT_LEFT: Final = ("messages_left", "messages_remaining", "messaging_quota_left")
_FLAT_USED: Final = ("messages_used", "messages_sent", "messaging_quota_used")
# Where the figures may sit one level down.
_WRAPPERS: Final = ("data", "quotas", "quota", "workspace")


@dataclass(frozen=True)
class MessageQuota:
    """The month's messages: the limit and what is left (``None``: not known)."""

    limit: int | None = None
    left: int | None = None

    @property
    def known(self) -> bool:
        """Whether what is left is known (a halt can be judged)."""
        return self.left is not None


UNKNOWN: Final = MessageQuota()


def read_message_quota(raw: Mapping[str, Any], *, configured_limit: int = 0) -> MessageQuota:
    """The message quota in TimelinesAI's answer ``raw``; what is left is the answer's own
    figure, else its limit (or ``configured_limit`` when it gives none and that is above 0)
    less what it says was used. Unknown when neither can be read."""
    for table in _candidates(raw):
        limit, left, used = _figures(table)
        if limit is None and configured_limit > 0 and (left is not None or used is not None):
            limit = configured_limit
        if left is None and limit is not None and used is not None:
            left = max(0, limit - used)
        if left is not None:
            return MessageQuota(limit, min(left, limit) if limit is not None else left)
    return UNKNOWN


def _candidates(raw: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The tables a quota may be written in, the most specific first."""
    levels: list[Mapping[str, Any]] = [raw]
    levels += [raw[key] for key in _WRAPPERS if isinstance(raw.get(key), Mapping)]
    found: list[Mapping[str, Any]] = []
    for level in levels:
        found += [level[key] for key in _TABLES if isinstance(level.get(key), Mapping)]
    return found + levels


def _figures(table: Mapping[str, Any]) -> tuple[int | None, int | None, int | None]:
    """(limit, left, used) as written in ``table``, nested names or flat ones."""
    return (
        _first(table, _LIMIT_IN_TABLE + _FLAT_LIMIT),
        _first(table, _LEFT_IN_TABLE + _FLAT_LEFT),
        _first(table, _USED_IN_TABLE + _FLAT_USED),
    )


def _first(table: Mapping[str, Any], names: tuple[str, ...]) -> int | None:
    for name in names:
        number = _count(table.get(name))
        if number is not None:
            return number
    return None


def _count(value: object) -> int | None:
    """A count of messages: a non-negative whole number, or its digits as text."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None
