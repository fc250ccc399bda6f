"""Launching a campaign: the form, the dry-run preview with its forecast, then the launch.

The choices (name, sequence, leads by tag, phones, start) are read as ``outreach campaign
launch`` reads them (:mod:`engine.campaign_launch`): the preview is ``--dry-run``'s
launch, writing nothing, with the forecast ``outreach forecast`` makes and the first
message rendered for a few of the selected leads (``outreach sequences preview``); its
Launch form carries the same choices back and launches with the same function.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from console.pages.campaigns import campaign_path
from console.web import Act, Refused, Visitor, act, connect, done, page, state, viewer
from engine.campaign_launch import (
    Launched,
    check_name,
    fill_from_saved,
    launch_campaign,
    phones_of,
    resolve,
    start_of,
)
from engine.settings import Settings
from sequences import (
    LeadList,
    Refusal,
    Selection,
    Sequence,
    SequencesError,
    preview_leads,
    read_lead_list,
    render_steps,
)

router = APIRouter()

SAMPLE_LEADS = 3
"""Leads whose first message the preview renders."""
FORECAST_DAYS_SHOWN = 31
FIELDS = ("name", "sequence", "tag", "start")
"""The form's text fields; each phone is a checkbox ``phone_<id>``."""


@dataclass(frozen=True)
class _Choice:
    """The form read and checked: what the launch is asked to do."""

    name: str
    sequence: Sequence
    selection: Selection
    lead_list: LeadList | None


@router.get("/campaigns/new")
def new(request: Request, visitor: Annotated[Visitor, Depends(viewer)]) -> Response:
    """The form, filled with the choices a preview carries back ("Change the choices")."""
    if not visitor.user.can_act:
        raise Refused("Your role is viewer: an operator can do this.")
    return _form(request, visitor, dict(request.query_params))


@router.post("/campaigns/preview")
def preview(request: Request, submitted: Annotated[Act, Depends(act)]) -> Response:
    """What the launch would do (nothing is written) and when it would finish."""
    console = state(request)
    try:
        choice = _read(console.settings, request, submitted.form)
        launched = _launch(request, choice, dry_run=True)
    except (ValueError, SequencesError) as error:
        return _form(request, submitted.visitor, submitted.form, error=str(error))
    samples = []
    if choice.lead_list is None:  # a sample of the leads a tag (or nothing) selects
        with connect(request) as connection:
            leads = preview_leads(
                connection, choice.sequence.name, sample=SAMPLE_LEADS, tag=choice.selection.tag
            )
        samples = [(lead, render_steps(choice.sequence, lead.variables, lead.seed_id)[0])
                   for lead in leads]  # fmt: skip
    report = launched.report
    return page(
        request, submitted.visitor, "campaign_preview.html",
        title=f"Campaign {choice.name}: launch preview", choice=choice, report=report,
        refused=[(reason.label, report.refused.get(reason, 0)) for reason in Refusal],
        projection=launched.projection, warnings=launched.warnings, samples=samples,
        days_shown=FORECAST_DAYS_SHOWN,
        fields=_carried(console.settings, submitted.form),
    )  # fmt: skip


@router.post("/campaigns/launch")
def launch_(request: Request, submitted: Annotated[Act, Depends(act)]) -> Response:
    """Launch with the choices the preview showed; to the campaign's page."""
    try:
        choice = _read(state(request).settings, request, submitted.form)
        launched = _launch(request, choice, dry_run=False)
    except (ValueError, SequencesError) as error:
        return _form(request, submitted.visitor, submitted.form, error=str(error))
    report = launched.report
    refused = sum(report.refused.values())
    note = (
        f"Campaign {choice.name} is {report.state}: {report.enrolled:,} leads enrolled, "
        f"{refused:,} refused" + (f", {report.over_limit:,} over the limit" if report.over_limit
                                  else "") + "."
    )  # fmt: skip
    return done(request, submitted, "launch campaign", choice.name, note,
                to=campaign_path(choice.name))  # fmt: skip


def _read(settings: Settings, request: Request, form: Mapping[str, str]) -> _Choice:
    """The form's choices, checked as the CLI checks its arguments and completed by the
    campaign's saved selection; raises :class:`ValueError` or :class:`SequencesError`."""
    name = check_name(form.get("name", "").strip())
    found, sequence = resolve(
        settings, state(request).database, name, form.get("sequence", "").strip() or None
    )
    ticked = [phone.id for phone in settings.phones if form.get(f"phone_{phone.id}")]
    start = form.get("start", "").strip()
    asked = Selection(
        form.get("tag", "").strip() or None,
        None,
        phones_of(settings, ",".join(ticked)) if ticked else None,
        start_of(settings, sequence, start) if start else None,
    )
    selection = fill_from_saved(name, found, asked)
    lead_list = None
    if selection.leads_file is not None:  # the campaign's saved file, read as the CLI does
        lead_list = read_lead_list(Path(selection.leads_file), settings.leads.default_region)
    return _Choice(name, sequence, selection, lead_list)


def _launch(request: Request, choice: _Choice, *, dry_run: bool) -> Launched:
    console = state(request)
    selection = choice.selection
    return launch_campaign(
        console.settings, console.database, choice.sequence, now=console.clock.now(),
        name=choice.name, tag=selection.tag, lead_list=choice.lead_list,
        phone_ids=selection.phone_ids, starts_at=selection.starts_at, dry_run=dry_run,
    )  # fmt: skip


def _carried(settings: Settings, form: Mapping[str, str]) -> list[tuple[str, str]]:
    """The choices as typed, for the hidden fields of the Launch form."""
    fields = [(key, form.get(key, "")) for key in FIELDS]
    return fields + [
        (f"phone_{phone.id}", "yes") for phone in settings.phones if form.get(f"phone_{phone.id}")
    ]


def _form(
    request: Request, visitor: Visitor, values: Mapping[str, str], *, error: str | None = None
) -> Response:
    settings = state(request).settings
    response = page(
        request, visitor, "campaign_new.html", title="Campaign launch", values=values,
        sequences=sorted(settings.sequences), phones=settings.phones, error=error,
        zone=settings.quota.timezone,
    )  # fmt: skip
    if error is not None:
        response.status_code = 400
    return response
