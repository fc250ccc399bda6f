"""A lead who got step 1, answered it and is flagged for a person: what the lead and
reply pages are tested on, written with the engine's models as the CLI's tests write it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from engine.db import Database
from engine.models import Enrollment, Lead, Message, Phone, ReviewFlag
from tests.seed import campaign_id


@dataclass(frozen=True)
class Replied:
    lead_id: int
    flag_id: int
    reply_id: int


def replied_lead(
    database: Database, now: datetime, *, phone: str = "+40712343644", campaign: str = "spring",
    waited: timedelta = timedelta(hours=5), variables: dict[str, str] | None = None,
    text: str = "Sunați-mă mâine la 10",
) -> Replied:  # fmt: skip
    """Step 1 sent (and read) an hour before the reply, the reply ``waited`` before ``now``,
    its enrollment ended ``replied`` and a review flag open."""
    with database.session() as session:
        cid = campaign_id(session, campaign, sequence="intro")
        if session.get(Phone, "01") is None:
            session.add(Phone(id="01", phone="+40700000001"))
        lead = Lead(phone=phone, variables=variables or {"first_name": "Ioana", "last_name": "Pop"})
        session.add(lead)
        session.flush()
        assert lead.id is not None
        at = now - waited
        enrollment = Enrollment(
            lead_id=lead.id, campaign_id=cid, sequence="intro", state="replied", step=1,
            step_state="due", phone_id="01", end_reason="replied", ended_at=at,
        )  # fmt: skip
        session.add(enrollment)
        session.flush()
        session.add(
            Message(
                direction="out", enrollment_id=enrollment.id, step=0, lead_id=lead.id,
                phone_id="01", text="Hello Ioana", status="read", sent_at=at - timedelta(hours=1),
                delivered_at=at - timedelta(minutes=59), read_at=at - timedelta(minutes=30),
            )
        )  # fmt: skip
        reply = Message(
            direction="in", enrollment_id=enrollment.id, step=0, lead_id=lead.id, phone_id="01",
            text=text, status="received", intent="schedule_call", sent_at=at,
        )  # fmt: skip
        session.add(reply)
        session.flush()
        assert reply.id is not None
        flag = ReviewFlag(
            message_id=reply.id, lead_id=lead.id, enrollment_id=enrollment.id, priority=2,
            created_at=at, reasons={"matched": {"human_review": ["suna"]}},
        )  # fmt: skip
        session.add(flag)
        session.flush()
        assert flag.id is not None
        return Replied(lead.id, flag.id, reply.id)
