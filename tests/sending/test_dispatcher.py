"""The dispatcher on both databases: short queues, quotas, windows, lost work, racing passes."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from engine.db import Database
from engine.dispatcher import Dispatcher
from engine.models import Campaign, Enrollment, Lead, Message, QuotaUsage, StepState
from engine.settings import Settings, load_settings
from phones import sync_phones
from sequences import compiled_sequences
from tests.seed import campaign_id
from tests.sending.conftest import CONFIG

NOW = datetime(2026, 1, 13, 10, 0, tzinfo=UTC)  # a Tuesday


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, int, int, int]] = []
        self.lock = threading.Lock()

    def __call__(self, queue: str, enrollment_id: int, step: int, dispatch: int) -> None:
        with self.lock:
            self.sent.append((queue, enrollment_id, step, dispatch))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.replace("jitter_min_s = 30", "jitter_min_s = 60"))
    return load_settings(path)


def make(settings: Settings, database: Database) -> tuple[Dispatcher, Recorder]:
    with database.session() as session:
        sync_phones(session, settings.phones)
    recorder = Recorder()
    return Dispatcher(settings, compiled_sequences(settings), database, recorder), recorder


def enroll(
    database: Database, count: int, *, sequence: str = "intro", start: int = 0,
    campaign: str | None = None, phone_ids: str | None = None, due_before_s: float = 60,
    state: str = "active", starts_at: datetime | None = None,
) -> list[int]:  # fmt: skip
    ids = []
    with database.session() as session:
        cid = campaign_id(
            session, campaign or sequence, sequence=sequence, phone_ids=phone_ids, state=state,
            starts_at=starts_at,
        )  # fmt: skip
        for index in range(start, start + count):
            lead = Lead(phone=f"+4071200{index:04d}", variables={"name": f"L{index}"})
            session.add(lead)
            session.flush()
            assert lead.id is not None
            enrollment = Enrollment(
                lead_id=lead.id,
                campaign_id=cid,
                sequence=sequence,
                due_at=NOW - timedelta(seconds=due_before_s),
            )
            session.add(enrollment)
            session.flush()
            assert enrollment.id is not None
            ids.append(enrollment.id)
    return ids


def states(database: Database) -> list[tuple[str, str | None]]:
    with database.session() as session:
        return [(e.step_state, e.phone_id) for e in session.exec(select(Enrollment))]


def test_first_messages_spread_over_phones_within_quota(
    settings: Settings, database: Database
) -> None:
    dispatcher, recorder = make(settings, database)
    enroll(database, 10)
    report = dispatcher.run_once(NOW)
    # Quota 3 a day on each of 2 phones: 6 go to queues, the rest wait in the database.
    assert report.first_messages == 6
    queues = sorted(q for q, *_ in recorder.sent)
    assert queues == ["phone_01"] * 3 + ["phone_02"] * 3
    assert sorted(states(database)).count(("due", None)) == 4
    # A second pass adds nothing: the quota is spoken for by what is queued.
    assert dispatcher.run_once(NOW).first_messages == 0


def test_queues_hold_only_what_a_phone_can_send_soon(
    settings: Settings, database: Database
) -> None:
    from dataclasses import replace

    roomy = replace(
        settings,
        quota=replace(settings.quota, new_contacts_per_day=100),
        scheduler=replace(settings.scheduler, queue_ahead_s=240),
    )
    dispatcher, _recorder = make(roomy, database)
    enroll(database, 50)
    assert dispatcher.capacity_per_phone() == 4  # 240 s at one send per 60 s
    assert dispatcher.run_once(NOW).first_messages == 8


def test_used_quota_today_counts(settings: Settings, database: Database) -> None:
    dispatcher, recorder = make(settings, database)
    with database.session() as session:
        session.add(QuotaUsage(phone_id="01", day=date(2026, 1, 13), used=3))
        session.add(QuotaUsage(phone_id="02", day=date(2026, 1, 12), used=3))  # yesterday
    enroll(database, 10)
    dispatcher.run_once(NOW)
    assert {q for q, *_ in recorder.sent} == {"phone_02"}


def test_a_phone_whose_hour_is_full_gets_no_first_message(
    settings: Settings, database: Database
) -> None:
    from dataclasses import replace

    capped = replace(settings, quota=replace(settings.quota, new_contacts_per_hour=2))
    dispatcher, recorder = make(capped, database)
    with database.session() as session:
        # Phone 01 started two conversations in the last hour; phone 02 one, and one
        # just over an hour ago, which no longer counts.
        for phone_id, minutes in (("01", 50), ("01", 5), ("02", 30), ("02", 61)):
            session.add(
                Message(
                    direction="out", step=0, phone_id=phone_id, status="sent",
                    sent_at=NOW - timedelta(minutes=minutes),
                )
            )  # fmt: skip
    enroll(database, 10)
    assert dispatcher.run_once(NOW).first_messages == 1
    assert [q for q, *_ in recorder.sent] == ["phone_02"]


def test_follow_ups_go_to_their_own_phone_queue(settings: Settings, database: Database) -> None:
    dispatcher, recorder = make(settings, database)
    [eid] = enroll(database, 1)
    with database.session() as session:
        row = session.get(Enrollment, eid)
        assert row is not None
        row.state, row.step, row.phone_id = "active", 1, "02"
        session.add(row)
    report = dispatcher.run_once(NOW)
    assert report.followups == 1
    assert recorder.sent[0][:3] == ("phone_02_followup", eid, 1)


def test_paused_campaigns_and_inactive_phones_are_skipped(
    settings: Settings, database: Database
) -> None:
    dispatcher, recorder = make(settings, database)
    enroll(database, 2)
    with database.session() as session:
        campaign = session.exec(select(Campaign).where(Campaign.name == "intro")).first()
        assert campaign is not None
        campaign.state = "paused"
        session.add(campaign)
    assert dispatcher.run_once(NOW).first_messages == 0
    assert recorder.sent == []


def test_steps_due_outside_the_window_wait_for_its_opening(
    settings: Settings, database: Database
) -> None:
    dispatcher, recorder = make(settings, database)
    enroll(database, 2, sequence="windowed")
    saturday = datetime(2026, 1, 17, 12, 0, tzinfo=UTC)
    report = dispatcher.run_once(saturday)
    assert report.deferred_to_window == 2
    assert recorder.sent == []
    with database.session() as session:
        dues = {e.due_at for e in session.exec(select(Enrollment))}
    assert dues == {datetime(2026, 1, 19, 9, 0, tzinfo=UTC)}


def test_lost_queued_steps_are_dispatched_again(settings: Settings, database: Database) -> None:
    dispatcher, recorder = make(settings, database)
    enroll(database, 2)
    dispatcher.run_once(NOW)
    first_round = {eid for _, eid, *_ in recorder.sent}
    later = NOW + timedelta(seconds=settings.scheduler.requeue_after_s + 1)
    report = dispatcher.run_once(later)
    assert report.requeued_lost == 2
    second = recorder.sent[2:]
    assert {eid for _, eid, *_ in second} == first_round
    assert all(dispatch != recorder.sent[0][3] for *_, dispatch in second)  # a new dispatch id


def test_two_dispatchers_never_dispatch_a_step_twice(
    settings: Settings, pg_database: Database
) -> None:
    from dataclasses import replace

    roomy = replace(
        settings,
        quota=replace(settings.quota, new_contacts_per_day=500, new_contacts_per_hour=0),
        scheduler=replace(settings.scheduler, max_queued_per_phone=500, queue_ahead_s=10**6),
        pacing=replace(settings.pacing, jitter_min_s=1),
    )
    first, recorder = make(roomy, pg_database)
    second = Dispatcher(roomy, compiled_sequences(roomy), pg_database, recorder)
    enroll(pg_database, 400)
    barrier = threading.Barrier(2)

    def run(dispatcher: Dispatcher) -> None:
        barrier.wait()
        for _ in range(3):
            dispatcher.run_once(NOW)

    threads = [threading.Thread(target=run, args=(d,)) for d in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [eid for _, eid, *_ in recorder.sent]
    assert len(ids) == len(set(ids)) == 400
    assert all(state == StepState.QUEUED for state, _ in states(pg_database))


def test_a_claim_never_takes_a_step_other_than_the_one_read(
    settings: Settings, database: Database
) -> None:
    from engine.storage.dispatch import Candidate, DispatchStore

    make(settings, database)
    [eid] = enroll(database, 1)
    read = Candidate(eid, 0, "intro", None, "+40712000000", None)  # what the pass read
    with database.session() as session:  # meanwhile: sent by phone 01, the follow-up now due
        enrollment = session.get(Enrollment, eid)
        assert enrollment is not None
        enrollment.step, enrollment.phone_id = 1, "01"
        session.add(enrollment)
    with database.engine.begin() as connection:
        assert DispatchStore(connection).claim(NOW, "02", [read]) == []
    assert states(database) == [("due", "01")]  # still due, still on the chat's phone


def test_contacted_leads_of_a_phone_banned_too_long_end_failed(
    settings: Settings, database: Database
) -> None:
    dispatcher, _ = make(settings, database)
    active, fresh = enroll(database, 2)
    with database.session() as session:
        from engine.models import Phone

        for eid, phone_id in ((active, "01"), (fresh, "02")):
            row = session.get(Enrollment, eid)
            assert row is not None
            row.state, row.step, row.phone_id = "active", 1, phone_id
            session.add(row)
        for phone_id, days in (("01", 8), ("02", 1)):
            phone = session.get(Phone, phone_id)
            assert phone is not None
            phone.state, phone.state_changed_at = "banned", NOW - timedelta(days=days)
            session.add(phone)
    report = dispatcher.run_once(NOW)
    assert report.failed_stranded == 1
    with database.session() as session:
        ended = session.get(Enrollment, active)
        waiting = session.get(Enrollment, fresh)
    assert ended is not None
    assert waiting is not None
    assert (ended.state, ended.end_reason) == ("failed", "phone_banned")
    assert waiting.state == "active"  # banned for a day only: it may come back


@pytest.mark.parametrize(
    ("state", "days", "ended"),
    [
        ("offline", 3.1, ("failed", "phone_offline")),  # past the 3 days' grace
        ("offline", 2.9, ("active", None)),  # it may come back yet
        ("banned", 7.1, ("failed", "phone_banned")),
        ("paused", 30, ("active", None)),  # a person holds it: the leads wait for them
    ],
)
def test_contacted_leads_of_a_phone_offline_too_long_end_failed_like_a_banned_ones(
    settings: Settings, database: Database, state: str, days: float,
    ended: tuple[str, str | None],
) -> None:  # fmt: skip
    """TimelinesAI reports a ban as merely disconnected: an offline phone's contacted leads
    cannot wait for ever either. Not yet contacted ones are never stranded."""
    from engine.models import Phone

    dispatcher, _ = make(settings, database)
    contacted, fresh = enroll(database, 2)
    with database.session() as session:
        row = session.get(Enrollment, contacted)
        assert row is not None
        row.state, row.step, row.phone_id = "active", 1, "01"
        session.add(row)
        phone = session.get(Phone, "01")
        assert phone is not None
        phone.state, phone.state_changed_at = state, NOW - timedelta(days=days)
        session.add(phone)
    report = dispatcher.run_once(NOW)
    with database.session() as session:
        stranded = session.get(Enrollment, contacted)
        waiting = session.get(Enrollment, fresh)
    assert stranded is not None and waiting is not None
    assert (stranded.state, stranded.end_reason) == ended
    assert report.failed_stranded == (ended[0] == "failed")
    assert waiting.state == "pending"  # its first message goes out from phone 02


def test_ended_enrollments_hold_no_queue_room(settings: Settings, database: Database) -> None:
    """An enrollment that ended while queued (a reply, a stop) frees its phone's slot."""
    dispatcher, _ = make(settings, database)
    ids = enroll(database, 6)
    dispatcher.run_once(NOW)
    with database.session() as session:
        for eid in ids[:3]:  # three of the queued leads reply
            row = session.get(Enrollment, eid)
            assert row is not None
            if row.step_state == StepState.QUEUED:
                row.state = "replied"
                session.add(row)
    later = NOW + timedelta(seconds=settings.scheduler.requeue_after_s + 1)
    report = dispatcher.run_once(later)
    assert report.requeued_lost == 3  # only the running ones are recovered
    with database.session() as session:
        replied = [session.get(Enrollment, eid) for eid in ids[:3]]
    assert all(row is not None and row.step_state == "queued" for row in replied)


