"""Activity: what each person did in the console (and what was refused), newest first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from console import audit
from console.web import Visitor, connect, page, viewer

router = APIRouter()


@router.get("/activity")
def activity(
    request: Request, visitor: Annotated[Visitor, Depends(viewer)], user: str | None = None
) -> Response:
    with connect(request) as connection:
        actions = audit.recent(connection, limit=200, user=user or None)
    return page(request, visitor, "activity.html", title="Activity", actions=actions, user=user)
