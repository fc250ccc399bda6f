"""One export row per lead and campaign, built from plain data; its CSV cells and JSON object.

Pure: no database, no clock. :mod:`engine.exports.query` reads the plain records and
hands them to :func:`lead_rows`; :mod:`engine.exports.writers` writes the cells. Steps
and A/B variants are numbered from 1 here, as people count them (the database counts
from 0). Times are UTC, ISO 8601 to the second.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from sequences.leads_query import lead_name

__all__ = [
    "EnrollmentData",
    "ExportRow",
    "Inbound",
    "LeadData",
    "Outbound",
    "Reply",
    "StepSent",
    "csv_cells",
    "csv_header",
    "excel_safe",
    "json_object",
    "lead_rows",
]

LEAD_COLUMNS: Final = ("number", "name", "variables")
CAMPAIGN_COLUMNS: Final = ("campaign", "phone_id", "state", "end_reason", "enrolled_at", "ended_at")
STEP_FIELDS: Final = ("sent_at", "delivered_at", "read_at", "variant", "variant_id")
REPLY_COLUMNS: Final = (
    "replies", "last_reply_at", "last_reply_text", "last_reply_class", "last_reply_intents",
)  # fmt: skip
_FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class LeadData:
    """A lead as stored: its id, number (E.164) and imported columns."""

    id: int
    phone: str
    variables: Mapping[str, str]


@dataclass(frozen=True)
class EnrollmentData:
    """A lead's journey in one campaign, as stored."""

    id: int
    lead_id: int
    campaign: str
    phone_id: str | None
    state: str
    end_reason: str | None
    created_at: datetime | None
    ended_at: datetime | None


@dataclass(frozen=True)
class Outbound:
    """A step we sent (``step`` and ``variant`` from 0, as stored)."""

    enrollment_id: int
    step: int
    sent_at: datetime | None
    delivered_at: datetime | None
    read_at: datetime | None
    variant: int | None
    variant_id: str | None


@dataclass(frozen=True)
class Inbound:
    """A message the lead wrote, with its class and intents once classified."""

    id: int
    enrollment_id: int | None
    at: datetime | None
    text: str
    label: str | None
    intents: Sequence[str]


@dataclass(frozen=True)
class StepSent:
    """One step of the row: when it was sent, delivered and read, which variant went."""

    step: int
    """From 1."""
    sent_at: datetime | None
    delivered_at: datetime | None
    read_at: datetime | None
    variant: int | None
    """The A/B variant (the step's template), from 1."""
    variant_id: str | None
    """The wording's id within the template (its spintax choices)."""


@dataclass(frozen=True)
class Reply:
    """The lead's last message in this campaign and how it was classified."""

    at: datetime | None
    text: str
    label: str | None
    intents: tuple[str, ...]


@dataclass(frozen=True)
class ExportRow:
    """One lead in one campaign; a lead never enrolled has ``campaign`` ``None``."""

    number: str
    variables: Mapping[str, str]
    campaign: str | None = None
    phone_id: str | None = None
    state: str | None = None
    end_reason: str | None = None
    enrolled_at: datetime | None = None
    ended_at: datetime | None = None
    steps: tuple[StepSent, ...] = ()
    replies: int = 0
    last_reply: Reply | None = None

    @property
    def name(self) -> str | None:
        """The lead's name from its columns (``name``, ``full_name``, first and last)."""
        return lead_name(self.variables)


def lead_rows(
    lead: LeadData,
    enrollments: Iterable[EnrollmentData],
    outbound: Iterable[Outbound],
    inbound: Iterable[Inbound],
) -> list[ExportRow]:
    """The rows of one lead: one per enrollment (in the order given), or, with none, one
    with empty campaign columns and the replies that belong to no enrollment.

    ``outbound`` and ``inbound`` may hold other enrollments' messages; each row takes
    its own. The last reply is the latest by time, then by arrival.
    """
    sent = list(outbound)
    received = list(inbound)
    rows = [_enrolled_row(lead, e, sent, received) for e in enrollments]
    if rows:
        return rows
    mine = (m for m in received if m.enrollment_id is None)
    return [ExportRow(number=lead.phone, variables=lead.variables, **_replies(mine))]


