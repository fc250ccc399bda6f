"""Looking at stored leads: the rows of ``outreach leads list``.

Each lead comes with its name (from its variables), its tags and where it stands in
every campaign it was enrolled in, by the campaign's name.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Row, func, select

from engine import numbers
from engine.lead_names import lead_name
from engine.tables import C, E, L, S, T

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

__all__ = [
    "LeadCampaign",
    "LeadPage",
    "LeadSummary",
    "find_number",
    "known_number",
    "lead_name",
    "lead_page",
    "lead_summaries",
]


@dataclass(frozen=True)
class LeadCampaign:
    """Where a lead stands in one campaign: its enrollment's state, step and why it ended."""

    campaign: str
    state: str
    step: int
    end_reason: str | None


@dataclass(frozen=True)
class LeadSummary:
    """One lead as listed: number, name, tags, how many variables, zone, its campaigns."""

    id: int
    phone: str
    tags: tuple[str, ...]
    variable_count: int
    timezone: str | None
    region: str | None
    name: str | None = None
    campaigns: tuple[LeadCampaign, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The lead for ``--json``."""
        return asdict(self)


@dataclass(frozen=True)
class LeadPage:
    """The first leads (oldest first) of those matching, and how many match in all."""

    leads: tuple[LeadSummary, ...]
    total: int


def lead_page(session: Session, *, tag: str | None, limit: int) -> LeadPage:
    """Up to ``limit`` leads, oldest first, only those tagged ``tag`` if given."""
    leads = select(L).order_by(L.c.id).limit(limit)
    count = select(func.count()).select_from(L)
    if tag is not None:
        tagged = select(T.c.lead_id).where(T.c.tag == tag)
        leads = leads.where(L.c.id.in_(tagged))
        count = count.where(L.c.id.in_(tagged))
    summaries = lead_summaries(session, list(session.execute(leads)))
    return LeadPage(summaries, session.execute(count).scalar_one())


def lead_summaries(session: Session, rows: Sequence[Row[Any]]) -> tuple[LeadSummary, ...]:
    """``rows`` as listed, in their order: each with its tags and campaigns, read in two
    queries whatever their number."""
    tags: dict[int, list[str]] = defaultdict(list)
    campaigns: dict[int, list[LeadCampaign]] = defaultdict(list)
    ids = [row.id for row in rows]
    for lead_id, tag in session.execute(
        select(T.c.lead_id, T.c.tag).where(T.c.lead_id.in_(ids)).order_by(T.c.tag)
    ):
        tags[lead_id].append(tag)
    for enrollment in session.execute(
        select(E.c.lead_id, E.c.state, E.c.step, E.c.end_reason, C.c.name)
        .join(C, C.c.id == E.c.campaign_id)
        .where(E.c.lead_id.in_(ids))
        .order_by(E.c.id)
    ):
        campaigns[enrollment.lead_id].append(
            LeadCampaign(enrollment.name, enrollment.state, enrollment.step, enrollment.end_reason)
        )
    return tuple(
        LeadSummary(
            id=row.id,
            phone=row.phone,
            tags=tuple(tags[row.id]),
            variable_count=len(row.variables),
            timezone=row.timezone,
            region=row.region,
            name=lead_name(row.variables),
            campaigns=tuple(campaigns[row.id]),
        )
        for row in rows
        if row.id is not None
    )


def find_number(connection: Connection, text: str, region: str | None) -> str:
    """The number (E.164) a person means by ``text`` (``0712 345 678`` read in ``region``,
    ``40712345678``, ``+40 712-345-678``): the reading that is a stored lead's or on the
    suppression list, else the likeliest. :class:`~engine.numbers.InvalidNumberError`
    when ``text`` cannot be a number."""
    return known_number(connection, numbers.lookup_candidates(text, region))


def known_number(connection: Connection, candidates: Sequence[str]) -> str:
    """Of the numbers a person may have meant (:func:`engine.numbers.lookup_candidates`,
    likeliest first), the first that is a lead's or on the suppression list, else the first."""
    for phone in candidates:
        if connection.execute(select(L.c.id).where(L.c.phone == phone)).first() is not None:
            return phone
        if connection.execute(select(S.c.phone).where(S.c.phone == phone)).first() is not None:
            return phone
    return candidates[0]
