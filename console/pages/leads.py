"""Leads: find one by number (written any way) or by part of its name; a lead's timeline."""

from __future__ import annotations

from typing import Annotated, Final
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from console.web import Act, Visitor, act, connect, done, noted, page, state, templates, viewer
from engine.numbers import InvalidNumberError
from engine.states import RUNNING_STATES
from engine.timeline import lead_timeline
from sequences import (
    SequencesError,
    compiled_sequences,
    find_number,
    resume_lead,
    search_leads,
    suppression,
)

router = APIRouter()

PAGE_LEADS: Final = 50


@router.get("/leads")
def leads(
    request: Request, visitor: Annotated[Visitor, Depends(viewer)], q: str = "",
    after: int | None = None,
) -> Response:  # fmt: skip
    console = state(request)
    with console.database.session() as session:
        found = search_leads(
            session, q, console.settings.leads.default_region, after=after, limit=PAGE_LEADS
        )
    return page(
        request, visitor, "leads.html", title="Leads", search=found, after=after,
        running=RUNNING_STATES,
    )  # fmt: skip


@router.get("/leads/{number}")
def lead(request: Request, visitor: Annotated[Visitor, Depends(viewer)], number: str) -> Response:
    console = state(request)
    with connect(request) as connection:
        try:
            phone = find_number(connection, number, console.settings.leads.default_region)
        except InvalidNumberError as error:
            return _missing(request, f"{number!r} is not a number: {error}")
        timeline = lead_timeline(connection, phone)
        listed = suppression.lookup(connection, phone) if timeline is None else None
    if timeline is None and listed is not None and listed.forgotten:
        return _missing(
            request, f"The lead {phone} was forgotten on {listed.created_at:%Y-%m-%d}: nothing "
            "of it is kept but its key on the do-not-contact list.",
        )  # fmt: skip
    if timeline is None:
        return _missing(request, f"There is no lead {phone}.")
    return page(request, visitor, "lead.html", title=f"Lead {timeline.phone}", lead=timeline)


@router.post("/leads/{number}/resume")
def resume(request: Request, submitted: Annotated[Act, Depends(act)], number: str) -> Response:
    """Let the lead's paused sequences go on (``outreach leads resume`` does the same)."""
    console = state(request)
    with connect(request) as connection:
        try:
            phone = find_number(connection, number, console.settings.leads.default_region)
        except InvalidNumberError as error:
            return noted(f"{number!r} is not a number: {error}", to="/leads")
    back = f"/leads/{quote(phone, safe='')}"
    try:
        resumed = resume_lead(
            console.database, phone, sequences=compiled_sequences(console.settings),
            fallback_zone=console.settings.quota.timezone, now=console.clock.now(),
        )  # fmt: skip
    except SequencesError as error:
        return noted(f"Nothing changed: {error}.", to=back)
    if not resumed:
        return noted(f"Nothing of {phone} is paused: nothing changed.", to=back)
    went_on = [r for r in resumed if r.resumed]
    said = "; ".join(f"enrollment {r.enrollment_id}: {r.state}, {r.note}" for r in resumed)
    if not went_on:
        return noted(f"Nothing resumed: {said}.", to=back)
    return done(
        request, submitted, "resume lead", phone,
        f"{len(went_on)} sequence(s) of {phone} resumed: {said}.", to=back,
    )  # fmt: skip


def _missing(request: Request, message: str) -> Response:
    return templates(request).TemplateResponse(
        request, "error.html", {"title": "No such lead", "message": message}, status_code=404
    )
