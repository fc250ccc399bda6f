"""The campaigns' funnels as pages show them: ``outreach campaign status``'s report, kept
in memory by :class:`console.report_cache.ReportCache`, with each campaign's state
and selection read fresh (a cheap read) so a pause shows at once."""

from __future__ import annotations

from dataclasses import replace
from typing import TypeVar

from fastapi import Request

from console.report_cache import Kept
from console.web import connect, state
from engine.db import Database
from engine.reports import CampaignStatus, campaign_status
from sequences import CampaignRecord, find_campaign, list_campaigns

__all__ = ["every_campaign", "one_campaign"]

T = TypeVar("T")


def every_campaign(request: Request) -> Kept[list[CampaignStatus]]:
    """Every campaign (a new one with empty funnels until the next computation)."""
    console = state(request)
    kept = console.reports.get("campaigns", lambda: _statuses(console.database, None))
    with connect(request) as connection:
        records = list_campaigns(connection)
    by_name = {status.name: status for status in kept.value}
    fresh = [_current(by_name.get(r.name) or _empty(r), r) for r in records]
    return _with(kept, fresh)


def one_campaign(request: Request, name: str) -> Kept[CampaignStatus | None]:
    """Campaign ``name`` (``None``: there is none)."""
    console = state(request)
    with connect(request) as connection:
        record = find_campaign(connection, name)
    kept = console.reports.get(("campaign", name), lambda: _statuses(console.database, name))
    if record is None:
        return _with(kept, None)
    found = kept.value[0] if kept.value else _empty(record)
    return _with(kept, _current(found, record))


def _with(kept: Kept[list[CampaignStatus]], value: T) -> Kept[T]:
    """``kept``'s age and version with ``value``."""
    return Kept(value, kept.as_of, kept.version, kept.computed_at)


def _statuses(database: Database, name: str | None) -> list[CampaignStatus]:
    with database.engine.connect() as connection:
        return campaign_status(connection, name)


def _current(status: CampaignStatus, record: CampaignRecord) -> CampaignStatus:
    selection = record.selection
    return replace(
        status, state=record.state, starts_at=selection.starts_at, tag=selection.tag,
        leads_file=selection.leads_file,
        phone_ids=None if selection.phone_ids is None else ",".join(selection.phone_ids),
    )  # fmt: skip


def _empty(record: CampaignRecord) -> CampaignStatus:
    return CampaignStatus(name=record.name, sequence=record.sequence, state=record.state)
