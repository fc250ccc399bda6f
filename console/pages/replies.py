"""Replies: the review queue (age, overdue mark, who has each), assigning and resolving
flags as ``outreach replies assign|resolve`` do; replies from numbers of no lead."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Final
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from console.web import Act, Visitor, act, connect, done, noted, page, state, viewer
from engine.replies.queries import (
    PERSON_MAX_CHARS,
    assign_flag,
    person_name,
    resolve_flags,
    review_items,
    unmatched_replies,
)
from sequences.campaign_store import list_campaigns

router = APIRouter()

SHOWN: Final = 200
"""Flags (and unmatched replies) a page lists, like the CLI's default ``--limit``."""
VIEWS: Final = ("all", "unassigned", "mine")
NOTE_CHARS: Final = 500


@router.get("/replies")
def replies(
    request: Request, visitor: Annotated[Visitor, Depends(viewer)], show: str = "all",
    campaign: str = "",
) -> Response:  # fmt: skip
    console = state(request)
    show = show if show in VIEWS else "all"
    now = console.clock.now()
    sla = timedelta(hours=console.settings.replies.review_sla_h)
    with connect(request) as connection:
        items = review_items(
            connection, limit=SHOWN, unassigned=show == "unassigned",
            assigned_to=visitor.user.name if show == "mine" else None,
            campaign=campaign or None,
        )  # fmt: skip
        campaigns = [c.name for c in list_campaigns(connection)]
    rows = [{"item": item, "overdue": item.overdue(now, sla)} for item in items]
    return page(
        request, visitor, "replies.html", title="Replies", rows=rows, show=show,
        views=VIEWS, campaign=campaign, campaigns=campaigns, shown=SHOWN,
        overdue=sum(1 for row in rows if row["overdue"]), sla_h=sla.total_seconds() / 3600,
        person_chars=PERSON_MAX_CHARS, note_chars=NOTE_CHARS,
    )  # fmt: skip


@router.get("/replies/unmatched")
def unmatched(request: Request, visitor: Annotated[Visitor, Depends(viewer)]) -> Response:
    with connect(request) as connection:
        found = unmatched_replies(connection, limit=SHOWN)
    return page(
        request, visitor, "unmatched.html", title="Replies from unknown numbers",
        replies=found, shown=SHOWN,
    )  # fmt: skip


@router.post("/replies/{flag_id}/assign")
def assign(request: Request, submitted: Annotated[Act, Depends(act)], flag_id: int) -> Response:
    back = _back(submitted)
    person = person_name(submitted.form.get("person", "") or submitted.user)
    target = f"review flag {flag_id}"
    if person is None:
        return noted(
            f"Nothing changed: a person's name is 1-{PERSON_MAX_CHARS} characters.", to=back
        )
    with connect(request) as connection:
        given = assign_flag(connection, flag_id, person, state(request).clock.now())
    if not given:
        return noted(
            f"No open review flag {flag_id} (unknown or resolved already): nothing changed.",
            to=back,
        )
    return done(
        request, submitted, "assign review flag", target,
        f"Review flag {flag_id} assigned to {person}.", to=back,
    )  # fmt: skip


@router.post("/replies/{flag_id}/resolve")
def resolve(request: Request, submitted: Annotated[Act, Depends(act)], flag_id: int) -> Response:
    back = _back(submitted)
    target = f"review flag {flag_id}"
    note = submitted.form.get("note", "").strip()[:NOTE_CHARS]
    with connect(request) as connection:
        resolved = resolve_flags(
            connection, [flag_id], state(request).clock.now(), by=submitted.user
        )
    if not resolved:
        return noted(
            f"No open review flag {flag_id} (unknown or resolved already): nothing changed.",
            to=back,
        )
    said = f"Review flag {flag_id} resolved."
    return done(
        request, submitted, "resolve review flag", target, said, to=back,
        detail=f"{said} Note: {note}" if note else None,
    )  # fmt: skip


def _back(submitted: Act) -> str:
    """The queue as the form's page showed it (its filters), never another site."""
    show = submitted.form.get("show", "")
    show = show if show in VIEWS else ""
    campaign = submitted.form.get("campaign", "")
    query = urlencode({k: v for k, v in (("show", show), ("campaign", campaign)) if v})
    return "/replies" + (f"?{query}" if query else "")
