"""The campaign state machine: every move a campaign may make, in one place. Pure.

::

    (none) ──create──> draft ──launch──> scheduled ──start──> active ──complete──> completed
                                             │  ^                │  ^
                                           pause└─resume──paused─┘  └── launch (again)
    any launched state ──stop──> stopped;  stopped | completed ──launch──> active | scheduled

A launch (and a resume) lands in ``scheduled`` while the campaign's start is still
ahead and in ``active`` otherwise; the dispatcher moves a ``scheduled`` campaign to
``active`` once its start has come (:data:`Action.START`) and an ``active`` one to
``completed`` once every enrollment has ended (:data:`Action.COMPLETE`). Only an
``active`` campaign sends. A move that changes nothing (pausing a paused campaign)
is allowed and returns the same state.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Final
from zoneinfo import ZoneInfo

from engine.states import CampaignState
from sequences.errors import CampaignError

__all__ = ["PERSON_ACTIONS", "Action", "moves", "next_state", "parse_start"]

_S = CampaignState
_LIVE: Final = "live"
"""Not a state: ``scheduled`` while the start is ahead, else ``active``."""


class Action(StrEnum):
    """What is done to a campaign: by a person (the CLI) or by the dispatcher."""

    CREATE = "create"
    LAUNCH = "launch"
    PAUSE = "pause"
    RESUME = "resume"
    STOP = "stop"
    START = "start"  # the dispatcher: the start has come
    COMPLETE = "complete"  # the dispatcher: every enrollment has ended


_NEW: Final = None
_TABLE: Final[Mapping[tuple[str | None, Action], str]] = MappingProxyType(
    {
        (_NEW, Action.CREATE): _S.DRAFT,
        (_NEW, Action.LAUNCH): _LIVE,
        (_S.DRAFT, Action.CREATE): _S.DRAFT,  # saved again, with its new selection
        (_S.DRAFT, Action.LAUNCH): _LIVE,
        (_S.SCHEDULED, Action.LAUNCH): _LIVE,
        (_S.SCHEDULED, Action.PAUSE): _S.PAUSED,
        (_S.SCHEDULED, Action.RESUME): _S.SCHEDULED,
        (_S.SCHEDULED, Action.STOP): _S.STOPPED,
        (_S.SCHEDULED, Action.START): _S.ACTIVE,
        (_S.ACTIVE, Action.LAUNCH): _LIVE,
        (_S.ACTIVE, Action.PAUSE): _S.PAUSED,
        (_S.ACTIVE, Action.RESUME): _S.ACTIVE,
        (_S.ACTIVE, Action.STOP): _S.STOPPED,
        (_S.ACTIVE, Action.COMPLETE): _S.COMPLETED,
        (_S.PAUSED, Action.LAUNCH): _LIVE,
        (_S.PAUSED, Action.PAUSE): _S.PAUSED,
        (_S.PAUSED, Action.RESUME): _LIVE,
        (_S.PAUSED, Action.STOP): _S.STOPPED,
        (_S.STOPPED, Action.LAUNCH): _LIVE,
        (_S.STOPPED, Action.STOP): _S.STOPPED,
        (_S.COMPLETED, Action.LAUNCH): _LIVE,
        (_S.COMPLETED, Action.STOP): _S.STOPPED,
    }
)

_WHY_NOT: Final[Mapping[Action, str]] = MappingProxyType(
    {
        Action.CREATE: "it was launched already; `outreach campaign launch {name}` adds leads",
        Action.PAUSE: "there is nothing to pause",
        Action.RESUME: "`outreach campaign launch {name}` starts it (again) with new leads",
        Action.STOP: "nothing was launched; there is nothing to stop",
        Action.START: "only a scheduled campaign starts",
        Action.COMPLETE: "only an active campaign completes",
    }
)


def next_state(
    current: str | None,
    action: Action,
    *,
    now: datetime,
    starts_at: datetime | None = None,
    name: str = "",
) -> str:
    """The state a campaign in ``current`` (``None``: no campaign yet) moves to on ``action``.

    ``starts_at`` is the campaign's start (UTC), if it has one. Raises
    :class:`CampaignError`, naming the campaign ``name`` and what to do, for a move the
    table does not allow.
    """
    target = _TABLE.get((current, action))
    if target is None:
        if current is None:
            raise CampaignError(
                f"no campaign {name!r}; start one with `outreach campaign launch {name}`"
            )
        raise CampaignError(
            f"campaign {name!r} is {current}; " + _WHY_NOT[action].format(name=name)
        )
    if target == _LIVE:
        ahead = starts_at is not None and starts_at > now
        return _S.SCHEDULED.value if ahead else _S.ACTIVE.value
    return str(target)


PERSON_ACTIONS: Final = (Action.PAUSE, Action.RESUME, Action.STOP)
"""What a person does to a launched campaign (launching aside): the console's buttons."""


def moves(current: str) -> tuple[Action, ...]:
    """The actions of :data:`PERSON_ACTIONS` the table allows from ``current`` and that
    change it (resuming an active campaign is allowed but does nothing)."""
    return tuple(
        action for action in PERSON_ACTIONS if _TABLE.get((current, action)) not in (None, current)
    )


def parse_start(text: str, zone: str) -> datetime:
    """A start written ``YYYY-MM-DD HH:MM`` (or ``YYYY-MM-DD``, or ISO 8601) as UTC.

    A time without an offset is read in ``zone``. Raises :class:`ValueError` saying the
    expected form.
    """
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f'{text!r} is not a start time; write it like "2026-12-08 09:00"'
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(zone))
    return moment.astimezone(UTC)
