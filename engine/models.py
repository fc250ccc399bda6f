"""ORM classes over the tables of :mod:`engine.tables`, for code that wants objects.

The schema is defined once, as Core tables; each class here is mapped onto its table
(``__table__``), so it has the table's columns as attributes and nothing of its own.
Building one fills the columns' defaults as an insert would (``Phone(id="01", ...)``
is ``active`` with ``sent_total`` 0 before it is flushed). The engine itself reads and
writes with Core statements; the ORM is loaded only by the code that imports this
module (the tests' fixtures, mostly).

States are plain strings (:mod:`engine.states`, re-exported here).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import DeclarativeBase, Mapper

from engine import tables
from engine.company_keys import company_key
from engine.lead_names import name_key
from engine.states import (
    END_STATES,
    RUNNING_STATES,
    AutoReplyState,
    CampaignState,
    Direction,
    EnrollmentState,
    PhoneState,
    StepState,
)
from engine.tables import phone_ids_column, phone_ids_of

__all__ = [
    "END_STATES",
    "RUNNING_STATES",
    "Alert",
    "AutoReply",
    "AutoReplyState",
    "Campaign",
    "CampaignState",
    "ConsoleAction",
    "ConsoleSession",
    "Direction",
    "Enrollment",
    "EnrollmentState",
    "InstallSecret",
    "Lead",
    "LeadTag",
    "Message",
    "Phone",
    "PhoneState",
    "QuotaUsage",
    "ReviewFlag",
    "StepState",
    "Suppression",
    "WebhookEvent",
    "phone_ids_column",
    "phone_ids_of",
]


class _Given:
    """What a column default sees when an object is built: the values given to it."""

    def __init__(self, values: dict[str, Any]) -> None:
        self._values = values

    def get_current_parameters(self) -> dict[str, Any]:
        return self._values


class Row(DeclarativeBase):
    """The base of the classes below: mapped onto :data:`engine.tables.metadata`."""

    metadata = tables.metadata

    def __init__(self, **values: Any) -> None:
        table: Any = self.__table__
        for name in values:
            if name not in table.c:
                raise TypeError(f"{name!r} is not a column of {table.name}")
        given = _Given(values)
        for column in table.c:
            default = column.default
            if column.key in values or default is None:
                continue
            values[column.key] = default.arg(given) if default.is_callable else default.arg
        for name, value in values.items():
            setattr(self, name, value)


class Phone(Row):
    """The runtime state of one of our WhatsApp numbers (its settings live in the config)."""

    __table__ = tables.P


class Lead(Row):
    """A person we may write to; ``variables`` are the import's columns, for templates."""

    __table__ = tables.L


@event.listens_for(Lead, "before_insert")
@event.listens_for(Lead, "before_update")
def _keep_name_key(_: Mapper[Lead], __: Connection, lead: Lead) -> None:
    lead.name_key = name_key(lead.variables)  # type: ignore[attr-defined]
    lead.company_key = company_key(lead.variables)  # type: ignore[attr-defined]


class LeadTag(Row):
    """A tag given to a lead at import (``--tag``), to pick leads for a campaign."""

    __table__ = tables.T


class Campaign(Row):
    """A named run of a sequence (:data:`engine.tables.C`)."""

    __table__ = tables.C


class Enrollment(Row):
    """A lead's journey through one campaign's sequence."""

    __table__ = tables.E


class Message(Row):
    """One WhatsApp message we sent (``out``) or received (``in``)."""

    __table__ = tables.M


class QuotaUsage(Row):
    """New contacts a phone has started on one local day (the quota's source of truth)."""

    __table__ = tables.Q


class WebhookEvent(Row):
    """A TimelinesAI webhook delivery, stored once per dedupe key."""

    __table__ = tables.W


class ReviewFlag(Row):
    """A reply a person should read: its priority (1 low .. 3 urgent) and what matched."""

    __table__ = tables.R


class AutoReply(Row):
    """An automatic answer to a lead's reply (a rule's ``auto_reply``): at most one per lead."""

    __table__ = tables.AR


class Suppression(Row):
    """A number we must never contact again (opt-out, or added by hand)."""

    __table__ = tables.S


class InstallSecret(Row):
    """A random value made once per install and kept with its data."""

    __table__ = tables.IS


class Alert(Row):
    """Something an operator must know: a banned phone, a bad token, a dead letter."""

    __table__ = tables.A


class ConsoleSession(Row):
    """A signed-in console visitor (only its token's SHA-256 is stored)."""

    __table__ = tables.CS


class ConsoleAction(Row):
    """Something a person did in the console (or tried and was refused), and who."""

    __table__ = tables.CA
