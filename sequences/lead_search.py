"""Finding leads as a person types: by number, written any way, or by part of a name.

A text that looks like a number (digits, ``+``, spaces, dashes, dots, brackets) is
read as ``outreach leads show`` reads one (:func:`~sequences.leads_query.find_number`)
and finds that lead by its unique number. Any other text finds the leads whose name
(:func:`engine.lead_names.lead_name`) contains it, case folded, through
``leads.name_key`` and its index. Results come oldest first, a page at a time, each
page starting after the last lead of the one before (keyset: no OFFSET to count off).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from sqlalchemy import ColumnElement, select

from engine.lead_names import search_key
from engine.numbers import InvalidNumberError
from engine.tables import L
from sequences.leads_query import LeadSummary, find_number, lead_summaries

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

__all__ = ["MAX_PAGE_LEADS", "LeadSearch", "looks_like_number", "search_leads"]

MAX_PAGE_LEADS: Final = 200
"""A page never holds more leads than this, whatever was asked."""

_NUMBER: Final = re.compile(r"^[\s+()\-.0-9]*[0-9][\s+()\-.0-9]*$")
_LIKE_ESCAPE: Final = "\\"


@dataclass(frozen=True)
class LeadSearch:
    """One page of the leads a search found."""

    text: str
    by: str
    """``number``, ``name`` or ``all`` (nothing typed)."""
    leads: tuple[LeadSummary, ...]
    next_after: int | None
    """The last lead's id when more follow (ask again with ``after``), else ``None``."""
    number: str | None = None
    """The number (E.164) the text was read as."""
    problem: str | None = None
    """Why a text that looks like a number is not one."""


def looks_like_number(text: str) -> bool:
    """True when ``text`` is written as a number is (``+40 722-123 456``, ``(0722)
    123.456``): digits with only ``+``, spaces, dashes, dots and brackets around them."""
    return bool(_NUMBER.match(text))


def search_leads(
    session: Session, text: str, region: str | None, *, after: int | None = None,
    limit: int = 50,
) -> LeadSearch:  # fmt: skip
    """The leads matching ``text`` (national numbers read in ``region``), oldest first:
    up to ``limit`` (at most :data:`MAX_PAGE_LEADS`) of those after lead id ``after``."""
    text = text.strip()
    limit = max(1, min(limit, MAX_PAGE_LEADS))
    query = select(L).order_by(L.c.id).limit(limit + 1)
    if after is not None:
        query = query.where(L.c.id > after)
    by, number = "all", None
    if looks_like_number(text):
        try:
            number = find_number(session.connection(), text, region)
        except InvalidNumberError as error:
            return LeadSearch(text, "number", (), None, problem=str(error))
        by, query = "number", query.where(L.c.phone == number)
    elif text:
        by, query = "name", query.where(_name_contains(search_key(text)))
    rows = list(session.execute(query))
    more = len(rows) > limit
    leads = lead_summaries(session, rows[:limit])
    return LeadSearch(text, by, leads, leads[-1].id if more and leads else None, number)


def _name_contains(key: str) -> ColumnElement[bool]:
    """``name_key LIKE '%key%'``, the key's own ``%`` and ``_`` taken literally."""
    escaped = key.replace(_LIKE_ESCAPE, _LIKE_ESCAPE * 2).replace("%", "\\%").replace("_", "\\_")
    return L.c.name_key.like(f"%{escaped}%", escape=_LIKE_ESCAPE)
