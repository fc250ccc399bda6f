"""The receiver over HTTP, on SQLite and PostgreSQL: every event type and every bad input."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from sqlmodel import select

from engine.broker import build_broker
from engine.db import Database
from engine.models import Alert, Enrollment, Message, PhoneState, Suppression
from engine.replies.actors import declare_reply_actors
from engine.replies.followups import CHECK_SENT, CLASSIFY_REPLY, NOTIFY_ALERT
from engine.webhook import MAX_BODY_BYTES, WEBHOOK_PATH, create_app
from engine.webhook.outbox import Outbox
from engine.webhook.serving import receiver_redis
from phones import sync_phones
from phones.lease import RedisLease
from tests.webhook.conftest import (
    LEAD,
    OURS,
    SECRET,
    START,
    Receiver,
    account_body,
    body,
    enroll,
    serving,
    write_settings,
)

# Bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize("secret", [None, "", "wrong", SECRET + "x", SECRET.upper()])
def test_a_missing_or_wrong_secret_is_401_and_stores_nothing(
    sqlite_receiver: Receiver, secret: str | None
) -> None:
    eid = sqlite_receiver.enroll()
    response = sqlite_receiver.post(body(), secret=secret)
    assert response.status_code == 401
    assert response.json() == {"detail": "missing or wrong secret"}
    assert sqlite_receiver.events() == [] and sqlite_receiver.messages() == []
    assert sqlite_receiver.enrollment(eid).state == "active"


def test_a_body_over_1_mb_is_413(sqlite_receiver: Receiver) -> None:
    big = b'{"event_type": "message:received:new", "pad": "' + b"x" * MAX_BODY_BYTES + b'"}'
    assert sqlite_receiver.post(big).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while read
        yield big[: MAX_BODY_BYTES // 2]
        yield big[MAX_BODY_BYTES // 2 :]

    response = sqlite_receiver.client.post(
        WEBHOOK_PATH, params={"secret": SECRET}, content=chunks()
    )
    assert response.status_code == 413
    assert sqlite_receiver.events() == []


@pytest.mark.parametrize(
    ("raw", "detail"),
    [
        (b"not json", "the body is not JSON"),
        (b"", "the body is not JSON"),
        (b"[1, 2]", "the body must be a JSON object"),
        (b"\xff\xfe{}", "the body is not JSON"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_400(
    sqlite_receiver: Receiver, raw: bytes, detail: str
) -> None:
    response = sqlite_receiver.post(raw)
    assert response.status_code == 400
    assert response.json()["detail"].startswith(detail)


def test_a_known_event_with_a_malformed_body_is_422_with_the_reason(
    sqlite_receiver: Receiver,
) -> None:
    payload = body()
    del payload["message"]["message_uid"]
    response = sqlite_receiver.post(payload)
    assert response.status_code == 422
    assert response.json() == {"detail": "message.message_uid is required"}
    assert sqlite_receiver.events() == []


def test_an_unknown_event_type_is_200_and_a_log_line(
    sqlite_receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="outreach.webhook"):
        response = sqlite_receiver.post({"event_type": "chat:responsible:assigned", "chat": {}})
    assert response.status_code == 200
    assert response.json()["result"] == "ignored"
    assert "chat:responsible:assigned" in caplog.text
    assert sqlite_receiver.events() == []


# Replies -------------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["nested", "flat"])
def test_a_reply_ends_the_enrollment_replied_before_answering(
    receiver: Receiver, form: str
) -> None:
    eid = receiver.enroll()
    files = [{"filename": "cv.pdf", "size": 9, "mimetype": "application/pdf",
              "temporary_download_url": "https://files.example/cv.pdf"}]  # fmt: skip
    response = receiver.post(body(form=form, uid="r-1", attachments=files))
    assert response.status_code == 200 and response.json()["result"] == "processed"
    enrollment = receiver.enrollment(eid)
    assert (enrollment.state, enrollment.end_reason, enrollment.chat_id) == (
        "replied", "replied", 1001,
    )  # fmt: skip
    [message] = receiver.messages()
    assert (message.direction, message.message_uid, message.enrollment_id) == ("in", "r-1", eid)
    assert (message.peer_phone, message.phone_id, message.text) == (LEAD, "01", "Tell me more")
    if form == "nested":
        assert message.attachments == [{"filename": "cv.pdf", "size": 9,
            "mimetype": "application/pdf", "url": "https://files.example/cv.pdf"}]  # fmt: skip
    assert [(f.actor, f.args) for f in receiver.follow_ups] == [(CLASSIFY_REPLY, (message.id,))]


def test_a_queued_follow_up_of_a_replied_lead_frees_its_place(receiver: Receiver) -> None:
    eid = receiver.enroll(step_state="queued")
    assert receiver.post(body()).status_code == 200
    enrollment = receiver.enrollment(eid)
    assert (enrollment.state, enrollment.step_state, enrollment.queued_at) == (
        "replied", "due", None,
    )  # fmt: skip


def test_a_redelivered_reply_answers_200_and_changes_nothing(receiver: Receiver) -> None:
    eid = receiver.enroll()
    payload = body(uid="r-dup")
    assert receiver.post(payload).json()["result"] == "processed"
    ended_at = receiver.enrollment(eid).ended_at
    receiver.clock.advance(60)
    again = receiver.post(payload)
    assert again.status_code == 200 and again.json()["result"] == "duplicate"
    assert len(receiver.messages()) == 1 and len(receiver.events()) == 1
    assert receiver.enrollment(eid).ended_at == ended_at
    assert len(receiver.follow_ups) == 1


def test_an_opt_out_ends_opted_out_and_suppresses_the_number(receiver: Receiver) -> None:
    eid = receiver.enroll(sequence="keep")  # opted out even where replies do not stop it
    assert receiver.post(body(text="Dezabonare, vă rog")).status_code == 200
    enrollment = receiver.enrollment(eid)
    assert (enrollment.state, enrollment.end_reason) == ("opted_out", "opted_out")
    with receiver.database.session() as session:
        [suppressed] = session.exec(select(Suppression))
    assert (suppressed.phone, suppressed.reason) == (LEAD, "opt_out")


def test_a_sequence_that_keeps_running_only_learns_the_chat(receiver: Receiver) -> None:
    eid = receiver.enroll(sequence="keep")
    assert receiver.post(body(chat_id=4242)).status_code == 200
    enrollment = receiver.enrollment(eid)
    assert (enrollment.state, enrollment.chat_id) == ("active", 4242)
    assert len(receiver.messages()) == 1


def test_a_pending_lead_that_writes_first_is_replied(receiver: Receiver) -> None:
    eid = receiver.enroll(state="pending", step=0, phone_id=None)
    assert receiver.post(body(ours=OURS[1])).status_code == 200
    assert receiver.enrollment(eid).state == "replied"


def test_a_reply_to_another_phone_still_stops_the_lead(receiver: Receiver) -> None:
    eid = receiver.enroll(phone_id="02")
    assert receiver.post(body(ours=OURS[0])).status_code == 200
    assert receiver.enrollment(eid).state == "replied"


def test_a_reply_without_a_number_is_matched_by_its_chat(receiver: Receiver) -> None:
    eid = receiver.enroll(chat_id=777)
    assert receiver.post(body(form="flat", lead=None, chat_id=777)).status_code == 200
    assert receiver.enrollment(eid).state == "replied"
    [message] = receiver.messages()
    assert message.lead_id is not None and message.enrollment_id == eid


def test_a_reply_from_an_unknown_number_is_stored_unmatched(receiver: Receiver) -> None:
    eid = receiver.enroll()
    response = receiver.post(body(lead="+40799999999", chat_id=31337))
    assert "unmatched" in response.json()["detail"]
    [message] = receiver.messages()
    assert (message.lead_id, message.enrollment_id, message.peer_phone) == (
        None, None, "+40799999999",
    )  # fmt: skip
    assert receiver.enrollment(eid).state == "active"


def test_a_reply_after_the_sequence_ended_is_stored_against_it(receiver: Receiver) -> None:
    eid = receiver.enroll(state="completed")
    assert receiver.post(body()).status_code == 200
    assert receiver.enrollment(eid).state == "completed"
    assert receiver.messages()[0].enrollment_id == eid


# Sent messages -------------------------------------------------------------------------


def test_a_sent_event_confirms_our_message_and_teaches_its_chat(receiver: Receiver) -> None:
    eid = receiver.enroll(step=1)
    with receiver.database.session() as session:
        lead_id = receiver.enrollment(eid).lead_id
        session.add(
            Message(direction="out", enrollment_id=eid, step=0, lead_id=lead_id, phone_id="01",
                    message_uid="ours-1", text="Hello", status="queued")
        )  # fmt: skip
    response = receiver.post(body("message:sent:new", uid="ours-1", chat_id=5005, origin="API"))
    assert response.json()["detail"] == "our message confirmed"
    [message] = receiver.messages()
    assert (message.status, message.chat_id, message.sent_at is not None) == ("sent", 5005, True)
    # The webhook set the status: a reading as of the moment it says the message left.
    assert message.status_read_at == message.sent_at
    assert receiver.enrollment(eid).chat_id == 5005
    assert receiver.follow_ups == []
    assert receiver.events()[0].processed_at is not None


def test_an_unknown_sent_message_is_checked_later(receiver: Receiver) -> None:
    receiver.enroll()
    response = receiver.post(body("message:sent:new", uid="typed-1", origin="TimelinesAI"))
    assert response.status_code == 200
    [event] = receiver.events()
    assert event.processed_at is None
    assert [(f.actor, f.args) for f in receiver.follow_ups] == [(CHECK_SENT, (event.id,))]
    assert receiver.post(body("message:sent:new", uid="typed-1")).json()["result"] == "duplicate"


# Account events ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "event_type", "after"),
    [
        ("active", "whatsapp:account:disconnected", "offline"),
        ("active", "whatsapp:account:suspended", "banned"),
        ("offline", "whatsapp:account:connected", "active"),
        ("banned", "whatsapp:account:resumed", "active"),
    ],
)
def test_account_events_change_the_phone_and_alert(
    receiver: Receiver, before: str, event_type: str, after: str
) -> None:
    with receiver.database.session() as session:
        phone = session.get(type(receiver.phone()), "01")
        assert phone is not None
        phone.state = before
        session.add(phone)
    response = receiver.post(account_body(event_type))
    assert response.status_code == 200
    assert receiver.phone().state == after
    with receiver.database.session() as session:
        [alert] = session.exec(select(Alert))
    assert alert.kind == f"phone_{after}" and alert.phone_id == "01"
    assert [f.actor for f in receiver.follow_ups] == [NOTIFY_ALERT]
    again = receiver.post(account_body(event_type))
    assert again.json()["result"] == "duplicate"


def test_an_operator_pause_survives_a_connected_event(receiver: Receiver) -> None:
    with receiver.database.session() as session:
        phone = session.get(type(receiver.phone()), "01")
        assert phone is not None
        phone.state = PhoneState.PAUSED
        session.add(phone)
    assert receiver.post(account_body("whatsapp:account:connected")).status_code == 200
    assert receiver.phone().state == "paused"


def test_an_account_event_for_a_number_not_ours_is_ignored(receiver: Receiver) -> None:
    response = receiver.post(account_body("whatsapp:account:suspended", phone="+15550000000"))
    assert response.json()["result"] == "ignored"


# The receiver never waits on a phone -----------------------------------------------------


def test_a_reply_is_answered_at_once_while_a_send_holds_the_phone(
    receiver: Receiver, redis_client: redis.Redis, redis_namespace: str
) -> None:
    eid = receiver.enroll()
    lease = RedisLease(redis_client, namespace=redis_namespace, ttl_s=60)
    assert lease.take("01") is not None  # a send of this phone is in flight
    started = time.monotonic()
    response = receiver.post(body())
    assert response.status_code == 200
    assert time.monotonic() - started < 2.0  # no wait for the lease (it has 60 s to run)
    assert receiver.enrollment(eid).state == "replied"


def test_a_step_being_sent_when_the_reply_commits_is_recorded_in_flight(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    eid = receiver.enroll(step=1, step_state="sending")
    _sent_before(receiver, eid, step=0)
    with caplog.at_level(logging.INFO, logger="outreach.webhook"):
        assert receiver.post(body(uid="r-in-flight")).status_code == 200
    enrollment = receiver.enrollment(eid)
    assert (enrollment.state, enrollment.step, enrollment.step_state) == ("replied", 1, "sending")
    reply = next(m for m in receiver.messages() if m.direction == "in")
    assert (reply.step, reply.in_flight_step) == (0, 1)  # answers step 1; step 2 in flight
    assert "while step 2 was being sent" in caplog.text
    metrics = receiver.client.get("/metrics").text
    assert "outreach_sends_in_flight_at_reply_total 1.0" in metrics


def test_a_reply_between_sends_has_nothing_in_flight(receiver: Receiver) -> None:
    eid = receiver.enroll(step=1, step_state="due")
    _sent_before(receiver, eid, step=0)
    assert receiver.post(body(uid="r-idle")).status_code == 200
    reply = next(m for m in receiver.messages() if m.direction == "in")
    assert (reply.step, reply.in_flight_step) == (0, None)


def test_with_redis_down_a_reply_is_still_stored_and_answered(
    tmp_path: Path, database: Database
) -> None:
    settings = write_settings(tmp_path)
    with database.session() as session:
        sync_phones(session, settings.phones)
    eid = enroll(database, START)
    no_redis = receiver_redis("redis://127.0.0.1:9/0")
    # What the server wires: the real broker on the receiver's Redis client, behind the outbox.
    actors = declare_reply_actors(build_broker(settings, client=no_redis), settings, None)
    outbox = Outbox(actors.enqueue)
    app = create_app(database, no_redis, settings, outbox.put, on_shutdown=outbox.close)
    with serving(app) as url, httpx.Client(base_url=url, timeout=10) as client:
        started = time.monotonic()
        response = client.post(WEBHOOK_PATH, params={"secret": SECRET}, json=body(uid="r-nr"))
        assert response.status_code == 200, response.text
        assert time.monotonic() - started < 1.0  # the answer never waits for Redis
        health = client.get("/healthz")
        assert health.status_code == 200  # the receiver still takes every event
        assert health.json()["status"] == "degraded"
        assert health.json()["redis"].startswith("unreachable")
    with database.session() as session:
        enrollment = session.get(Enrollment, eid)
        assert enrollment is not None and enrollment.state == "replied"
        [stored] = session.exec(select(Message).where(Message.message_uid == "r-nr"))
        assert stored.classified_at is None  # the scheduler's sweep queues it again


def _sent_before(receiver: Receiver, enrollment_id: int, *, step: int) -> None:
    """Record the step as sent to the enrollment's lead, as the sender does."""
    enrollment = receiver.enrollment(enrollment_id)
    with receiver.database.session() as session:
        message = Message(
            direction="out",
            enrollment_id=enrollment_id,
            step=step,
            lead_id=enrollment.lead_id,
            phone_id="01",
            message_uid=f"out-{step}",
            text="Hello",
            status="sent",
            sent_at=START,
        )
        session.add(message)


