"""Campaigns: every campaign's state and funnel; one campaign's funnels by step, phone and A/B
variant and its sends per day; pausing, resuming and stopping it.

The figures are ``outreach campaign status``'s (:func:`engine.reports.campaign_status`),
the moves those of ``outreach campaign pause|resume|stop`` (:mod:`sequences.campaigns`),
and the buttons a campaign shows are the moves its state allows
(:func:`sequences.moves`).
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import partial
from typing import Annotated
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from console.charts import daily_chart, funnel_chart
from console.funnels import every_campaign, one_campaign
from console.web import (
    Act,
    Visitor,
    act,
    connect,
    done,
    noted,
    page,
    state,
    templates,
    viewer,
)
from engine.db import Database
from engine.reports import CampaignStatus, ab_variants, sends_per_day
from engine.settings import sorted_phone_ids
from phones.quota import quota_day
from sequences import (
    CampaignChange,
    CampaignError,
    compiled_sequences,
    find_campaign,
    moves,
    pause,
    resume,
    stop,
)

router = APIRouter()

DAYS_SHOWN = 14
"""Sends per day are drawn for this many days, today (in the quota's zone) the last."""
CONFIRM = "yes"
"""The value of the stop form's checkbox "yes, stop it"."""


def campaign_path(name: str) -> str:
    """The page of campaign ``name``."""
    return f"/campaigns/{quote(name, safe='')}"


@router.get("/campaigns")
def campaigns(request: Request, visitor: Annotated[Visitor, Depends(viewer)]) -> Response:
    kept = every_campaign(request)
    return page(
        request, visitor, "campaigns.html", title="Campaigns", campaigns=kept.value,
        as_of=kept.as_of,
    )  # fmt: skip


@router.get("/campaigns/{name:path}")
def campaign(request: Request, visitor: Annotated[Visitor, Depends(viewer)], name: str) -> Response:
    console = state(request)
    settings, now = console.settings, console.clock.now()
    today = quota_day(now, settings.quota.timezone)
    days = [today - timedelta(days=DAYS_SHOWN - 1 - n) for n in range(DAYS_SHOWN)]
    kept = one_campaign(request, name)
    status = kept.value
    if status is None:
        return not_found(request, f"There is no campaign {name!r}.")
    sends = console.reports.get(
        ("sends per day", name, days[0]),
        partial(_sends, console.database, name, days, ZoneInfo(settings.quota.timezone)),
    ).value
    steps = [(f"step {index + 1}", funnel) for index, funnel in sorted(status.steps.items())]
    phones = [(f"phone {p}", status.phones[p]) for p in sorted_phone_ids(status.phones)]
    variants = [
        (f"step {step + 1}, variant {variant + 1}", funnel)
        for (step, variant), funnel in ab_variants(
            status, compiled_sequences(settings).get(status.sequence)
        )
    ]
    return page(
        request, visitor, "campaign.html", title=f"Campaign {name}", status=status,
        as_of=kept.as_of, path=campaign_path(name),
        moves=[str(move) for move in moves(status.state)],
        selection=_selection(status), steps=steps, phones=phones, variants=variants,
        total=status.total, steps_chart=funnel_chart(steps), phones_chart=funnel_chart(phones),
        variants_chart=funnel_chart(variants), days=days, zone=settings.quota.timezone,
        sends=_per_day(sends, days), daily=daily_chart(days, _per_day(sends, days)),
    )  # fmt: skip


@router.post("/campaigns/{name:path}/pause")
def pause_(request: Request, submitted: Annotated[Act, Depends(act)], name: str) -> Response:
    return _change(request, submitted, name, "pause")


@router.post("/campaigns/{name:path}/resume")
def resume_(request: Request, submitted: Annotated[Act, Depends(act)], name: str) -> Response:
    return _change(request, submitted, name, "resume")


@router.post("/campaigns/{name:path}/stop")
def stop_(request: Request, submitted: Annotated[Act, Depends(act)], name: str) -> Response:
    """Stop only with "yes, stop it" ticked; without it, a page asking for it."""
    if submitted.form.get("confirm") != CONFIRM:
        status = one_campaign(request, name).value
        if status is None:
            return not_found(request, f"There is no campaign {name!r}.")
        return page(
            request, submitted.visitor, "campaign_stop.html", title=f"Campaign {name}",
            status=status, path=campaign_path(name), confirm=CONFIRM,
        )  # fmt: skip
    return _change(request, submitted, name, "stop")


def not_found(request: Request, message: str) -> Response:
    """The 404 page saying ``message``."""
    return templates(request).TemplateResponse(
        request, "error.html", {"title": "Not found", "message": message}, status_code=404
    )


def _change(request: Request, submitted: Act, name: str, action: str) -> Response:
    console = state(request)
    operations = {"pause": pause, "resume": resume, "stop": stop}
    with connect(request) as connection:
        known = find_campaign(connection, name) is not None
    to = campaign_path(name) if known else "/campaigns"
    try:
        change = operations[action](console.database, name, now=console.clock.now())
    except CampaignError as error:  # a move the campaign's state does not allow
        return noted(f"Not done: {error}.", to=to)
    return done(request, submitted, f"{action} campaign", name, _said(change, action), to=to)


def _said(change: CampaignChange, action: str) -> str:
    """What the move did, as ``outreach campaign pause|resume|stop`` says it."""
    name = change.name
    if action == "pause":
        if not change.changed:
            return f"Campaign {name} was already paused."
        return f"Campaign {name} is paused; {change.enrollments:,} queued sends were taken back."
    if action == "resume":
        word = f"is {change.state} again" if change.changed else f"was already {change.state}"
        return f"Campaign {name} {word}."
    return f"Campaign {name} is stopped; {change.enrollments:,} running enrollments ended."


def _selection(status: CampaignStatus) -> dict[str, str]:
    return {"leads": status.leads_words, "phones": status.phones_words.replace(",", ", ")}


def _sends(
    database: Database, name: str, days: list[date], zone: ZoneInfo
) -> dict[str, dict[date, int]]:
    """Each phone's sends by day (a ``GROUP BY`` over the days' messages: kept in memory
    with the funnels)."""
    with database.engine.connect() as connection:
        record = find_campaign(connection, name)
        if record is None:
            return {}
        return sends_per_day(
            connection, campaign_id=record.id, first_day=days[0], last_day=days[-1], zone=zone
        )


def _per_day(sends: dict[str, dict[date, int]], days: list[date]) -> dict[str, list[int]]:
    """Each phone's sends on each of ``days`` (0 for a day without any)."""
    return {phone: [sends[phone].get(day, 0) for day in days] for phone in sorted_phone_ids(sends)}
