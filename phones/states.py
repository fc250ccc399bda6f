"""What TimelinesAI says about one of our accounts, turned into the phone's next state.

Pure: the webhook's account events and the scheduled sync both report one of
``active``, ``offline`` or ``banned`` and ask :func:`next_phone_state` what to do.
An operator's pause is never undone by TimelinesAI, nor is a breaker's round
(:mod:`phones.breaker`) ended by an account that is merely connected; a banned or
offline account still wins over it. A banned phone is not downgraded to merely
offline by a status that cannot tell the two apart.

A phone away from the pool cannot hold the leads it has contacted for ever: their chats
live on its number, so their follow-ups cannot move. :func:`grace_end` says when they
are given up on. A ban known as such waits ``banned_phone_grace_s``; a phone merely
offline waits ``offline_phone_grace_s``, because TimelinesAI's ``GET
/whatsapp_accounts`` reports a ban as ``disconnected`` too: a phone sync that reads it
before a send is refused as banned leaves the phone offline, and without a bound its
leads would wait for ever. A paused phone is a person's choice and waits for them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from engine.settings import SchedulerSettings
from engine.states import PhoneState

__all__ = ["AccountStatus", "grace_end", "next_phone_state", "past_grace", "reported_state"]


class AccountStatus(Protocol):
    """What a provider says of one of our accounts (TimelinesAI's ``WhatsAppAccount``)."""

    @property
    def is_connected(self) -> bool: ...

    @property
    def is_banned(self) -> bool: ...


_BREAKER_ROUND = frozenset({PhoneState.COOLING, PhoneState.HALF_OPEN, PhoneState.PROBING})


def next_phone_state(current: str, reported: str) -> str | None:
    """The state a phone in ``current`` moves to when TimelinesAI reports ``reported``.

    ``None`` means no change.
    """
    if current in (PhoneState.PAUSED, reported):
        return None
    if current in _BREAKER_ROUND and reported == PhoneState.ACTIVE:
        return None
    if reported == PhoneState.OFFLINE and current == PhoneState.BANNED:
        return None
    return reported


def reported_state(account: AccountStatus | None) -> str:
    """The state an entry of ``GET /whatsapp_accounts`` reports (absent: offline)."""
    if account is None:
        return PhoneState.OFFLINE
    if account.is_connected:
        return PhoneState.ACTIVE
    if account.is_banned:
        return PhoneState.BANNED
    return PhoneState.OFFLINE


def grace_end(state: str, since: datetime | None, settings: SchedulerSettings) -> datetime | None:
    """When a phone in ``state`` since ``since`` has been away so long that the leads it
    has contacted end ``failed``; ``None``: never (it may send, a person paused it, its
    breaker's round ends by itself, or the moment it left is unknown)."""
    grace_s = {
        PhoneState.BANNED.value: settings.banned_phone_grace_s,
        PhoneState.OFFLINE.value: settings.offline_phone_grace_s,
    }.get(state)
    if grace_s is None or since is None:
        return None
    return since + timedelta(seconds=grace_s)


def past_grace(
    state: str, since: datetime | None, now: datetime, settings: SchedulerSettings
) -> bool:
    """Has the phone's :func:`grace_end` passed at ``now``?"""
    end = grace_end(state, since, settings)
    return end is not None and end < now
