"""Phone states from TimelinesAI: one ``GET /whatsapp_accounts`` call covers every phone.

Run every ``[scheduler] phone_sync_cron`` and by ``outreach phones sync``. Each
change is recorded as an alert (and returned, so the caller can notify); an
operator's pause is never undone (see :func:`phones.states.next_phone_state`). A phone
still offline past ``[scheduler] offline_phone_grace_s`` is told of once more, once:
the dispatcher ends the leads it contacted (:func:`phones.states.grace_end`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, exists, select

from engine.db import Database
from engine.numbers import from_provider
from engine.settings import Settings
from engine.states import OFFLINE_TOO_LONG, PhoneState
from engine.storage.statements import add_alert
from engine.tables import A, P
from engine.timelinesai import TimelinesAIClient, WhatsAppAccount
from engine.webhook import store
from phones.states import next_phone_state, past_grace, reported_state


@dataclass(frozen=True)
class PhoneChange:
    """One phone whose state changed (or that stayed offline too long: ``kind``), with
    the alert's text."""

    phone_id: str
    before: str
    after: str
    message: str
    kind: str | None = None
    """The alert's kind; ``None``: ``phone_<after>``, a change of state."""

    @property
    def alert_kind(self) -> str:
        """The kind the alert is recorded and sent with."""
        return self.kind or f"phone_{self.after}"


def sync_phone_states(
    now: datetime, client: TimelinesAIClient, database: Database, settings: Settings
) -> list[PhoneChange]:
    """Apply the account list's states to the configured phones; the changes made."""
    accounts = client.whatsapp_accounts()
    by_jid = {account.id: account for account in accounts}
    by_number = {from_provider(account.phone): account for account in accounts}
    changes = []
    with database.engine.begin() as connection:
        for phone in settings.phones:
            account: WhatsAppAccount | None = by_jid.get(phone.account_id or "") or by_number.get(
                phone.phone
            )
            current = store.phone_state(connection, phone.id)
            target = next_phone_state(current, reported_state(account)) if current else None
            if current is None or target is None:
                continue
            status = account.status if account else "not in the workspace"
            message = store.change_phone_state(
                connection, phone.id, expect=current, state=target,
                reason=f"TimelinesAI account status {status}", now=now,
            )  # fmt: skip
            if message is not None:
                changes.append(PhoneChange(phone.id, current, target, message))
        changes += _offline_too_long(connection, now, settings)
    return changes


def _offline_too_long(
    connection: Connection, now: datetime, settings: Settings
) -> list[PhoneChange]:
    """The configured phones offline past their grace and not yet told of since they went
    offline: one alert each (the alert itself is the memory)."""
    offline = connection.execute(
        select(P.c.id, P.c.state_changed_at).where(
            P.c.id.in_([phone.id for phone in settings.phones]), P.c.state == PhoneState.OFFLINE
        )
    ).all()
    changes = []
    for phone_id, since in offline:
        if not past_grace(PhoneState.OFFLINE, since, now, settings.scheduler):
            continue
        told = exists().where(
            A.c.kind == OFFLINE_TOO_LONG, A.c.phone_id == phone_id, A.c.created_at >= since
        )
        if connection.scalar(select(told)):
            continue
        message = offline_too_long_message(phone_id, now - since, since)
        add_alert(
            connection, OFFLINE_TOO_LONG, message, now=now, phone_id=phone_id,
            severity="critical",
        )  # fmt: skip
        changes.append(
            PhoneChange(phone_id, PhoneState.OFFLINE, PhoneState.OFFLINE, message, OFFLINE_TOO_LONG)
        )
    return changes


def offline_too_long_message(phone_id: str, away: timedelta, since: datetime) -> str:
    """The alert's text: the phone, how long, what became of its leads, the fix."""
    hours = away.total_seconds() / 3600
    span = f"{hours:.0f} h" if hours < 48 else f"{hours / 24:.1f} days"
    return (
        f"phone {phone_id} has been offline for {span} (since {since:%Y-%m-%d %H:%M} UTC, "
        "past [scheduler] offline_phone_grace_s): the leads it contacted end failed "
        "(phone_offline), as their follow-ups cannot move to another number; its new leads "
        "go to the other phones. Reconnect its WhatsApp in TimelinesAI (scan the QR code), "
        "then `outreach phones sync`"
    )