def test_the_loop_outlives_a_database_outage(caplog: pytest.LogCaptureFixture) -> None:
    from sqlalchemy.exc import OperationalError

    from engine.clock import FakeClock
    from engine.dispatcher import dispatch_forever

    stop = threading.Event()
    passes: list[str] = []

    class Flaky:
        def run_once(self, now: datetime) -> None:
            passes.append("try")
            if len(passes) == 1:
                raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))
            if len(passes) == 3:
                stop.set()

    dispatch_forever(Flaky(), FakeClock(NOW), stop, 0.01)  # type: ignore[arg-type]
    assert len(passes) == 3  # it kept going after the failed pass
    assert "dispatcher pass failed" in caplog.text


def test_a_pass_completes_a_campaign_whose_leads_all_ended(
    settings: Settings, database: Database
) -> None:
    dispatcher, _ = make(settings, database)
    enroll(database, 2)
    assert dispatcher.run_once(NOW).completed_campaigns == []
    with database.session() as session:
        for row in session.exec(select(Enrollment)):
            row.state = "replied"
            session.add(row)
    assert dispatcher.run_once(NOW).completed_campaigns == ["intro"]
    with database.session() as session:
        campaign = session.exec(select(Campaign).where(Campaign.name == "intro")).first()
        assert campaign is not None and campaign.state == "completed"