# Health, metrics, outages --------------------------------------------------------------


def test_health_and_metrics(receiver: Receiver) -> None:
    receiver.enroll()
    receiver.post(body())
    health = receiver.client.get("/healthz")
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "database": "ok", "redis": "ok"}
    metrics = receiver.client.get("/metrics").text
    for name in (
        'outreach_webhook_request_seconds_count{kind="received"} 1.0',
        'outreach_webhook_events_total{kind="received",result="processed"} 1.0',
        'outreach_sends_total{phone="01"}',
        'outreach_quota_used{phone="01"}',
        'outreach_queue_depth{queue="phone_01"}',
        'outreach_replies_total{class="unclassified"} 1.0',
        'outreach_metrics_source_up{source="database"} 1.0',
    ):
        assert name in metrics


def test_metrics_count_the_do_not_contact_list_by_reason(receiver: Receiver) -> None:
    receiver.enroll()
    receiver.post(body(text="STOP"))  # an opt-out puts the number on the list
    with receiver.database.session() as session:
        for phone in ("+40799000001", "+40799000002"):
            session.add(Suppression(phone=phone, reason="not_on_whatsapp", created_at=START))
    metrics = receiver.client.get("/metrics").text
    assert 'outreach_do_not_contact{reason="not_on_whatsapp"} 2.0' in metrics
    assert 'outreach_do_not_contact{reason="opt_out"} 1.0' in metrics


def test_with_the_database_down_it_answers_503_and_health_says_so(tmp_path: Path) -> None:
    settings = write_settings(tmp_path)
    down = Database("postgresql+psycopg://postgres@127.0.0.1:9/none")
    no_redis = receiver_redis("redis://127.0.0.1:9/0")
    app = create_app(down, no_redis, settings, lambda _f: None)
    with serving(app) as url, httpx.Client(base_url=url, timeout=10) as client:
        response = client.post(WEBHOOK_PATH, params={"secret": SECRET}, json=body())
        assert response.status_code == 503
        assert response.json() == {"detail": "the database is unavailable; retry"}
        health = client.get("/healthz")
        assert health.status_code == 503
        assert health.json()["database"].startswith("unreachable")
        assert health.json()["redis"].startswith("unreachable")
        assert 'outreach_metrics_source_up{source="database"} 0.0' in client.get("/metrics").text
    down.dispose()
