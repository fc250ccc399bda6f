"""What TimelinesAI says about one of our accounts, turned into the phone's next state.

Pure: the webhook's account events and the scheduled sync both report one of
``active``, ``offline`` or ``banned`` and ask :func:`next_phone_state` what to do.
An operator's pause is never undone by TimelinesAI, nor is a breaker's round
(:mod:`phones.breaker`) ended by an account that is merely connected; a banned or
offline account still wins over it. A banned phone is not downgraded to merely
offline by a status that cannot tell the two apart.
"""

from __future__ import annotations

from typing import Protocol

from engine.states import PhoneState

__all__ = ["AccountStatus", "next_phone_state", "reported_state"]


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
