"""Launching, pausing, resuming and stopping campaigns, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert
from sqlmodel import select

from engine.db import Database
from engine.models import (
    Campaign,
    Enrollment,
    Lead,
    LeadTag,
    Message,
    Phone,
    StepState,
    Suppression,
)
from sequences import (
    CampaignError,
    Refusal,
    Selection,
    Sequence,
    SequenceSettings,
    StepSettings,
    WindowSettings,
    compile_sequences,
    complete_finished,
    create,
    launch,
    list_campaigns,
    pause,
    read_lead_list,
    resume,
    start_scheduled,
    stop,
)
from sequences.campaign_store import find_campaign
from tests.seed import campaign_id

NOW = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)  # a Saturday


def make_sequence(
    name: str = "intro", *, window: WindowSettings | None = None, template: str = "Hi {{name}}"
) -> Sequence:
    settings = SequenceSettings(
        timezone="lead",
        send_window=window,
        steps=(StepSettings(after="0m", template=template), StepSettings(after="2d", template="F")),
    )
    return compile_sequences({name: settings}, path="test")[name]


INTRO = make_sequence()


def add_leads(
    database: Database,
    count: int,
    *,
    tag: str | None = "jan",
    start: int = 0,
    variables: dict[str, str] | None = None,
    timezone: str | None = None,
) -> list[int]:
    ids = []
    with database.session() as session:
        for index in range(start, start + count):
            lead = Lead(
                phone=f"+4071200{index:04d}",
                variables={"name": f"L{index}"} if variables is None else variables,
                timezone=timezone,
            )
            session.add(lead)
            session.flush()
            assert lead.id is not None
            if tag is not None:
                session.add(LeadTag(lead_id=lead.id, tag=tag))
            ids.append(lead.id)
    return ids


def enrollments(database: Database, sequence: str | None = None) -> list[Enrollment]:
    with database.session() as session:
        query = select(Enrollment).order_by(Enrollment.lead_id)  # type: ignore[arg-type]
        if sequence is not None:
            query = query.where(Enrollment.sequence == sequence)
        return list(session.exec(query))


def campaign_state(database: Database, name: str = "intro") -> str | None:
    with database.session() as session:
        campaign = session.exec(select(Campaign).where(Campaign.name == name)).first()
        return None if campaign is None else campaign.state


def test_launch_enrolls_each_tagged_lead_once_due_now(database: Database) -> None:
    ids = add_leads(database, 5)
    add_leads(database, 2, tag="other", start=100)
    report = launch(database, INTRO, now=NOW, fallback_zone="UTC", tag="jan")
    assert (report.selected, report.enrolled, sum(report.refused.values())) == (5, 5, 0)
    assert report.first_due == NOW
    rows = enrollments(database)
    assert [row.lead_id for row in rows] == ids
    assert {(r.state, r.step, r.step_state, r.due_at, r.phone_id) for r in rows} == {
        ("pending", 0, "due", NOW, None)
    }
    assert campaign_state(database) == "active"


def test_relaunch_refuses_everyone_already_enrolled_and_writes_no_duplicate(
    database: Database,
) -> None:
    add_leads(database, 4)
    launch(database, INTRO, now=NOW, fallback_zone="UTC", tag="jan")
    add_leads(database, 2, start=50)
    report = launch(database, INTRO, now=NOW + timedelta(hours=1), fallback_zone="UTC", tag="jan")
    assert report.enrolled == 2
    assert report.refused[Refusal.ALREADY_ENROLLED] == 4
    assert len(enrollments(database)) == 6


def test_every_refusal_is_counted_once_under_its_first_reason(database: Database) -> None:
    clean, suppressed, replied, opted_out, wrote_in, running, done, lacking = add_leads(database, 8)
    with database.session() as session:
        session.add(Suppression(phone="+40712000001", reason="opt-out"))
        old, other, old2 = (campaign_id(session, name) for name in ("old", "other", "old2"))
        for lead_id, state in ((replied, "replied"), (opted_out, "opted_out"), (done, "stopped")):
            session.add(Enrollment(lead_id=lead_id, campaign_id=old, sequence="old", state=state))
        session.add(
            Enrollment(lead_id=running, campaign_id=other, sequence="other", state="active", step=1)
        )
        session.add(Message(direction="in", lead_id=wrote_in, text="who is this?"))
        # Suppressed and replied before: counted once, as suppressed (the first reason).
        session.add(
            Enrollment(lead_id=suppressed, campaign_id=old2, sequence="old2", state="replied")
        )
        session.get(Lead, lacking).variables = {"name": "  "}  # type: ignore[union-attr]
    report = launch(database, INTRO, now=NOW, fallback_zone="UTC", tag="jan")
    assert report.selected == 8
    assert report.enrolled == 2  # clean, and done (a stopped journey is no refusal)
    assert dict(report.refused) == {
        Refusal.SUPPRESSED: 1,
        Refusal.ANSWERED_BEFORE: 3,
        Refusal.ALREADY_ENROLLED: 0,
        Refusal.ACTIVE_ELSEWHERE: 1,
        Refusal.SEQUENCE_BEFORE: 0,
        Refusal.MISSING_VARIABLES: 1,
    }
    assert report.missing_variables == {"name": 1}
    assert {e.lead_id for e in enrollments(database, "intro")} == {clean, done}


def test_dry_run_writes_nothing_and_reports_what_a_launch_would(database: Database) -> None:
    add_leads(database, 6)
    with database.session() as session:
        session.add(Suppression(phone="+40712000002", reason="opt-out"))
    dry = launch(database, INTRO, now=NOW, fallback_zone="UTC", tag="jan", dry_run=True)
    assert dry.dry_run
    assert enrollments(database) == []
    assert campaign_state(database) is None
    real = launch(database, INTRO, now=NOW, fallback_zone="UTC", tag="jan")
    assert (dry.selected, dry.enrolled, dict(dry.refused)) == (
        real.selected,
        real.enrolled,
        dict(real.refused),
    )
    assert real.enrolled == 5


def test_limit_enrolls_the_oldest_and_counts_the_rest(database: Database) -> None:
    ids = add_leads(database, 10)
    report = launch(database, INTRO, now=NOW, fallback_zone="UTC", tag="jan", limit=3)
    assert (report.enrolled, report.over_limit) == (3, 7)
    assert [e.lead_id for e in enrollments(database)] == ids[:3]
    again = launch(database, INTRO, now=NOW, fallback_zone="UTC", tag="jan", limit=100)
    assert (again.enrolled, again.refused[Refusal.ALREADY_ENROLLED], again.over_limit) == (7, 3, 0)


def test_no_tag_means_every_lead(database: Database) -> None:
    add_leads(database, 2)
    add_leads(database, 3, tag=None, start=10)
    assert launch(database, INTRO, now=NOW, fallback_zone="UTC").enrolled == 5


def test_lead_file_selects_its_numbers_in_file_order(database: Database, tmp_path: Path) -> None:
    ids = add_leads(database, 5, tag=None)
    csv_file = tmp_path / "pick.csv"
    # National numbers read in RO, a duplicate, an invalid row and a number never imported.
    csv_file.write_text(
        "Phone,name\n0712 000 004,x\n+40712000001,y\n0712000004,dup\nnope,z\n+40712009999,q\n"
    )
    lead_list = read_lead_list(csv_file, "ro")
    assert lead_list.phones == ("+40712000004", "+40712000001", "+40712009999")
    report = launch(database, INTRO, now=NOW, fallback_zone="UTC", lead_list=lead_list, limit=1)
    assert (report.selected, report.enrolled, report.over_limit) == (2, 1, 1)
    assert (report.not_found, report.invalid_rows) == (1, 1)
    assert [e.lead_id for e in enrollments(database)] == [ids[4]]


def test_first_due_follows_the_window_on_each_leads_clock(database: Database) -> None:
    windowed = make_sequence(window=WindowSettings(days="mon-fri", start="09:00", end="17:00"))
    bucharest = add_leads(database, 1, timezone="Europe/Bucharest")[0]
    new_york = add_leads(database, 1, start=1, timezone="America/New_York")[0]
    by_number = add_leads(database, 1, start=2)[0]  # +40: Romania, by its number
    report = launch(database, windowed, now=NOW, fallback_zone="UTC", tag="jan")
    due = {e.lead_id: e.due_at for e in enrollments(database)}
    monday_9_bucharest = datetime(2026, 1, 12, 7, 0, tzinfo=UTC)
    assert due == {
        bucharest: monday_9_bucharest,
        new_york: datetime(2026, 1, 12, 14, 0, tzinfo=UTC),
        by_number: monday_9_bucharest,
    }
    assert report.first_due == monday_9_bucharest


def test_an_empty_selection_or_two_selections_are_refused(
    database: Database, tmp_path: Path
) -> None:
    add_leads(database, 1)
    with pytest.raises(CampaignError, match="no lead is tagged 'nobody'"):
        launch(database, INTRO, now=NOW, fallback_zone="UTC", tag="nobody")
    csv_file = tmp_path / "x.csv"
    csv_file.write_text("phone\n+40712009999\n")
    lead_list = read_lead_list(csv_file, None)
    with pytest.raises(CampaignError, match="is an imported lead"):
        launch(database, INTRO, now=NOW, fallback_zone="UTC", lead_list=lead_list)
    csv_file.write_text("phone\nnope\n")
    with pytest.raises(CampaignError, match="has no valid number \\(1 invalid rows\\)"):
        launch(
            database, INTRO, now=NOW, fallback_zone="UTC", lead_list=read_lead_list(csv_file, None)
        )
    with pytest.raises(CampaignError, match="not both"):
        launch(database, INTRO, now=NOW, fallback_zone="UTC", tag="jan", lead_list=lead_list)
    assert campaign_state(database) is None


def set_steps(database: Database, steps: list[tuple[int, str, str | None]]) -> None:
    """Give the intro enrollments, in lead order, (step, step_state, phone_id)."""
    with database.session() as session:
        rows = session.exec(
            select(Enrollment).where(Enrollment.sequence == "intro").order_by(Enrollment.lead_id)  # type: ignore[arg-type]
        ).all()
        for row, (step, step_state, phone_id) in zip(rows, steps, strict=True):
            row.step, row.step_state, row.phone_id = step, step_state, phone_id
            row.state = "active" if step > 0 else "pending"
            row.queued_at = NOW if step_state == StepState.QUEUED else None
            session.add(row)


def add_phone(database: Database) -> None:
    with database.session() as session:
        session.add(Phone(id="01", phone="+447700900001"))


def test_pause_takes_queued_steps_back_and_resume_carries_on(database: Database) -> None:
    add_phone(database)
    add_leads(database, 4)
    launch(database, INTRO, now=NOW, fallback_zone="UTC", tag="jan")
    other = make_sequence("other")
    add_leads(database, 1, tag="x", start=20)
    launch(database, other, now=NOW, fallback_zone="UTC", tag="x")
    set_steps(
        database, [(0, "queued", "01"), (1, "queued", "01"), (1, "sending", "01"), (0, "due", None)]
    )
    with database.session() as session:
        other_row = session.exec(select(Enrollment).where(Enrollment.sequence == "other")).one()
        other_row.step_state, other_row.phone_id = "queued", "01"
        session.add(other_row)

    change = pause(database, "intro", now=NOW)
    assert (change.previous, change.state, change.enrollments) == ("active", "paused", 2)
    assert campaign_state(database) == "paused"
    assert [(e.step, e.step_state, e.phone_id) for e in enrollments(database, "intro")] == [
        (0, "due", None),  # a first message may go out from any phone later
        (1, "due", "01"),  # a follow-up stays with the phone its chat is on
        (1, "sending", "01"),  # already under way: it finishes
        (0, "due", None),
    ]
    assert enrollments(database, "other")[0].step_state == "queued"
    assert pause(database, "intro", now=NOW).changed is False

    change = resume(database, "intro", now=NOW)
    assert (change.previous, change.state) == ("paused", "active")
    assert campaign_state(database) == "active"


def test_stop_ends_running_enrollments_and_keeps_ended_ones(database: Database) -> None:
    add_phone(database)
    add_leads(database, 3)
    launch(database, INTRO, now=NOW, fallback_zone="UTC", tag="jan")
    set_steps(database, [(1, "due", "01"), (0, "queued", "01"), (0, "due", None)])
    with database.session() as session:
        first = session.exec(select(Enrollment).order_by(Enrollment.lead_id)).first()  # type: ignore[arg-type]
        assert first is not None
        first.state, first.end_reason = "replied", "replied"
        session.add(first)
    later = NOW + timedelta(hours=2)
    change = stop(database, "intro", now=later)
    assert (change.state, change.enrollments) == ("stopped", 2)
    # Out of the phone's queue count, so other campaigns get the phone's room at once.
    assert [e.step_state for e in enrollments(database)] == ["due", "due", "due"]
    assert [(e.state, e.end_reason) for e in enrollments(database)] == [
        ("replied", "replied"),
        ("stopped", "stopped_by_operator"),
        ("stopped", "stopped_by_operator"),
    ]
    assert {e.ended_at for e in enrollments(database)[1:]} == {later}
    with pytest.raises(CampaignError, match="is stopped"):
        resume(database, "intro", now=later)
    with pytest.raises(CampaignError, match="is stopped"):
        pause(database, "intro", now=later)
    # Launching again makes it active, for leads never in it.
    add_leads(database, 1, start=10)
    report = launch(database, INTRO, now=later, fallback_zone="UTC", tag="jan")
    assert (report.enrolled, report.campaign_was) == (1, "stopped")
    assert campaign_state(database) == "active"


def test_unknown_campaign_says_how_to_start_one(database: Database) -> None:
    for change in (pause, resume, stop):
        with pytest.raises(CampaignError, match="outreach campaign launch nope"):
            change(database, "nope", now=NOW)


def test_bulk_enrollment_skips_leads_a_concurrent_launch_took(database: Database) -> None:
    from sequences.launch_store import insert_enrollments

    first, second, third = add_leads(database, 3)
    with database.session() as session:
        intro, other = campaign_id(session, "intro"), campaign_id(session, "other")
        # In this campaign earlier, and running elsewhere.
        session.add(Enrollment(lead_id=second, campaign_id=intro, sequence="intro"))
        session.add(Enrollment(lead_id=third, campaign_id=other, sequence="other"))
    with database.engine.begin() as connection:
        rows = [(first, NOW), (second, NOW), (third, NOW)]
        assert insert_enrollments(connection, intro, "intro", rows, NOW) == 1
    assert [(e.lead_id, e.sequence) for e in enrollments(database)] == [
        (first, "intro"),
        (second, "intro"),
        (third, "other"),
    ]


def _end_all(database: Database, state: str = "completed") -> None:
    with database.session() as session:
        for row in session.exec(select(Enrollment)):
            row.state = state
            session.add(row)


def test_a_campaign_whose_enrollments_all_ended_becomes_completed(database: Database) -> None:
    add_leads(database, 2)
    launch(database, INTRO, now=NOW, fallback_zone="UTC", tag="jan")
    with database.engine.begin() as connection:
        assert complete_finished(connection, NOW) == []  # still running
    with database.session() as session:
        campaign_id(session, "empty")  # every lead refused: nothing to finish
    _end_all(database)
    with database.engine.begin() as connection:
        assert complete_finished(connection, NOW) == ["intro"]
        assert complete_finished(connection, NOW) == []  # once
    assert (campaign_state(database), campaign_state(database, "empty")) == ("completed", "active")
    with pytest.raises(CampaignError, match="is completed"):
        pause(database, "intro", now=NOW)
    with pytest.raises(CampaignError, match="is completed"):
        resume(database, "intro", now=NOW)
    add_leads(database, 1, start=10)  # launching again makes it active
    report = launch(database, INTRO, now=NOW, fallback_zone="UTC", tag="jan")
    assert (report.enrolled, report.campaign_was) == (1, "completed")
    assert campaign_state(database) == "active"


def test_a_paused_or_stopped_campaign_is_not_marked_completed(database: Database) -> None:
    add_leads(database, 1)
    launch(database, INTRO, now=NOW, fallback_zone="UTC", tag="jan")
    pause(database, "intro", now=NOW)
    _end_all(database, "replied")
    with database.engine.begin() as connection:
        assert complete_finished(connection, NOW) == []
    assert campaign_state(database) == "paused"


def test_a_launch_under_way_keeps_its_campaign_from_being_completed(
    pg_database: Database,
) -> None:
    """The dispatcher's check waits for a launch that holds the campaign's row, then sees
    its new enrollments (it used to read them from before the launch, and completed it)."""
    add_leads(pg_database, 2)
    launch(pg_database, INTRO, now=NOW, fallback_zone="UTC", tag="jan")
    _end_all(pg_database)
    [newcomer] = add_leads(pg_database, 1, start=10, tag=None)
    completed: list[list[str]] = []
    with pg_database.engine.connect() as launching:
        with launching.begin():
            found = find_campaign(launching, "intro", lock=True)  # what a launch does first
            assert found is not None
            checker = threading.Thread(
                target=lambda: completed.append(_complete(pg_database)), daemon=True
            )
            checker.start()
            checker.join(0.5)
            assert checker.is_alive()  # waiting for the launch's row
            launching.execute(
                insert(Enrollment).values(
                    lead_id=newcomer, campaign_id=found.id, sequence="intro", due_at=NOW
                )
            )
        checker.join(10)
    assert completed == [[]]
    assert campaign_state(pg_database) == "active"


def _complete(database: Database) -> list[str]:
    with database.engine.begin() as connection:
        return complete_finished(connection, NOW)


def campaign_row(database: Database, name: str) -> Campaign:
    with database.session() as session:
        return session.exec(select(Campaign).where(Campaign.name == name)).one()


def test_two_named_campaigns_run_one_sequence_for_different_leads(database: Database) -> None:
    jan = add_leads(database, 2)
    feb = add_leads(database, 2, tag="feb", start=10)
    spring = launch(database, INTRO, now=NOW, fallback_zone="UTC", name="spring", tag="jan")
    autumn = launch(
        database, INTRO, now=NOW, fallback_zone="UTC", name="autumn", tag="feb", phone_ids=("01",)
    )
    assert (spring.name, spring.enrolled, autumn.name, autumn.enrolled) == (
        "spring", 2, "autumn", 2,
    )  # fmt: skip
    ids = {name: campaign_row(database, name).id for name in ("spring", "autumn")}
    by_campaign = {e.lead_id: e.campaign_id for e in enrollments(database, "intro")}
    assert by_campaign == {**dict.fromkeys(jan, ids["spring"]), **dict.fromkeys(feb, ids["autumn"])}
    row = campaign_row(database, "autumn")
    assert (row.sequence, row.tag, row.phone_ids, row.state) == ("intro", "feb", "01", "active")
    with database.engine.connect() as connection:
        listed = list_campaigns(connection)
    assert [(c.name, c.selection.phone_ids) for c in listed] == [
        ("autumn", ("01",)), ("spring", None),
    ]  # fmt: skip
    assert campaign_state(database, "intro") is None  # no campaign is named after the sequence
    # A lead that had the sequence in one campaign is not sent it again by another.
    _end_all(database)
    again = launch(database, INTRO, now=NOW, fallback_zone="UTC", name="winter", tag="jan")
    assert (again.enrolled, again.refused[Refusal.SEQUENCE_BEFORE]) == (0, 2)


def test_a_campaign_keeps_its_sequence(database: Database) -> None:
    add_leads(database, 1)
    launch(database, INTRO, now=NOW, fallback_zone="UTC", name="spring")
    other = make_sequence("other")
    with pytest.raises(CampaignError, match="runs sequence 'intro', not 'other'"):
        launch(database, other, now=NOW, fallback_zone="UTC", name="spring")


def test_a_later_start_schedules_the_campaign_and_its_first_steps(database: Database) -> None:
    add_leads(database, 2)
    start = NOW + timedelta(days=2, hours=3)
    report = launch(database, INTRO, now=NOW, fallback_zone="UTC", starts_at=start)
    assert (report.state, report.first_due, report.starts_at) == ("scheduled", start, start)
    assert {e.due_at for e in enrollments(database)} == {start}
    assert campaign_row(database, "intro").starts_at == start
    # Windows apply from the start: a Monday 09:00-17:00 window opens on the start's day.
    windowed = make_sequence("win", window=WindowSettings(days="mon-fri", start="09:00"))
    add_leads(database, 1, tag="w", start=20, timezone="UTC")
    saturday_evening = datetime(2026, 1, 10, 20, 0, tzinfo=UTC)
    early = launch(
        database, windowed, now=NOW, fallback_zone="UTC", tag="w", starts_at=saturday_evening
    )
    assert early.first_due == datetime(2026, 1, 12, 9, 0, tzinfo=UTC)
    with database.engine.begin() as connection:
        assert start_scheduled(connection, saturday_evening - timedelta(seconds=1)) == []
        assert start_scheduled(connection, start - timedelta(seconds=1)) == ["win"]
        assert start_scheduled(connection, start) == ["intro"]
    assert campaign_state(database) == "active"


def test_a_draft_enrolls_nobody_until_it_is_launched(database: Database) -> None:
    add_leads(database, 2)
    start = NOW + timedelta(hours=1)
    draft = create(
        database, "spring", "intro", Selection(tag="jan", phone_ids=("02",), starts_at=start),
        now=NOW,
    )  # fmt: skip
    assert (draft.state, draft.selection.tag, draft.selection.phone_ids) == (
        "draft", "jan", ("02",),
    )  # fmt: skip
    assert enrollments(database) == []
    with pytest.raises(CampaignError, match="is draft; there is nothing to pause"):
        pause(database, "spring", now=NOW)
    report = launch(
        database, INTRO, now=NOW, fallback_zone="UTC", name="spring", tag="jan",
        phone_ids=("02",), starts_at=start,
    )  # fmt: skip
    assert (report.campaign_was, report.state, report.enrolled) == ("draft", "scheduled", 2)
    with pytest.raises(CampaignError, match="it was launched already"):
        create(database, "spring", "intro", Selection(), now=NOW)
    with pytest.raises(CampaignError, match="runs sequence 'intro'"):
        create(database, "spring", "other", Selection(), now=NOW)


def test_narrowing_the_phones_takes_back_first_messages_queued_elsewhere(
    database: Database,
) -> None:
    add_phone(database)
    with database.session() as session:
        session.add(Phone(id="02", phone="+447700900002"))
    add_leads(database, 3)
    launch(database, INTRO, now=NOW, fallback_zone="UTC", tag="jan")
    set_steps(database, [(0, "queued", "01"), (0, "queued", "02"), (1, "queued", "02")])
    add_leads(database, 1, start=10)
    launch(database, INTRO, now=NOW, fallback_zone="UTC", tag="jan", phone_ids=("01",))
    assert [(e.step, e.step_state, e.phone_id) for e in enrollments(database)][:3] == [
        (0, "queued", "01"),
        (0, "due", None),  # not sent yet: it goes out from phone 01 later
        (1, "queued", "02"),  # a follow-up stays where its chat is
    ]


def test_stop_ends_the_enrollments_a_colleagues_reply_paused(database: Database) -> None:
    add_phone(database)
    add_leads(database, 2)
    launch(database, INTRO, now=NOW, fallback_zone="UTC", tag="jan")
    with database.session() as session:
        first = session.exec(select(Enrollment).order_by(Enrollment.lead_id)).first()  # type: ignore[arg-type]
        assert first is not None
        first.state, first.end_reason = "paused", "company_replied"
        session.add(first)
    change = stop(database, "intro", now=NOW)
    assert change.enrollments == 2
    assert [(e.state, e.end_reason) for e in enrollments(database)] == [
        ("stopped", "stopped_by_operator"),
        ("stopped", "stopped_by_operator"),
    ]


def test_a_lead_a_colleagues_reply_paused_is_not_enrolled_elsewhere(database: Database) -> None:
    clean, paused = add_leads(database, 2)
    with database.session() as session:
        other = campaign_id(session, "other")
        session.add(Enrollment(
            lead_id=paused, campaign_id=other, sequence="other", state="paused", step=1,
            end_reason="company_replied",
        ))  # fmt: skip
    report = launch(database, INTRO, now=NOW, fallback_zone="UTC", tag="jan")
    assert (report.enrolled, report.refused[Refusal.ACTIVE_ELSEWHERE]) == (1, 1)
    assert {e.lead_id for e in enrollments(database, "intro")} == {clean}
