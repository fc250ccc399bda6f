"""Campaign status figures, the forecast's backlog and sends by day, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from engine.db import Database
from engine.models import Enrollment, Lead, Message, Phone
from engine.reports import campaign_status, send_backlog, sends_per_day
from sequences import find_campaign
from tests.seed import campaign_id

NOW = datetime(2026, 1, 6, 10, 30, tzinfo=UTC)


def seed(database: Database) -> None:
    """intro: 6 leads over 2 steps and 2 phones, step 1 an A/B test; other: 1 lead."""
    with database.session() as session:
        cid = campaign_id(session, "intro", state="paused")
        for phone_id in ("01", "02"):
            session.add(Phone(id=phone_id, phone=f"+4477009000{phone_id}"))
        leads = [Lead(phone=f"+4071200{i:04d}") for i in range(7)]
        session.add_all(leads)
        session.flush()
        # (state, step, step_state, phone, due in hours, messages as (step, variant, status),
        # the step a reply answered)
        plans = [
            ("pending", 0, "due", None, -1, [], None),
            ("pending", 0, "queued", "01", -1, [], None),
            ("active", 1, "due", "01", 26, [(0, 0, "read")], None),
            ("active", 1, "sending", "02", 0, [(0, 0, "delivered")], None),
            ("replied", 1, "due", "01", 5, [(0, 0, "read")], 0),
            # Replied after its last step (variant 1 of step 1).
            ("replied", 1, "sent", "02", None, [(0, 0, "sent"), (1, 1, "read")], 1),
        ]
        for lead, plan in zip(leads, plans, strict=False):
            state, step, step_state, phone, due_h, sent, answered = plan
            assert lead.id is not None
            enrollment = Enrollment(
                lead_id=lead.id, campaign_id=cid, sequence="intro", state=state, step=step,
                step_state=step_state, phone_id=phone,
                due_at=None if due_h is None else NOW + timedelta(hours=due_h),
            )  # fmt: skip
            session.add(enrollment)
            session.flush()
            for message_step, variant, status in sent:
                session.add(
                    Message(
                        direction="out", enrollment_id=enrollment.id, step=message_step,
                        lead_id=lead.id, phone_id=phone, template_variant=variant, status=status,
                        sent_at=NOW, read_at=NOW if status == "read" else None,
                    )
                )  # fmt: skip
            if answered is not None:  # as the receiver stores it, not yet classified
                session.add(
                    Message(direction="in", enrollment_id=enrollment.id, lead_id=lead.id,
                            step=answered, text="yes", status="received", sent_at=NOW)
                )  # fmt: skip
        other = campaign_id(session, "other")
        session.add(
            Enrollment(lead_id=leads[6].id or 0, campaign_id=other, sequence="other", due_at=NOW)
        )


def test_status_counts_each_step_phone_and_variant(database: Database) -> None:
    seed(database)
    with database.engine.connect() as connection:
        statuses = campaign_status(connection)
    assert [s.sequence for s in statuses] == ["intro", "other"]
    intro, other = statuses
    assert (intro.state, other.state) == ("paused", "active")
    assert intro.states == {"pending": 2, "active": 2, "replied": 2}
    assert (intro.enrolled, intro.running) == (6, 4)
    step0, step1 = intro.steps[0], intro.steps[1]
    assert (step0.waiting, step0.queued, step0.sent, step0.delivered, step0.read) == (1, 1, 4, 3, 2)
    assert (step1.waiting, step1.queued, step1.sent, step1.read) == (1, 1, 1, 1)
    # One reply after step 0 (lead 5), one after step 1 (lead 6).
    assert (step0.replied, step1.replied) == (1, 1)
    assert step0.reply_rate == 0.25 and step1.reply_rate == 1.0
    assert (intro.phones["01"].sent, intro.phones["02"].sent) == (2, 3)
    assert (intro.phones["01"].queued, intro.phones["02"].queued) == (1, 1)
    assert (intro.phones["01"].replied, intro.phones["02"].replied) == (1, 1)
    assert intro.variants[(1, 1)].replied == 1 and intro.variants[(0, 0)].sent == 4
    assert intro.total.sent == 5
    assert other.steps[0].waiting == 1 and other.total.reply_rate is None


def test_status_of_one_sequence_and_its_json(database: Database) -> None:
    seed(database)
    with database.engine.connect() as connection:
        (intro,) = campaign_status(connection, "intro")
        assert campaign_status(connection, "nothing") == []
    data = json.loads(json.dumps(intro.as_dict()))
    assert data["sequence"] == "intro" and data["enrolled"] == 6
    assert [row["step"] for row in data["steps"]] == [1, 2]  # numbered for people
    assert data["steps"][0]["reply_rate"] == 0.25
    assert {row["phone"] for row in data["phones"]} == {"01", "02"}


def test_backlog_counts_first_messages_and_followups_by_due_hour(database: Database) -> None:
    seed(database)
    with database.engine.connect() as connection:
        found = find_campaign(connection, "intro")
        assert found is not None
        backlog = send_backlog(connection, found.id, NOW)
        assert send_backlog(connection, None, NOW).first_messages == 0
    assert backlog.first_messages == 2
    hour = NOW.replace(minute=0)
    assert sorted(backlog.followups) == [(1, hour, 1), (1, hour + timedelta(hours=26), 1)]
    by_day = backlog.followups_by_day(lambda moment: moment.date())
    assert by_day == {(1, NOW.date()): 1, (1, NOW.date() + timedelta(days=1)): 1}


def test_a_reply_after_the_last_step_counts_though_the_lead_had_completed(
    database: Database,
) -> None:
    """The sequence had ended ``completed`` when the lead answered its last message."""
    with database.session() as session:
        cid = campaign_id(session, "intro", state="completed")
        session.add(Phone(id="01", phone="+447700900001"))
        lead = Lead(phone="+40712000001")
        session.add(lead)
        session.flush()
        enrollment = Enrollment(
            lead_id=lead.id or 0,
            campaign_id=cid,
            sequence="intro",
            state="completed",
            step=1,
            step_state="sent",
            phone_id="01",
        )
        session.add(enrollment)
        session.flush()
        for step in (0, 1):
            session.add(
                Message(
                    direction="out",
                    enrollment_id=enrollment.id,
                    step=step,
                    lead_id=lead.id,
                    phone_id="01",
                    status="read",
                    sent_at=NOW,
                )
            )
        for origin in ("auto_reply", "manual"):  # messages of no step are not in the funnel
            session.add(
                Message(
                    direction="out",
                    enrollment_id=enrollment.id,
                    step=None,
                    lead_id=lead.id,
                    phone_id="01",
                    status="sent",
                    origin=origin,
                )
            )
        for uid in ("r1", "r2"):  # two replies to the last step count the lead once
            session.add(Message(direction="in", enrollment_id=enrollment.id, step=1,
                                message_uid=uid, lead_id=lead.id, text="Thanks!"))  # fmt: skip
    with database.engine.connect() as connection:
        (intro,) = campaign_status(connection, "intro")
    assert (intro.steps[0].replied, intro.steps[1].replied, intro.total.replied) == (0, 1, 1)
    assert sorted(intro.steps) == [0, 1] and intro.total.sent == 2
    assert intro.as_dict()["total"]["replied"] == 1


def test_failed_and_dead_lettered_enrollments_are_counted(database: Database) -> None:
    with database.session() as session:
        cid = campaign_id(session, "intro")
        leads = [Lead(phone=f"+4071200{i:04d}") for i in range(3)]
        session.add_all(leads)
        session.flush()
        for lead, (state, step_state) in zip(
            leads, [("failed", "sent"), ("active", "failed"), ("active", "due")], strict=True
        ):
            session.add(
                Enrollment(
                    lead_id=lead.id or 0,
                    campaign_id=cid,
                    sequence="intro",
                    state=state,
                    step=1,
                    step_state=step_state,
                )
            )
    with database.engine.connect() as connection:
        (intro,) = campaign_status(connection, "intro")
    assert (intro.failed, intro.dead_letters) == (1, 1)
    assert {k: intro.as_dict()[k] for k in ("failed", "dead_letters")} == {
        "failed": 1, "dead_letters": 1,
    }  # fmt: skip


def test_a_reply_before_any_send_was_recorded_counts_for_the_first_step(
    database: Database,
) -> None:
    """The first message was still in flight when the lead wrote: recorded after the reply."""
    with database.session() as session:
        cid = campaign_id(session, "intro")
        session.add(Phone(id="01", phone="+447700900001"))
        lead = Lead(phone="+40712000001")
        session.add(lead)
        session.flush()
        enrollment = Enrollment(
            lead_id=lead.id or 0,
            campaign_id=cid,
            sequence="intro",
            state="replied",
            step=0,
            step_state="sent",
            phone_id="01",
        )
        session.add(enrollment)
        session.flush()
        session.add(Message(direction="in", enrollment_id=enrollment.id, step=None,
                            in_flight_step=0, lead_id=lead.id, text="Hi?"))  # fmt: skip
        sent = Message(direction="out", enrollment_id=enrollment.id, step=0, lead_id=lead.id,
                       phone_id="01", status="sent", sent_at=NOW)  # fmt: skip
        session.add(sent)
    with database.engine.connect() as connection:
        (intro,) = campaign_status(connection, "intro")
    assert (intro.steps[0].sent, intro.steps[0].replied, intro.total.replied) == (1, 1, 1)


def test_a_lead_answering_two_steps_counts_for_each_step_and_once_in_all(
    database: Database,
) -> None:
    with database.session() as session:
        cid = campaign_id(session, "keep")
        session.add(Phone(id="01", phone="+447700900001"))
        lead = Lead(phone="+40712000001")
        session.add(lead)
        session.flush()
        enrollment = Enrollment(
            lead_id=lead.id or 0,
            campaign_id=cid,
            sequence="keep",
            state="completed",
            step=1,
            step_state="sent",
            phone_id="01",
        )
        session.add(enrollment)
        session.flush()
        for step in (0, 1):
            sent = Message(direction="out", enrollment_id=enrollment.id, step=step,
                           lead_id=lead.id, phone_id="01", status="read", sent_at=NOW)  # fmt: skip
            session.add(sent)
            session.add(Message(direction="in", enrollment_id=enrollment.id, step=step,
                                message_uid=f"r{step}", lead_id=lead.id, text="ok"))  # fmt: skip
    with database.engine.connect() as connection:
        (keep,) = campaign_status(connection, "keep")
    assert (keep.steps[0].replied, keep.steps[1].replied, keep.total.replied) == (1, 1, 1)
    assert keep.as_dict()["total"]["reply_rate"] == 0.5  # one lead, two messages sent


def test_two_campaigns_of_one_sequence_are_reported_apart(database: Database) -> None:
    with database.session() as session:
        spring = campaign_id(session, "spring", sequence="intro")
        autumn = campaign_id(session, "autumn", sequence="intro", state="paused")
        leads = [Lead(phone=f"+4071200{i:04d}") for i in range(3)]
        session.add_all(leads)
        session.flush()
        for lead, campaign in zip(leads, (spring, spring, autumn), strict=True):
            session.add(
                Enrollment(lead_id=lead.id or 0, campaign_id=campaign, sequence="intro", due_at=NOW)
            )
    with database.engine.connect() as connection:
        statuses = campaign_status(connection)
        assert [(s.name, s.sequence, s.state, s.enrolled) for s in statuses] == [
            ("autumn", "intro", "paused", 1),
            ("spring", "intro", "active", 2),
        ]
        (only,) = campaign_status(connection, "spring")
        assert (only.name, only.steps[0].waiting) == ("spring", 2)
        assert only.as_dict()["campaign"] == "spring"
        assert send_backlog(connection, autumn, NOW).first_messages == 1


def _sent(
    session: Session, campaign: str, phone_id: str, at: datetime, *, step: int | None = 0,
    direction: str = "out",
) -> None:  # fmt: skip
    """A lead of its own in ``campaign``, and one message of it at ``at``."""
    cid = campaign_id(session, campaign)
    if session.get(Phone, phone_id) is None:
        session.add(Phone(id=phone_id, phone=f"+4477009000{phone_id}"))
    leads = session.exec(select(func.count()).select_from(Lead)).one()
    lead = Lead(phone=f"+4071200{leads:04d}")
    session.add(lead)
    session.flush()
    enrollment = Enrollment(lead_id=lead.id or 0, campaign_id=cid, sequence=campaign)
    session.add(enrollment)
    session.flush()
    session.add(
        Message(direction=direction, enrollment_id=enrollment.id, step=step, lead_id=lead.id,
                phone_id=phone_id, status="sent" if direction == "out" else "received",
                sent_at=at)
    )  # fmt: skip


KOLKATA = ZoneInfo("Asia/Kolkata")  # UTC+05:30: local midnight is 18:30 UTC
JAN_5, JAN_6 = date(2026, 1, 5), date(2026, 1, 6)


def test_sends_per_day_split_by_phone_and_local_day(database: Database) -> None:
    def utc(day: int, hour: int, minute: int, second: int = 0) -> datetime:
        return datetime(2026, 1, day, hour, minute, second, tzinfo=UTC)

    with database.session() as session:
        _sent(session, "intro", "02", utc(4, 18, 29, 59))  # 4 Jan 23:59:59 local: before
        _sent(session, "intro", "02", utc(4, 18, 30))  # 5 Jan 00:00 local
        _sent(session, "intro", "01", utc(5, 18, 29, 59))  # 5 Jan 23:59:59 local
        _sent(session, "intro", "01", utc(5, 18, 30))  # 6 Jan 00:00 local
        _sent(session, "intro", "02", utc(6, 10, 0))
        _sent(session, "intro", "01", utc(6, 18, 30))  # 7 Jan 00:00 local: after
        _sent(session, "intro", "01", utc(6, 11, 0), step=1)  # a follow-up counts
        _sent(session, "other", "01", utc(6, 10, 0))  # another campaign
        _sent(session, "intro", "01", utc(6, 12, 0), direction="in", step=0)  # a reply
        _sent(session, "intro", "01", utc(6, 13, 0), step=None)  # an automatic answer
        intro = campaign_id(session, "intro")
    with database.engine.connect() as connection:

        def sends(campaign: int | None, first: date, last: date) -> dict[str, dict[date, int]]:
            return sends_per_day(
                connection, campaign_id=campaign, first_day=first, last_day=last, zone=KOLKATA
            )

        both = {"01": {JAN_5: 1, JAN_6: 2}, "02": {JAN_5: 1, JAN_6: 1}}
        assert sends(intro, JAN_5, JAN_6) == both
        # Every campaign: the other campaign's send on 6 January too.
        assert sends(None, JAN_5, JAN_6) == {**both, "01": {JAN_5: 1, JAN_6: 3}}
        assert sends(intro, JAN_6, JAN_6) == {"01": {JAN_6: 2}, "02": {JAN_6: 1}}
        assert sends(intro, JAN_6, JAN_5) == {}
        # Over every day, the campaign's sends are its status's ``sent``.
        every_day = sends(intro, date(2026, 1, 1), date(2026, 1, 31))
        (status,) = campaign_status(connection, "intro")
        assert sum(sum(days.values()) for days in every_day.values()) == status.total.sent == 7


@pytest.mark.parametrize(
    ("zone", "moment", "day"),
    [
        # Bucharest moves from UTC+2 to UTC+3 on 29 March 2026: that local day has 23 hours.
        ("Europe/Bucharest", datetime(2026, 3, 29, 20, 59, tzinfo=UTC), date(2026, 3, 29)),
        ("Europe/Bucharest", datetime(2026, 3, 29, 21, 0, tzinfo=UTC), date(2026, 3, 30)),
        ("Europe/Bucharest", datetime(2026, 3, 28, 22, 0, tzinfo=UTC), date(2026, 3, 29)),
        ("Asia/Kathmandu", datetime(2026, 1, 5, 18, 14, tzinfo=UTC), date(2026, 1, 5)),
        ("Asia/Kathmandu", datetime(2026, 1, 5, 18, 15, tzinfo=UTC), date(2026, 1, 6)),
        ("America/New_York", datetime(2026, 1, 6, 4, 59, tzinfo=UTC), date(2026, 1, 5)),
        ("America/New_York", datetime(2026, 1, 6, 5, 0, tzinfo=UTC), date(2026, 1, 6)),
    ],
)
def test_a_send_falls_on_its_local_day(
    database: Database, zone: str, moment: datetime, day: date
) -> None:
    with database.session() as session:
        _sent(session, "intro", "01", moment)
    with database.engine.connect() as connection:
        found = sends_per_day(
            connection,
            campaign_id=None,
            first_day=day - timedelta(days=1),
            last_day=day + timedelta(days=1),
            zone=ZoneInfo(zone),
        )
    assert found == {"01": {day: 1}}
