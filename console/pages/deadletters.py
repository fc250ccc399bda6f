"""Dead letters: the steps whose send failed for good (what ``outreach dlq list`` shows),
each with a retry, and a retry of all of them for operators."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from console.web import Act, Visitor, act, connect, done, noted, page, state, viewer
from engine.deadletters import count_dead_letters, list_dead_letters, retry_dead_letters
from engine.errors import OutreachError

router = APIRouter()

SHOWN = 200
"""The newest dead letters shown, as ``outreach dlq list`` shows by default; "retry
all" retries every one, shown or not."""

PATH = "/dead-letters"


@router.get(PATH)
def dead_letters(request: Request, visitor: Annotated[Visitor, Depends(viewer)]) -> Response:
    with connect(request) as connection:
        letters = list_dead_letters(connection, limit=SHOWN)
        total = count_dead_letters(connection)
    return page(
        request, visitor, "dead_letters.html", title="Dead letters", letters=letters, total=total
    )


@router.post(f"{PATH}/retry")
def retry(request: Request, submitted: Annotated[Act, Depends(act)]) -> Response:
    """One dead letter (form field ``id``, an enrollment id) or, without it, all of them."""
    raw = submitted.form.get("id", "").strip()
    if raw and not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
        return noted(f"{raw!r} is not an enrollment id: nothing was retried.", to=PATH)
    if not raw and submitted.form.get("confirm") != "yes":
        return noted('Nothing retried: tick "yes, retry all" to retry every dead letter.', to=PATH)
    ids = [int(raw)] if raw else None
    try:
        with connect(request) as connection:
            count = retry_dead_letters(connection, state(request).clock.now(), ids)
    except OutreachError:  # the only refusal: the id is no dead letter (any more)
        note = f"Enrollment {raw} has no dead letter (retried already, or its enrollment ended)."
        return noted(note, to=PATH)
    if ids is None:
        action, target = "retry all dead letters", None
    else:
        action, target = "retry dead letter", f"enrollment {ids[0]}"
    note = f"{count} step(s) due again; the dispatcher will send them."
    return done(request, submitted, action, target, note, to=PATH)
