"""The phone id rule, in one place: what an id may be, and the order phones are shown in.

A phone id is a short slug: ASCII letters, digits, ``-`` and ``_``, at most
:data:`PHONE_ID_MAX_CHARS` characters, starting with a letter or a digit (``-x`` would
read as an option on the command line). ``01``..``99`` stay valid. It names the phone's
queues (``phone_<id>``, ``phone_<id>_followup``), actors and Redis keys as it is, so
it must not end in ``_followup``: phone ``a_followup``'s first queue would be phone
``a``'s follow-up queue. Ids are unique regardless of case (``A1`` and ``a1`` are one
phone to a person reading a table), though each is used exactly as written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

PHONE_ID_MAX_CHARS = 32
PHONE_ID_RULE = (
    f"letters, digits, '-' and '_', at most {PHONE_ID_MAX_CHARS} characters, starting with a"
    " letter or a digit, e.g. 01 or london-3"
)
"""The rule as a user reads it in an error message."""
_RESERVED_SUFFIX = "_followup"
_SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_RUNS = re.compile(r"[0-9]+|[^0-9]+")


def phone_id_problem(phone_id: str) -> str | None:
    """Why ``phone_id`` cannot be a phone id (a sentence naming the rule), else ``None``."""
    if not phone_id:
        return f"must not be empty: use {PHONE_ID_RULE}"
    if len(phone_id) > PHONE_ID_MAX_CHARS:
        return f"{phone_id!r} is {len(phone_id)} characters long: use {PHONE_ID_RULE}"
    if not _SLUG.fullmatch(phone_id):
        return f"{phone_id!r} is not a phone id: use {PHONE_ID_RULE}"
    if phone_id.lower().endswith(_RESERVED_SUFFIX):
        return (
            f"{phone_id!r} must not end in {_RESERVED_SUFFIX!r}, the suffix of a phone's"
            " follow-up queue"
        )
    return None


def phone_id_key(phone_id: str) -> str:
    """What two ids must not share: ids differing only in case are one phone."""
    return phone_id.casefold()


def phone_order(phone_id: str) -> tuple[tuple[int, int, str], ...]:
    """Sort key in natural order: ``2`` before ``10``, ``london-2`` before ``london-10``;
    letters ignore case; ties (``01`` and ``1``) fall back to the id as written, so the
    order is total and stable. Two-digit ids keep their usual order."""
    parts = tuple(
        (0, int(run), "") if run[0] in "0123456789" else (1, 0, run.casefold())
        for run in _RUNS.findall(phone_id)
    )
    # The end marks sorts before any further part: ``1`` before ``1a``.
    return (*parts, (-1, 0, phone_id))


def sorted_phone_ids(phone_ids: Iterable[str]) -> list[str]:
    """``phone_ids`` in natural order (:func:`phone_order`)."""
    return sorted(phone_ids, key=phone_order)
