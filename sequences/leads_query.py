"""Looking at stored leads: the rows of ``outreach leads list``."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, col, select

from engine.models import Lead, LeadTag

__all__ = ["LeadPage", "LeadSummary", "lead_page"]


@dataclass(frozen=True)
class LeadSummary:
    """One lead as listed: its number, tags, how many variables it has, its zone."""

    id: int
    phone: str
    tags: tuple[str, ...]
    variable_count: int
    timezone: str | None
    region: str | None


@dataclass(frozen=True)
class LeadPage:
    """The first leads (oldest first) of those matching, and how many match in all."""

    leads: tuple[LeadSummary, ...]
    total: int


def lead_page(session: Session, *, tag: str | None, limit: int) -> LeadPage:
    """Up to ``limit`` leads, oldest first, only those tagged ``tag`` if given."""
    leads = select(Lead).order_by(col(Lead.id)).limit(limit)
    count = select(func.count()).select_from(Lead)
    if tag is not None:
        tagged = select(LeadTag.lead_id).where(col(LeadTag.tag) == tag)
        leads = leads.where(col(Lead.id).in_(tagged))
        count = count.where(col(Lead.id).in_(tagged))
    rows = list(session.exec(leads))
    tags: dict[int, list[str]] = defaultdict(list)
    ids = [row.id for row in rows]
    for lead_tag in session.exec(
        select(LeadTag).where(col(LeadTag.lead_id).in_(ids)).order_by(col(LeadTag.tag))
    ):
        tags[lead_tag.lead_id].append(lead_tag.tag)
    summaries = tuple(
        LeadSummary(
            id=row.id,
            phone=row.phone,
            tags=tuple(tags[row.id]),
            variable_count=len(row.variables),
            timezone=row.timezone,
            region=row.region,
        )
        for row in rows
        if row.id is not None
    )
    return LeadPage(summaries, session.exec(count).one())
