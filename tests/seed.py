"""Rows tests write by hand: a campaign to hang enrollments on, a dead letter."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from engine.models import Campaign, Enrollment, Lead


def campaign_id(
    session: Session, name: str, *, sequence: str | None = None, state: str = "active",
    phone_ids: str | None = None, starts_at: datetime | None = None,
) -> int:  # fmt: skip
    """The id of campaign ``name`` (of ``sequence``, default the same name), created in
    ``state`` (limited to ``phone_ids``, from ``starts_at``) if it does not exist yet."""
    found = session.exec(select(Campaign).where(Campaign.name == name)).first()
    if found is None:
        found = Campaign(
            name=name, sequence=sequence or name, state=state, phone_ids=phone_ids,
            starts_at=starts_at,
        )  # fmt: skip
        session.add(found)
        session.flush()
    assert found.id is not None
    return found.id


def dead_letter(
    session: Session, phone: str, *, failed_at: datetime, campaign: str = "intro",
    step: int = 1, error: str = "ServerError: [503] upstream", phone_id: str | None = None,
) -> int:  # fmt: skip
    """The id of a new running enrollment of ``campaign`` for a new lead ``phone``, whose
    step ``step`` (an index) failed for good at ``failed_at`` after 5 tries."""
    lead = Lead(phone=phone)
    session.add(lead)
    session.flush()
    enrollment = Enrollment(
        lead_id=lead.id or 0, campaign_id=campaign_id(session, campaign), sequence=campaign,
        state="active", step=step, step_state="failed", phone_id=phone_id, attempts=5,
        last_error=error, updated_at=failed_at,
    )  # fmt: skip
    session.add(enrollment)
    session.flush()
    assert enrollment.id is not None
    return enrollment.id