def _enrolled_row(
    lead: LeadData, e: EnrollmentData, sent: list[Outbound], received: list[Inbound]
) -> ExportRow:
    mine = sorted((m for m in sent if m.enrollment_id == e.id), key=lambda m: m.step)
    return ExportRow(
        number=lead.phone, variables=lead.variables, campaign=e.campaign,
        phone_id=e.phone_id, state=e.state, end_reason=e.end_reason,
        enrolled_at=e.created_at, ended_at=e.ended_at,
        steps=tuple(_step(m) for m in mine),
        **_replies(m for m in received if m.enrollment_id == e.id),
    )  # fmt: skip


def _step(m: Outbound) -> StepSent:
    variant = None if m.variant is None else m.variant + 1
    return StepSent(m.step + 1, m.sent_at, m.delivered_at, m.read_at, variant, m.variant_id)


def _replies(messages: Iterable[Inbound]) -> dict[str, Any]:
    found = list(messages)
    if not found:
        return {"replies": 0, "last_reply": None}
    last = max(found, key=lambda m: (m.at or datetime.min.replace(tzinfo=UTC), m.id))
    reply = Reply(at=last.at, text=last.text, label=last.label, intents=tuple(last.intents))
    return {"replies": len(found), "last_reply": reply}


def csv_header(step_count: int) -> list[str]:
    """The CSV's columns, with ``step_N_sent_at`` ... ``step_N_variant_id`` for N from 1
    to ``step_count``."""
    steps = [f"step_{n}_{name}" for n in range(1, step_count + 1) for name in STEP_FIELDS]
    return [*LEAD_COLUMNS, *CAMPAIGN_COLUMNS, *steps, *REPLY_COLUMNS]


def csv_cells(row: ExportRow, step_count: int, *, excel: bool = False) -> list[str]:
    """``row`` under :func:`csv_header`: empty cells for what is missing, variables as a
    JSON object, intents joined by ``;``. Steps beyond ``step_count`` are left out. With
    ``excel``, the number is written so Excel keeps its ``+`` and text people wrote is
    made safe to open (:func:`excel_safe`)."""
    by_step = {s.step: s for s in row.steps}
    step_cells: list[str] = []
    for n in range(1, step_count + 1):
        sent = by_step.get(n)
        values = (
            (sent.sent_at, sent.delivered_at, sent.read_at, sent.variant, sent.variant_id)
            if sent
            else (None,) * len(STEP_FIELDS)
        )
        step_cells += [_cell(v) for v in values]
    reply = row.last_reply
    name = row.name or ""
    reply_text = reply.text if reply else ""
    number = row.number
    if excel:
        # Excel reads "+40712..." as a number and drops the "+"; a formula giving the
        # text keeps it (the number is E.164, digits only, so nothing else can run).
        number = f'="{row.number}"'
        name, reply_text = excel_safe(name), excel_safe(reply_text)
    return [
        number, name, json.dumps(dict(row.variables), ensure_ascii=False, sort_keys=True),
        *(_cell(v) for v in (row.campaign, row.phone_id, row.state, row.end_reason,
                             row.enrolled_at, row.ended_at)),
        *step_cells,
        str(row.replies), _cell(reply.at if reply else None), reply_text,
        _cell(reply.label if reply else None), ";".join(reply.intents) if reply else "",
    ]  # fmt: skip


def json_object(row: ExportRow) -> dict[str, Any]:
    """``row`` as a JSON-ready object: variables an object, steps a list (only the steps
    sent), the last reply an object or ``null``."""
    reply = row.last_reply
    return {
        "number": row.number, "name": row.name, "variables": dict(row.variables),
        "campaign": row.campaign, "phone_id": row.phone_id, "state": row.state,
        "end_reason": row.end_reason, "enrolled_at": _time(row.enrolled_at),
        "ended_at": _time(row.ended_at),
        "steps": [
            {"step": s.step, "sent_at": _time(s.sent_at), "delivered_at": _time(s.delivered_at),
             "read_at": _time(s.read_at), "variant": s.variant, "variant_id": s.variant_id}
            for s in row.steps
        ],
        "replies": row.replies,
        "last_reply": None if reply is None else {
            "at": _time(reply.at), "text": reply.text, "class": reply.label,
            "intents": list(reply.intents),
        },
    }  # fmt: skip


def excel_safe(text: str) -> str:
    """``text`` that Excel shows as text: one starting like a formula (``=``, ``+``, ``-``,
    ``@``, tab, carriage return) gets a leading ``'``, so a lead's reply cannot run as one."""
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return _time(value) or ""
    return str(value)


def _time(at: datetime | None) -> str | None:
    return None if at is None else at.astimezone(UTC).isoformat(timespec="seconds")
