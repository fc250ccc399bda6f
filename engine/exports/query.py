"""Reading what an export needs, a page of rows at a time.

An export first reads the ids of what it will write (the campaign's enrollments, or the
leads), in order: a few bytes each. It then reads them ``CHUNK`` at a time by primary
key, with one query for the page's rows and one for all their leads' messages (by the
lead index, which both databases use), so an export of 100,000 leads holds one page of
rows in memory, never leaves a cursor open between statements, and reads alike on
SQLite and PostgreSQL. A row deleted while an export runs is left out.

Which enrollments belong to a campaign is decided in one place, :func:`of_campaign`
(by the enrollment's campaign id), and :data:`campaign_name` the name rows show.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Final

from sqlalchemy import ColumnElement, Connection, Select, case, func, select

from engine.exports.rows import (
    EnrollmentData,
    ExportRow,
    Inbound,
    LeadData,
    Outbound,
    lead_rows,
)
from engine.states import Direction
from engine.tables import C, E, L, M, T

__all__ = [
    "CHUNK",
    "campaign_name",
    "campaign_rows",
    "campaign_sequence",
    "count_campaign_rows",
    "count_lead_rows",
    "leads_rows",
    "of_campaign",
    "steps_recorded",
]

CHUNK: Final = 500
"""Leads (or enrollments) read per page."""

campaign_name: ColumnElement[str] = (
    select(C.c.name).where(C.c.id == E.c.campaign_id).scalar_subquery()
)
"""The campaign an enrollment belongs to, as rows name it."""


def of_campaign(name: str) -> ColumnElement[bool]:
    """The enrollments of campaign ``name``: the one filter every export query uses."""
    return E.c.campaign_id == select(C.c.id).where(C.c.name == name).scalar_subquery()


def campaign_sequence(connection: Connection, name: str) -> str | None:
    """The sequence campaign ``name`` runs; ``None`` when there is no such campaign."""
    found = connection.execute(select(C.c.sequence).where(C.c.name == name)).scalar()
    return None if found is None else str(found)


def steps_recorded(connection: Connection, campaign: str | None = None) -> int:
    """How many steps the stored sends reach (the highest step sent, from 1), in one
    campaign or in all; 0 when nothing was sent."""
    query = (
        select(func.max(M.c.step))
        .select_from(M.join(E, E.c.id == M.c.enrollment_id))
        .where(M.c.direction == Direction.OUT, M.c.step.is_not(None))
    )
    if campaign is not None:
        query = query.where(of_campaign(campaign))
    highest = connection.execute(query).scalar()
    return 0 if highest is None else int(highest) + 1


def count_campaign_rows(connection: Connection, name: str) -> int:
    """How many rows :func:`campaign_rows` yields: the campaign's enrollments."""
    query = select(func.count()).select_from(E).where(of_campaign(name))
    return int(connection.execute(query).scalar() or 0)


def count_lead_rows(connection: Connection, tag: str | None = None) -> int:
    """How many rows :func:`leads_rows` yields: each lead's enrollments, or one."""
    query = select(func.count()).select_from(L.outerjoin(E, E.c.lead_id == L.c.id))
    return int(connection.execute(_tagged(query, tag)).scalar() or 0)


def campaign_rows(connection: Connection, name: str, *, chunk: int = CHUNK) -> Iterator[ExportRow]:
    """One row per enrollment of campaign ``name``, oldest enrollment first."""
    ids = connection.execute(select(E.c.id).where(of_campaign(name)).order_by(E.c.id))
    for page_ids in _pages(ids.scalars().all(), chunk):
        page = connection.execute(
            select(*_LEAD, *_ENROLLMENT)
            .select_from(E.join(L, L.c.id == E.c.lead_id))
            .where(E.c.id.in_(page_ids))
            .order_by(E.c.id)
        ).all()
        outbound, inbound = _messages(connection, [row.lead_id for row in page])
        for row in page:
            enrollment = _enrollment(row)
            yield from lead_rows(
                _lead(row), [enrollment], outbound.get(enrollment.id, ()),
                inbound.get(enrollment.lead_id, ()),
            )  # fmt: skip


