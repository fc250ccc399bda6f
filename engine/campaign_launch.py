"""A campaign launch as a person asks for it, for ``outreach campaign launch`` and the console.

What was asked is read and checked here (the campaign's name, its sequence, the phones
and the start, completed by the campaign's saved selection), then
:func:`sequences.launch` enrolls the leads (or, dry, counts them) and
:func:`engine.projection.project` forecasts the campaign with them. Text a person typed
that cannot be read raises :class:`ValueError` (the CLI's usage errors); a campaign that
cannot be what was asked raises :class:`~sequences.CampaignError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Final

from engine.db import Database
from engine.projection import Projection, project
from engine.settings import Settings, sorted_phone_ids
from sequences import (
    CampaignError,
    CampaignRecord,
    LaunchReport,
    LeadList,
    Selection,
    Sequence,
    compiled_sequences,
    find_campaign,
    find_sequence,
    launch,
    parse_start,
)
from sequences.syntax import LEAD_TIMEZONE
from sequences.wordings import wording_warning

if TYPE_CHECKING:
    from engine.workspace_quota import QuotaReading

__all__ = [
    "NAME_LIMIT",
    "Launched",
    "check_name",
    "fill_from_saved",
    "launch_campaign",
    "phones_of",
    "resolve",
    "start_of",
]

NAME_LIMIT: Final = 64
"""The longest campaign name, in characters."""


@dataclass(frozen=True)
class Launched:
    """What a launch did (or would do), the campaign's forecast with it, and what a person
    should know before it runs (lines to print; the launch goes ahead)."""

    report: LaunchReport
    projection: Projection
    warnings: tuple[str, ...] = ()


def check_name(name: str) -> str:
    """``name`` if it can name a campaign; raises :class:`ValueError` otherwise."""
    if not name.strip() or len(name) > NAME_LIMIT:
        raise ValueError(f"a campaign's name is 1 to {NAME_LIMIT} characters")
    return name


def resolve(
    settings: Settings, database: Database, name: str, sequence: str | None
) -> tuple[CampaignRecord | None, Sequence]:
    """The campaign ``name`` (if saved) and the sequence it runs: ``sequence``, else the
    campaign's own, else the sequence named ``name`` (the short form)."""
    with database.engine.connect() as connection:
        found = find_campaign(connection, name)
    if sequence is None and found is None and name not in compiled_sequences(settings):
        known = ", ".join(sorted(compiled_sequences(settings))) or "none"
        raise CampaignError(
            f"no campaign {name!r} and no sequence of that name; name its sequence: "
            f"`outreach campaign launch {name} --sequence SEQUENCE` (defined: {known})"
        )
    chosen = find_sequence(settings, sequence or (found.sequence if found else name))
    if found is not None and found.sequence != chosen.name:
        raise CampaignError(
            f"campaign {name!r} runs sequence {found.sequence!r}, not {chosen.name!r}; "
            "name a new campaign to run another sequence"
        )
    return found, chosen


def phones_of(settings: Settings, text: str) -> tuple[str, ...]:
    """``01,02`` as configured phone ids, sorted; raises :class:`ValueError` for an unknown
    phone or none."""
    known = [phone.id for phone in settings.phones]
    chosen = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [part for part in chosen if part not in known]
    if unknown or not chosen:
        what = f"unknown phone {unknown[0]!r}" if unknown else "no phone given"
        raise ValueError(f"{what}; configured: {', '.join(known)}")
    return tuple(sorted_phone_ids(set(chosen)))


def start_of(settings: Settings, sequence: Sequence, text: str) -> datetime:
    """A start typed ``YYYY-MM-DD HH:MM`` in the sequence's zone (the quota's for a sequence
    in each lead's zone), as UTC; raises :class:`ValueError` saying the form."""
    zone = settings.quota.timezone if sequence.timezone == LEAD_TIMEZONE else sequence.timezone
    return parse_start(text, zone)


def fill_from_saved(name: str, found: CampaignRecord | None, asked: Selection) -> Selection:
    """What was asked, completed by campaign ``name``'s saved selection: its leads when
    neither a tag nor a file is asked, its phones and its start when not given.

    Raises :class:`CampaignError` when the saved lead file it falls back to is gone.
    """
    saved = Selection() if found is None else found.selection
    tag, leads_file = asked.tag, asked.leads_file
    if tag is None and leads_file is None:
        tag, leads_file = saved.tag, saved.leads_file
        if leads_file is not None and not Path(leads_file).is_file():
            raise CampaignError(
                f"campaign {name!r} was saved with the lead file {leads_file}, which is gone; "
                "give --leads FILE or --tag TAG"
            )
    return Selection(
        tag,
        leads_file,
        saved.phone_ids if asked.phone_ids is None else asked.phone_ids,
        saved.starts_at if asked.starts_at is None else asked.starts_at,
    )


def launch_campaign(
    settings: Settings, database: Database, sequence: Sequence, *, now: datetime, name: str,
    tag: str | None = None, lead_list: LeadList | None = None,
    phone_ids: tuple[str, ...] | None = None, starts_at: datetime | None = None,
    limit: int | None = None, dry_run: bool = False, messages: QuotaReading | None = None,
) -> Launched:  # fmt: skip
    """Launch campaign ``name`` of ``sequence`` (see :func:`sequences.launch`; with
    ``dry_run`` nothing is written) and forecast it with the leads it enrolled, or would,
    within the workspace's messages as last read (``messages``)."""
    report = launch(
        database, sequence, now=now, fallback_zone=settings.quota.timezone, name=name,
        tag=tag, lead_list=lead_list, phone_ids=phone_ids, starts_at=starts_at,
        limit=limit, dry_run=dry_run,
    )  # fmt: skip
    with database.engine.connect() as connection:
        launched = find_campaign(connection, name)
    projection = project(
        settings, database, sequence, now, campaign=launched, phone_ids=phone_ids,
        starts_at=starts_at, new_leads=report.enrolled if dry_run else 0, messages=messages,
    )  # fmt: skip
    return Launched(report, projection, _warnings(settings, sequence, report, phone_ids))


def _warnings(
    settings: Settings, sequence: Sequence, report: LaunchReport,
    phone_ids: tuple[str, ...] | None,
) -> tuple[str, ...]:  # fmt: skip
    """A first step with too few wordings for the leads each phone will write to."""
    texts = settings.texts
    if not texts.enabled:
        return ()
    phones = len(phone_ids) if phone_ids is not None else len(settings.phones)
    warning = wording_warning(
        sequence, leads=report.enrolled, phones=phones, window=texts.window,
        threshold=texts.similarity_threshold,
    )  # fmt: skip
    return () if warning is None else (warning,)
