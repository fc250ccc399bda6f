"""The overview: what stops sending now, each phone and its health, the campaigns, the
latest alerts."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from console.charts import quota_meter
from console.funnels import every_campaign
from console.web import Visitor, connect, page, state, viewer
from engine.alert_log import list_alerts
from engine.blocker_facts import read_workspace
from engine.snapshot import collect
from phones.health import HEALTH_COLUMNS, describe

router = APIRouter()

ALERTS_SHOWN_DAYS = 7


@router.get("/")
def overview(request: Request, visitor: Annotated[Visitor, Depends(viewer)]) -> Response:
    console = state(request)
    settings, now = console.settings, console.clock.now()
    workspace = read_workspace(
        console.redis, namespace=settings.redis.namespace,
        monthly_call_budget=settings.timelinesai.monthly_call_budget,
    )  # fmt: skip
    kept = every_campaign(request)
    snapshot = collect(console.database, settings, now, workspace=workspace, campaigns=kept.value)
    with connect(request) as connection:
        alerts = list_alerts(connection, since=now - timedelta(days=ALERTS_SHOWN_DAYS), limit=20)
    phones = [
        {
            "row": row, "state": snapshot.shown_state(row),
            "meter": quota_meter(row.used_today, row.quota_today),
            "health": describe(row.health),
        }
        for row in snapshot.phones
    ]  # fmt: skip
    campaigns = [c for c in snapshot.campaigns if c.state not in ("stopped", "completed")]
    return page(
        request, visitor, "overview.html", title="Overview", snapshot=snapshot,
        phones=phones, health_columns=HEALTH_COLUMNS, campaigns=campaigns, alerts=alerts,
        redis_error=workspace.error, as_of=kept.as_of,
    )  # fmt: skip