def test_a_campaign_limited_to_some_phones_starts_conversations_only_from_them(
    settings: Settings, database: Database
) -> None:
    """Its older backlog neither goes out from another phone nor holds the pool back."""
    dispatcher, recorder = make(settings, database)
    limited = enroll(database, 5, campaign="only01", phone_ids="01", due_before_s=3600)
    anyone = enroll(database, 5, start=10)
    report = dispatcher.run_once(NOW)
    # Quota 3 a day on each phone: 3 of the limited campaign on 01, 3 of the other on 02.
    assert report.first_messages == 6
    queued = {eid: queue for queue, eid, _, _ in recorder.sent}
    assert {queued[eid] for eid in limited if eid in queued} == {"phone_01"}
    assert sum(eid in queued for eid in limited) == 3
    assert {queued[eid] for eid in anyone if eid in queued} == {"phone_02"}
    # With phone 02 free (the other campaign's leads ended) and 01's quota spoken for,
    # the limited campaign's last two leads still wait for phone 01.
    with database.session() as session:
        for row in session.exec(select(Enrollment).where(Enrollment.id.in_(anyone))):  # type: ignore[union-attr]
            row.state = "completed"
            session.add(row)
    # An hour on, its queued messages count as lost and are chosen a phone again: 01.
    assert dispatcher.run_once(NOW + timedelta(hours=1)).per_phone == {"phone_01": 3}
    with database.session() as session:
        rows = session.exec(select(Enrollment).where(Enrollment.id.in_(limited))).all()  # type: ignore[union-attr]
        assert sorted((row.step_state, row.phone_id or "") for row in rows) == [
            ("due", ""), ("due", ""), ("queued", "01"), ("queued", "01"), ("queued", "01"),
        ]  # fmt: skip


