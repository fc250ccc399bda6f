"""The set-based statements a lead import runs per batch, one implementation per database.

Both answer the same five questions for a batch of distinct numbers (which are
suppressed, which exist, insert these, update those, tag them) in one statement
each. PostgreSQL gets each column of the batch as one array and ``unnest``s it:
with one bound parameter per column instead of one per value, a 2,000-row batch
costs the client next to nothing to send, which is what keeps a 100,000-lead
import in seconds. SQLite, in process, takes ordinary multi-row Core statements.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Connection, bindparam, literal, select, text, update
from sqlalchemy.dialects import sqlite

from engine.company_keys import company_key
from engine.dbtypes import UTCDateTime
from engine.lead_names import name_key
from engine.tables import L, S, T

__all__ = ["LeadStore", "LeadValues", "StoredLead", "lead_store"]


@dataclass(frozen=True, slots=True)
class StoredLead:
    """What an update needs of a lead already stored."""

    id: int
    variables: dict[str, str]
    timezone: str | None


@dataclass(frozen=True, slots=True)
class LeadValues:
    """The columns an import writes; ``id`` is set for an update, ``None`` for an insert."""

    id: int | None
    phone: str
    variables: dict[str, str]
    timezone: str | None
    region: str | None


class LeadStore(Protocol):
    """One batch's reads and writes, inside the caller's transaction."""

    def suppressed(self, phones: Sequence[str]) -> set[str]:
        """Those of ``phones`` on the suppression list."""
        ...

    def existing(self, phones: Sequence[str]) -> dict[str, StoredLead]:
        """The stored leads among ``phones``, by number."""
        ...

    def insert(self, leads: Sequence[LeadValues]) -> None:
        """Add new leads, stamped ``now``."""
        ...

    def update(self, leads: Sequence[LeadValues]) -> None:
        """Overwrite variables (and the name key made of them), timezone and region of
        stored leads (by id), stamped ``now``."""
        ...

    def tag(self, phones: Sequence[str], tag: str) -> None:
        """Give ``tag`` to the leads with these numbers, skipping those that have it."""
        ...


def lead_store(connection: Connection, now: datetime) -> LeadStore:
    """The store for the connection's database; rows written are stamped ``now`` (UTC)."""
    if connection.dialect.name == "postgresql":
        return _PostgresStore(connection, now)
    return _SqliteStore(connection, now)


_NOW = bindparam("now", type_=UTCDateTime)

_PG_SUPPRESSED = text("SELECT phone FROM suppressions WHERE phone = ANY(:phones)")
_PG_EXISTING = text("SELECT id, phone, variables, timezone FROM leads WHERE phone = ANY(:phones)")
_PG_INSERT = text(
    "INSERT INTO leads (phone, variables, timezone, region, name_key, company_key, "
    "created_at, updated_at) "
    "SELECT t.phone, CAST(t.variables AS json), t.timezone, t.region, t.name_key, "
    "t.company_key, :now, :now "
    "FROM unnest(CAST(:phones AS varchar[]), CAST(:variables AS text[]), "
    "CAST(:timezones AS varchar[]), CAST(:regions AS varchar[]), "
    "CAST(:name_keys AS varchar[]), CAST(:company_keys AS varchar[])) "
    "AS t(phone, variables, timezone, region, name_key, company_key)"
).bindparams(_NOW)
_PG_UPDATE = text(
    "UPDATE leads SET variables = CAST(t.variables AS json), timezone = t.timezone, "
    "region = t.region, name_key = t.name_key, company_key = t.company_key, updated_at = :now "
    "FROM unnest(CAST(:ids AS integer[]), CAST(:variables AS text[]), "
    "CAST(:timezones AS varchar[]), CAST(:regions AS varchar[]), "
    "CAST(:name_keys AS varchar[]), CAST(:company_keys AS varchar[])) "
    "AS t(id, variables, timezone, region, name_key, company_key) "
    "WHERE leads.id = t.id"
).bindparams(_NOW)
_PG_TAG = text(
    "INSERT INTO lead_tags (lead_id, tag) SELECT id, :tag FROM leads "
    "WHERE phone = ANY(:phones) ON CONFLICT DO NOTHING"
)


