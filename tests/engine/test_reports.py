"""Campaign status figures and the forecast's backlog, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from engine.db import Database
from engine.models import Enrollment, Lead, Message, Phone
from engine.reports import campaign_status, send_backlog
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