def leads_rows(
    connection: Connection, tag: str | None = None, *, chunk: int = CHUNK
) -> Iterator[ExportRow]:
    """One row per lead and campaign (a lead never enrolled: one row without a
    campaign), oldest lead first, then oldest enrollment; only leads tagged ``tag``
    if given."""
    ids = connection.execute(_tagged(select(L.c.id).order_by(L.c.id), tag))
    for page_ids in _pages(ids.scalars().all(), chunk):
        leads = connection.execute(
            select(*_LEAD).where(L.c.id.in_(page_ids)).order_by(L.c.id)
        ).all()
        enrollments: dict[int, list[EnrollmentData]] = {}
        for row in connection.execute(
            select(*_ENROLLMENT).where(E.c.lead_id.in_(page_ids)).order_by(E.c.id)
        ):
            enrollments.setdefault(row.enrollment_lead_id, []).append(_enrollment(row))
        outbound, inbound = _messages(connection, page_ids)
        for row in leads:
            mine = enrollments.get(row.lead_id, [])
            sent = [m for e in mine for m in outbound.get(e.id, ())]
            yield from lead_rows(_lead(row), mine, sent, inbound.get(row.lead_id, ()))


def _pages(ids: Sequence[int], chunk: int) -> Iterator[list[int]]:
    for start in range(0, len(ids), chunk):
        yield list(ids[start : start + chunk])


_LEAD = (L.c.id.label("lead_id"), L.c.phone, L.c.variables)
_ENROLLMENT = (
    E.c.id.label("enrollment_id"), E.c.lead_id.label("enrollment_lead_id"),
    campaign_name.label("campaign"), E.c.phone_id, E.c.state, E.c.end_reason, E.c.created_at,
    E.c.ended_at,
)  # fmt: skip


def _tagged(query: Select[Any], tag: str | None) -> Select[Any]:
    if tag is None:
        return query
    return query.where(L.c.id.in_(select(T.c.lead_id).where(T.c.tag == tag)))


def _lead(row: Any) -> LeadData:
    return LeadData(row.lead_id, row.phone, dict(row.variables or {}))


def _enrollment(row: Any) -> EnrollmentData:
    return EnrollmentData(
        id=row.enrollment_id, lead_id=row.enrollment_lead_id, campaign=row.campaign,
        phone_id=row.phone_id, state=row.state, end_reason=row.end_reason,
        created_at=row.created_at, ended_at=row.ended_at,
    )  # fmt: skip


def _messages(
    connection: Connection, lead_ids: Sequence[int]
) -> tuple[dict[int, list[Outbound]], dict[int, list[Inbound]]]:
    """The steps sent to these leads, by enrollment, and their messages to us, by lead.

    Selected by lead alone: with a direction in the WHERE clause SQLite prefers the
    direction's index and reads every message of that direction for each page. Automatic
    answers and messages typed in the shared inbox have no step and are no step here.
    """
    outbound: dict[int, list[Outbound]] = {}
    inbound: dict[int, list[Inbound]] = {}
    if not lead_ids:
        return outbound, inbound
    incoming = M.c.direction == Direction.IN
    rows = connection.execute(
        select(
            M.c.direction, M.c.lead_id, M.c.id, M.c.enrollment_id, M.c.step, M.c.sent_at,
            M.c.delivered_at, M.c.read_at, M.c.template_variant, M.c.variant_id,
            case((incoming, M.c.text)), case((incoming, M.c.intent)),
            case((incoming, M.c.intents)),
        ).where(M.c.lead_id.in_(list(lead_ids)))
    )  # fmt: skip
    for direction, lead_id, id_, enrollment_id, step, sent_at, *rest in rows:
        delivered_at, read_at, variant, variant_id, text, label, intents = rest
        if direction == Direction.IN:
            reply = Inbound(id_, enrollment_id, sent_at, text or "", label, tuple(intents or ()))
            inbound.setdefault(lead_id, []).append(reply)
        elif step is not None and enrollment_id is not None:
            sent = Outbound(enrollment_id, step, sent_at, delivered_at, read_at, variant,
                            variant_id)  # fmt: skip
            outbound.setdefault(enrollment_id, []).append(sent)
    return outbound, inbound
