"""Rows tests write by hand: a campaign to hang enrollments on."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from engine.models import Campaign


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