class _PostgresStore:
    def __init__(self, connection: Connection, now: datetime) -> None:
        self._connection = connection
        self._now = now

    def suppressed(self, phones: Sequence[str]) -> set[str]:
        return set(self._connection.scalars(_PG_SUPPRESSED, {"phones": list(phones)}))

    def existing(self, phones: Sequence[str]) -> dict[str, StoredLead]:
        rows = self._connection.execute(_PG_EXISTING, {"phones": list(phones)})
        return {row.phone: StoredLead(row.id, row.variables, row.timezone) for row in rows}

    def insert(self, leads: Sequence[LeadValues]) -> None:
        self._connection.execute(
            _PG_INSERT, {"phones": [lead.phone for lead in leads], **self._columns(leads)}
        )

    def update(self, leads: Sequence[LeadValues]) -> None:
        self._connection.execute(
            _PG_UPDATE, {"ids": [lead.id for lead in leads], **self._columns(leads)}
        )

    def tag(self, phones: Sequence[str], tag: str) -> None:
        self._connection.execute(_PG_TAG, {"phones": list(phones), "tag": tag})

    def _columns(self, leads: Sequence[LeadValues]) -> dict[str, Any]:
        return {
            "variables": [json.dumps(lead.variables) for lead in leads],
            "timezones": [lead.timezone for lead in leads],
            "regions": [lead.region for lead in leads],
            "name_keys": [name_key(lead.variables) for lead in leads],
            "company_keys": [company_key(lead.variables) for lead in leads],
            "now": self._now,
        }


class _SqliteStore:
    def __init__(self, connection: Connection, now: datetime) -> None:
        self._connection = connection
        self._now = now
        self._update = (
            update(L)
            .where(L.c.id == bindparam("lead_id"))
            .values(
                variables=bindparam("new_variables"),
                timezone=bindparam("new_timezone"),
                region=bindparam("new_region"),
                name_key=bindparam("new_name_key"),
                company_key=bindparam("new_company_key"),
                updated_at=bindparam("new_updated_at"),
            )
        )

    def suppressed(self, phones: Sequence[str]) -> set[str]:
        query = select(S.c.phone).where(S.c.phone.in_(phones))
        return set(self._connection.scalars(query))

    def existing(self, phones: Sequence[str]) -> dict[str, StoredLead]:
        query = select(L.c.id, L.c.phone, L.c.variables, L.c.timezone)
        rows = self._connection.execute(query.where(L.c.phone.in_(phones)))
        return {row.phone: StoredLead(row.id, row.variables, row.timezone) for row in rows}

    def insert(self, leads: Sequence[LeadValues]) -> None:
        rows = [
            {
                "phone": lead.phone,
                "variables": lead.variables,
                "timezone": lead.timezone,
                "region": lead.region,
                "name_key": name_key(lead.variables),
                "company_key": company_key(lead.variables),
                "created_at": self._now,
                "updated_at": self._now,
            }
            for lead in leads
        ]
        self._connection.execute(L.insert(), rows)

    def update(self, leads: Sequence[LeadValues]) -> None:
        rows = [
            {
                "lead_id": lead.id,
                "new_variables": lead.variables,
                "new_timezone": lead.timezone,
                "new_region": lead.region,
                "new_name_key": name_key(lead.variables),
                "new_company_key": company_key(lead.variables),
                "new_updated_at": self._now,
            }
            for lead in leads
        ]
        self._connection.execute(self._update, rows)

    def tag(self, phones: Sequence[str], tag: str) -> None:
        tagged = select(L.c.id, literal(tag)).where(L.c.phone.in_(phones))
        statement = sqlite.insert(T).from_select(["lead_id", "tag"], tagged)
        self._connection.execute(statement.on_conflict_do_nothing())
