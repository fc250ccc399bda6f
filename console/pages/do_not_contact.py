"""Do not contact: the suppression list (what ``outreach suppress list`` shows), searched
and paged, with the adding and removing of ``outreach suppress add|remove`` for operators."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from console.web import Act, Visitor, act, connect, done, noted, page, state, viewer
from engine.numbers import InvalidNumberError, lookup_candidates
from sequences import SequencesError, find_number, suppression

router = APIRouter()

PATH = "/do-not-contact"
PAGE_ROWS = 50


@router.get(PATH)
def do_not_contact(
    request: Request, visitor: Annotated[Visitor, Depends(viewer)],
    q: str | None = None, after: str | None = None,
) -> Response:  # fmt: skip
    """The list, newest first; ``q`` a number as people write it or a part of one, or a
    word of the reason or source; ``after`` the last number of the previous page."""
    search = (q or "").strip() or None
    numbers: list[str] = []
    if search is not None:
        try:
            numbers = lookup_candidates(search, state(request).settings.leads.default_region)
        except InvalidNumberError:  # a part of a number, or a word: matched as text
            numbers = []
    with connect(request) as connection:
        rows = suppression.entries(
            connection, search=search, numbers=numbers, after=after or None, limit=PAGE_ROWS + 1
        )
        total = suppression.count(connection)
    shown = rows[:PAGE_ROWS]
    return page(
        request, visitor, "do_not_contact.html", title="Do not contact", entries=shown,
        total=total, search=search, after=after or None,
        next_after=shown[-1].phone if len(rows) > PAGE_ROWS else None,
    )  # fmt: skip


@router.post(f"{PATH}/add")
def add(request: Request, submitted: Annotated[Act, Depends(act)]) -> Response:
    """Put ``number`` on the list with ``reason`` (``manual`` when empty); its lead's
    running campaigns end, as with ``outreach suppress add``."""
    console = state(request)
    try:
        reason = suppression.check_reason(
            submitted.form.get("reason", "").strip() or suppression.MANUAL_REASON
        )
    except SequencesError as error:
        return noted(f"Nothing added: the reason must {error}.", to=PATH)
    try:
        with connect(request) as connection:
            phone = find_number(
                connection, submitted.form.get("number", ""), console.settings.leads.default_region
            )
            added, ended = suppression.add(
                connection, phone, reason=reason, source=f"console ({submitted.user})",
                now=console.clock.now(),
            )  # fmt: skip
    except InvalidNumberError as error:
        return noted(f"Nothing added: {error}.", to=PATH)
    ending = f"; {ended} running campaign(s) of the lead ended" if ended else ""
    note = f"{phone}: {'added to' if added else 'already on'} the do-not-contact list{ending}."
    return done(request, submitted, "add to do-not-contact list", phone, note, to=PATH)


@router.post(f"{PATH}/remove")
def remove(request: Request, submitted: Annotated[Act, Depends(act)]) -> Response:
    """Take ``number`` off the list, by number or forgotten key (campaigns it ended stay
    ended), as with ``outreach suppress remove``."""
    region = state(request).settings.leads.default_region
    try:
        with connect(request) as connection:
            phone = find_number(connection, submitted.form.get("number", ""), region)
            removed = suppression.remove(connection, phone)
    except InvalidNumberError as error:
        return noted(f"Nothing removed: {error}.", to=PATH)
    if not removed:
        return noted(f"{phone} is not on the do-not-contact list: nothing removed.", to=PATH)
    if any(entry.forgotten for entry in removed):
        # The record keeps the key, never the number that was forgotten.
        key = next(entry.phone for entry in removed if entry.forgotten)
        note = f"{phone}: removed from the do-not-contact list (it had been forgotten)."
        detail = "a forgotten number, removed by its key"
        return done(
            request, submitted, "remove from do-not-contact list", key, note, to=PATH,
            detail=detail,
        )  # fmt: skip
    note = f"{phone}: removed from the do-not-contact list."
    return done(request, submitted, "remove from do-not-contact list", phone, note, to=PATH)
