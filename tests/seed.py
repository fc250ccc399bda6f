"""Rows tests write by hand: a campaign to hang enrollments on, a dead letter, a history of
sends and replies for the phones' health."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, select

from engine.db import Database
from engine.models import Campaign, Enrollment, Lead, Message


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


class _History:
    """Leads, enrollments and messages of a campaign ``intro``, at hours before ``now``."""

    def __init__(self, session: Session, now: datetime) -> None:
        self.session = session
        self.now = now
        self.campaign = campaign_id(session, "intro")
        self.leads = 0

    def enrollment(self, phone_id: str, **values: object) -> Enrollment:
        self.leads += 1
        lead = Lead(phone=f"+4477009{self.leads:05d}")
        self.session.add(lead)
        self.session.flush()
        enrollment = Enrollment(
            lead_id=lead.id or 0, campaign_id=self.campaign, sequence="intro",
            phone_id=phone_id, **values,
        )  # fmt: skip
        self.session.add(enrollment)
        self.session.flush()
        return enrollment

    def first(
        self, phone_id: str, status: str, hours_ago: float, step: int = 0,
        read_hours_ago: float | None = 0,
    ) -> Enrollment:  # fmt: skip
        """A message of ``step`` (a first message by default), its status read
        ``read_hours_ago`` (``None``: never; by default at ``now``, by a delivery sync
        that keeps up)."""
        enrollment = self.enrollment(phone_id, state="active", step=1)
        read = None if read_hours_ago is None else self.now - timedelta(hours=read_hours_ago)
        self.message(enrollment, "out", hours_ago, status=status, step=step, status_read_at=read)
        return enrollment

    def message(
        self, enrollment: Enrollment, direction: str, hours_ago: float, **values: object
    ) -> None:
        message = Message(
            direction=direction, enrollment_id=enrollment.id, lead_id=enrollment.lead_id,
            phone_id=enrollment.phone_id, sent_at=self.now - timedelta(hours=hours_ago),
            **values,
        )  # fmt: skip
        self.session.add(message)
        self.session.flush()

    def invalid(self, phone_id: str, hours_ago: float) -> None:
        self.enrollment(
            phone_id, state="invalid_number", end_reason="invalid_number",
            ended_at=self.now - timedelta(hours=hours_ago), step_state="failed",
        )  # fmt: skip


def seed_phone_history(database: Database, now: datetime) -> None:
    """Phones 01 and 02 (their rows must exist) with this history before ``now``; with
    ``[health]`` windows of 3 first messages, 4 sends and 3 replies and a grace of 6 h,
    phone 01 has 2 of 3 delivered (1 answered, 1 stuck), 1 invalid number of 4 attempts
    and 2 opt-outs of 3 replies, and phone 02 1 failed first message of 1 attempt."""
    with database.session() as session:
        history = _History(session, now)
        history.first("01", "delivered", 10)
        history.first("01", "failed", 9)  # outside the window of 3
        history.first("01", "sent", 8)  # stuck
        answered = history.first("01", "sent", 7)  # answered: delivered
        history.first("01", "sent", 1)  # too early to say
        history.first("01", "read", 0.5)
        history.first("01", "failed", 0.4, step=1)  # a follow-up: not a first message
        history.invalid("01", 0.2)
        history.invalid("01", 20)  # outside the last 4 attempts
        history.message(answered, "in", 6, status="received")
        opted_out = history.enrollment("01", state="opted_out")
        history.message(opted_out, "in", 5, status="received", intent="opt_out")
        history.message(opted_out, "in", 4, status="received", intent="other")
        history.message(opted_out, "in", 3, status="received", intent="opt_out")
        history.first("02", "failed", 8)
