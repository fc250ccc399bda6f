"""Previewing a sequence for real leads: each step rendered as the engine would send it, unsent.

A lead enrolled in the sequence sees exactly its messages: the same A/B variant
(:func:`~sequences.schedule.choose_variant`) and the same spintax seed,
``"<enrollment id>:<step>"``. A lead not enrolled is shown with enrollment id 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Connection, and_, func, select

from engine import numbers
from engine.tables import E, L, T
from sequences.definition import MAX_MESSAGE_LENGTH, Sequence
from sequences.errors import SequencesError
from sequences.schedule import choose_variant
from spintax import MissingVariableError

__all__ = ["PreviewLead", "StepPreview", "normalise_number", "preview_leads", "render_steps"]


@dataclass(frozen=True)
class StepPreview:
    """One step as a lead would get it, or the variables it lacks to get it."""

    step: int
    variant: int
    """The A/B variant the lead gets (0 when the step has one template)."""
    variants: int
    seed: str
    text: str | None
    missing: tuple[str, ...] = ()

    @property
    def too_long(self) -> bool:
        """Whether the text exceeds what TimelinesAI accepts in one message."""
        return self.text is not None and len(self.text) > MAX_MESSAGE_LENGTH


@dataclass(frozen=True)
class PreviewLead:
    """A stored lead, its variables, and its enrollment in the sequence (if any)."""

    lead_id: int
    phone: str
    variables: dict[str, str]
    enrollment_id: int | None

    @property
    def seed_id(self) -> int:
        """The enrollment id its messages are seeded with (0 when not enrolled)."""
        return self.enrollment_id or 0


def render_steps(
    sequence: Sequence, variables: Mapping[str, str], enrollment_id: int
) -> tuple[StepPreview, ...]:
    """Each step of ``sequence`` rendered for a lead with ``variables``."""
    previews = []
    for step in sequence.steps:
        count = len(step.templates)
        variant = choose_variant(enrollment_id, step.index, count)
        seed = f"{enrollment_id}:{step.index}"
        try:
            text = step.templates[variant].render(variables, seed=seed).text
        except MissingVariableError as error:
            previews.append(StepPreview(step.index, variant, count, seed, None, error.names))
            continue
        previews.append(StepPreview(step.index, variant, count, seed, text))
    return tuple(previews)


def normalise_number(text: str, region: str | None) -> str:
    """``text`` in E.164, read like a number in an imported file (national ones in ``region``).

    Raises :class:`SequencesError` saying why the number is not valid.
    """
    try:
        return numbers.to_e164(text, region)
    except numbers.InvalidNumberError as error:
        raise SequencesError(str(error)) from None


def preview_leads(
    connection: Connection, sequence: str, *, phone: str | None = None, sample: int = 1,
    tag: str | None = None,
) -> list[PreviewLead]:  # fmt: skip
    """The lead with number ``phone`` (E.164), or ``sample`` leads picked at random
    (among those tagged ``tag``, when given).

    A sample takes leads enrolled in ``sequence`` first, then any others.
    """
    enrollment = E.c
    lead = L.c
    query = select(lead.id, lead.phone, lead.variables, enrollment.id.label("enrollment_id"))
    query = query.select_from(
        L.outerjoin(E, and_(enrollment.lead_id == lead.id, enrollment.sequence == sequence))
    )
    if tag is not None:
        query = query.where(lead.id.in_(select(T.c.lead_id).where(T.c.tag == tag)))
    if phone is not None:
        query = query.where(lead.phone == phone)
    else:
        query = query.order_by(enrollment.id.is_(None), func.random()).limit(sample)
    return [
        PreviewLead(row.id, row.phone, row.variables or {}, row.enrollment_id)
        for row in connection.execute(query)
    ]