def test_a_scheduled_campaign_sends_nothing_before_its_start(
    settings: Settings, database: Database
) -> None:
    dispatcher, recorder = make(settings, database)
    start = NOW + timedelta(hours=1)
    enroll(database, 2, state="scheduled", starts_at=start)
    report = dispatcher.run_once(NOW)
    assert (report.started_campaigns, report.first_messages, recorder.sent) == ([], 0, [])
    report = dispatcher.run_once(start)
    assert (report.started_campaigns, report.first_messages) == (["intro"], 2)
    with database.session() as session:
        campaign = session.exec(select(Campaign).where(Campaign.name == "intro")).one()
        assert campaign.state == "active"


def test_nothing_is_queued_while_the_workspace_messages_are_at_their_reserve(
    settings: Settings, database: Database
) -> None:
    _, recorder = make(settings, database)
    halted = [True]
    dispatcher = Dispatcher(
        settings, compiled_sequences(settings), database, recorder,
        quota_halted=lambda: halted[0],
    )  # fmt: skip
    enroll(database, 4)
    report = dispatcher.run_once(NOW)
    # The steps stay due in the database, none queued only to come back.
    assert (report.first_messages, report.followups, recorder.sent) == (0, 0, [])
    assert sorted(states(database)) == [("due", None)] * 4
    halted[0] = False  # a reading shows room again
    assert dispatcher.run_once(NOW).first_messages == 4
