"""Phone states from TimelinesAI: one ``GET /whatsapp_accounts`` call covers every phone.

Run every ``[scheduler] phone_sync_cron`` and by ``outreach phones sync``. Each
change is recorded as an alert (and returned, so the caller can notify); an
operator's pause is never undone (see :func:`phones.states.next_phone_state`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from engine.db import Database
from engine.numbers import from_provider
from engine.settings import Settings
from engine.timelinesai import TimelinesAIClient, WhatsAppAccount
from engine.webhook import store
from phones.states import next_phone_state, reported_state


@dataclass(frozen=True)
class PhoneChange:
    """One phone whose state changed, with the alert's text."""

    phone_id: str
    before: str
    after: str
    message: str


def sync_phone_states(
    now: datetime, client: TimelinesAIClient, database: Database, settings: Settings
) -> list[PhoneChange]:
    """Apply the account list's states to the configured phones; the changes made."""
    accounts = client.whatsapp_accounts()
    by_jid = {account.id: account for account in accounts}
    by_number = {from_provider(account.phone): account for account in accounts}
    changes = []
    with database.engine.begin() as connection:
        states = store.phone_states(connection)  # one read, not one per phone
        for phone in settings.phones:
            account: WhatsAppAccount | None = by_jid.get(phone.account_id or "") or by_number.get(
                phone.phone
            )
            current = states.get(phone.id)
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
    return changes
