"""A campaign's record: its name, sequence, lead selection, phones, start and state.

A campaign is saved by its launch (:mod:`sequences.launch`) or, as a ``draft`` that
enrolls nobody, by :func:`create`; the selection saved is the one last given, for the
record and for a later ``campaign launch NAME`` that gives none. Each enrollment
carries its campaign's id (``enrollments.campaign_id``): a campaign's enrollments are
those rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from engine.db import Database
from engine.settings import sorted_phone_ids
from engine.tables import C, insert_for, phone_ids_column, phone_ids_of
from sequences.campaign_states import Action, next_state
from sequences.errors import CampaignError

__all__ = [
    "CampaignRecord",
    "Selection",
    "check_sequence",
    "create",
    "find_campaign",
    "list_campaigns",
    "save",
]


@dataclass(frozen=True)
class Selection:
    """What a campaign is launched for: leads by ``tag`` or from ``leads_file`` (neither:
    every lead), the phones it may start conversations from (``None``: every phone), and
    the moment (UTC) before which it sends nothing (``None``: at once)."""

    tag: str | None = None
    leads_file: str | None = None
    phone_ids: tuple[str, ...] | None = None
    starts_at: datetime | None = None


@dataclass(frozen=True)
class CampaignRecord:
    """A campaign as stored."""

    id: int
    name: str
    sequence: str
    state: str
    selection: Selection
    created_at: datetime
    updated_at: datetime


_COLUMNS = (
    C.c.id, C.c.name, C.c.sequence, C.c.state, C.c.tag, C.c.leads_file, C.c.phone_ids,
    C.c.starts_at, C.c.created_at, C.c.updated_at,
)  # fmt: skip


def _record(row: Any) -> CampaignRecord:
    phones = phone_ids_of(row.phone_ids)
    selection = Selection(
        row.tag,
        row.leads_file,
        None if phones is None else tuple(sorted_phone_ids(phones)),
        row.starts_at,
    )
    return CampaignRecord(
        int(row.id), row.name, row.sequence, row.state, selection, row.created_at, row.updated_at
    )


def find_campaign(
    connection: Connection, name: str, *, lock: bool = False
) -> CampaignRecord | None:
    """The campaign named ``name``, if any; ``lock`` holds its row until the transaction ends."""
    query = select(*_COLUMNS).where(C.c.name == name)
    row = connection.execute(query.with_for_update() if lock else query).first()
    return None if row is None else _record(row)


def list_campaigns(connection: Connection) -> list[CampaignRecord]:
    """Every campaign, by name."""
    return [_record(row) for row in connection.execute(select(*_COLUMNS).order_by(C.c.name))]


def check_sequence(found: CampaignRecord | None, name: str, sequence: str) -> None:
    """Refuse to run campaign ``name`` with another sequence than the one it was saved with."""
    if found is not None and found.sequence != sequence:
        raise CampaignError(
            f"campaign {name!r} runs sequence {found.sequence!r}, not {sequence!r}; "
            "name a new campaign to run another sequence"
        )


def save(
    connection: Connection, name: str, sequence: str, *, state: str, selection: Selection,
    now: datetime,
) -> int:  # fmt: skip
    """Insert or update the campaign ``name`` with this state and selection; its id.

    The upsert takes the row's lock, which keeps the dispatcher from completing the
    campaign until the caller's transaction (and the enrollments it adds) commits.
    """
    values = {
        "state": state, "tag": selection.tag, "leads_file": selection.leads_file,
        "phone_ids": phone_ids_column(selection.phone_ids), "starts_at": selection.starts_at,
        "updated_at": now,
    }  # fmt: skip
    statement = insert_for(connection)(C).values(
        name=name, sequence=sequence, created_at=now, **values
    )
    return int(
        connection.execute(
            statement.on_conflict_do_update(index_elements=["name"], set_=values).returning(C.c.id)
        ).scalar_one()
    )


def create(
    database: Database, name: str, sequence: str, selection: Selection, *, now: datetime
) -> CampaignRecord:
    """Save ``name`` as a ``draft`` of ``sequence`` with ``selection``, enrolling nobody.

    Saving a draft again replaces its selection; a campaign already launched is refused.
    """
    with database.engine.begin() as connection:
        found = find_campaign(connection, name, lock=True)
        check_sequence(found, name, sequence)
        state = next_state(
            None if found is None else found.state, Action.CREATE, now=now, name=name
        )
        save(connection, name, sequence, state=state, selection=selection, now=now)
        saved = find_campaign(connection, name)
    assert saved is not None
    return saved
