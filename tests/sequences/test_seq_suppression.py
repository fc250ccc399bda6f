"""The do-not-contact list and forgetting a lead, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import select

from engine.db import Database
from engine.models import (
    AutoReply,
    Enrollment,
    Lead,
    LeadTag,
    Message,
    ReviewFlag,
    Suppression,
    WebhookEvent,
)
from sequences import (
    EndReason,
    Refusal,
    SequencesError,
    SequenceSettings,
    StepSettings,
    compile_sequences,
    import_leads,
    launch,
    suppression,
)
from sequences.forget import ERASED_PAYLOAD, forget, what_forget_erases

NOW = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
ANA = "+40712345678"
BOB = "+40712345679"
INTRO = compile_sequences(
    {"intro": SequenceSettings(steps=(StepSettings(after="0m", template="Hi {{name}}"),))},
    path="test",
)["intro"]


def import_file(database: Database, tmp_path: Path, body: str) -> tuple[int, int]:
    path = tmp_path / "leads.csv"
    path.write_text(body)
    report = import_leads(database, path, tag="jan", region="RO", now=NOW)
    return report.imported, report.suppressed


def lead(database: Database, phone: str) -> Lead | None:
    with database.session() as session:
        return session.exec(select(Lead).where(Lead.phone == phone)).first()


def enrollment_of(database: Database, lead_id: int) -> Enrollment:
    with database.session() as session:
        return session.exec(select(Enrollment).where(Enrollment.lead_id == lead_id)).one()


def test_forgotten_key_is_salted_short_and_never_a_number() -> None:
    key = suppression.forgotten_key(ANA, "salt-a")
    assert re.fullmatch(r"#[0-9a-f]{19}", key)
    assert key == suppression.forgotten_key(ANA, "salt-a")
    assert key != suppression.forgotten_key(ANA, "salt-b")
    assert key != suppression.forgotten_key(BOB, "salt-a")


def test_the_salt_is_made_once_and_kept(database: Database) -> None:
    with database.engine.begin() as connection:
        assert suppression.read_salt(connection) is None
        salt = suppression.make_salt(connection, NOW)
        assert suppression.make_salt(connection, NOW) == salt
    with database.engine.connect() as connection:
        assert suppression.read_salt(connection) == salt
        assert len(salt) == 32


def test_a_number_added_by_hand_is_refused_by_import_and_its_campaign_ends(
    database: Database, tmp_path: Path
) -> None:
    import_file(database, tmp_path, f"phone,name\n{ANA},Ana\n")
    assert launch(database, INTRO, now=NOW, fallback_zone="UTC", tag="jan").enrolled == 1
    with database.engine.begin() as connection:
        added, ended = suppression.add(
            connection, ANA, reason="asked by phone", source="test", now=NOW
        )
        assert (added, ended) == (True, 1)
        assert suppression.add(connection, ANA, reason="x", source=None, now=NOW) == (False, 0)
    found = lead(database, ANA)
    assert found is not None and found.id is not None
    ended_enrollment = enrollment_of(database, found.id)
    assert (ended_enrollment.state, ended_enrollment.end_reason) == (
        "stopped",
        EndReason.SUPPRESSED,
    )
    assert import_file(database, tmp_path, f"phone\n{ANA}\n{BOB}\n") == (1, 1)
    with database.engine.begin() as connection:
        [removed] = suppression.remove(connection, ANA)
        assert removed.reason == "asked by phone"
        assert suppression.remove(connection, ANA) == []
        assert [entry.phone for entry in suppression.entries(connection)] == []


def test_forget_erases_the_person_and_keeps_only_a_key(database: Database, tmp_path: Path) -> None:
    import_file(
        database,
        tmp_path,
        f"phone,name,company,timezone\n{ANA},Ana,Acme,Europe/Bucharest\n{BOB},Bob,B,\n",
    )
    assert launch(database, INTRO, now=NOW, fallback_zone="UTC", tag="jan").enrolled == 2
    ana = lead(database, ANA)
    assert ana is not None and ana.id is not None
    ana_id = ana.id
    enrollment_id = enrollment_of(database, ana_id).id
    with database.session() as session:
        out = Message(direction="out", enrollment_id=enrollment_id, step=0, lead_id=ana_id,
                      text="Hi Ana", peer_phone=ANA, content_hash="abc", status="sent")  # fmt: skip
        reply = Message(direction="in", enrollment_id=enrollment_id, lead_id=ana_id,
                        text="I live at 1 Main St", peer_phone=ANA, message_uid="u1")  # fmt: skip
        stranger = Message(direction="in", text="from Ana's other chat", peer_phone=ANA)
        session.add_all([out, reply, stranger])
        session.add(Suppression(phone=ANA, reason="opt_out", source="reply u1"))
        session.flush()
        assert reply.id is not None
        session.add(ReviewFlag(message_id=reply.id, lead_id=ana_id, reasons={"words": ["Main"]}))
        session.add(AutoReply(lead_id=ana_id, message_id=reply.id, phone_id="01", rule="r",
                              text="Thanks Ana", due_at=NOW))  # fmt: skip
        payload = {"chat": {"phone": ANA.lstrip("+")}, "text": "1 Main"}
        session.add(WebhookEvent(dedupe_key="d1", event_type="received", payload=payload))
        session.add(WebhookEvent(dedupe_key="d2", event_type="x", payload={"phone": "4071"}))
    with database.engine.connect() as connection:
        planned = what_forget_erases(connection, ANA)
    assert (planned.tags, planned.enrollments_ended, planned.messages) == (1, 1, 3)

    erased = forget(database, ANA, now=NOW)

    assert erased.key is not None and re.fullmatch(r"#[0-9a-f]{19}", erased.key)
    assert (erased.name_and_variables, erased.tags, erased.enrollments_ended) == (2, 1, 1)
    assert (erased.messages, erased.auto_replies, erased.review_flags) == (3, 1, 1)
    assert erased.webhook_events == 1
    with database.session() as session:
        forgotten = session.get(Lead, ana_id)
        assert forgotten is not None
        assert (forgotten.phone, forgotten.variables, forgotten.timezone) == (erased.key, {}, None)
        assert session.exec(select(LeadTag).where(LeadTag.lead_id == ana_id)).all() == []
        ended = enrollment_of(database, ana_id)
        assert (ended.state, ended.end_reason) == ("stopped", EndReason.FORGOTTEN)
        for message in session.exec(select(Message)):
            assert (message.text, message.peer_phone, message.content_hash) == ("", None, None)
        auto = session.exec(select(AutoReply)).one()
        assert (auto.text, auto.state) == ("", "cancelled")
        flag = session.exec(select(ReviewFlag)).one()
        assert flag.reasons == {} and flag.resolved_at is not None
        payloads = {e.dedupe_key: e.payload for e in session.exec(select(WebhookEvent))}
        assert payloads == {"d1": ERASED_PAYLOAD, "d2": {"phone": "4071"}}
        listed = session.exec(select(Suppression)).all()
        assert [(row.phone, row.reason) for row in listed] == [(erased.key, "forgotten")]
        bob = session.exec(select(Lead).where(Lead.phone == BOB)).one()
        assert bob.variables == {"name": "Bob", "company": "B"}
    assert ANA.lstrip("+") not in dump(database)
    assert "Main" not in dump(database) and "Ana" not in dump(database)

    # The number comes back: refused as suppressed, by its key.
    assert import_file(database, tmp_path, "phone,name\n0712 345 678,Ana\n") == (0, 1)
    second = compile_sequences(
        {"again": SequenceSettings(steps=(StepSettings(after="0m", template="Hi"),))}, path="t"
    )["again"]
    report = launch(database, second, now=NOW, fallback_zone="UTC")
    assert report.refused[Refusal.SUPPRESSED] == 1
    with database.engine.connect() as connection:
        entry = suppression.lookup(connection, ANA)
    assert entry is not None and entry.forgotten


def dump(database: Database) -> str:
    """Every row of every table, as text: what someone reading the database would see."""
    tables = ("leads", "lead_tags", "enrollments", "messages", "review_flags", "auto_replies",
              "webhook_events", "suppressions", "alerts")  # fmt: skip
    rows: list[str] = []
    with database.engine.connect() as connection:
        for table in tables:
            for row in connection.execute(text(f"SELECT * FROM {table}")):
                rows.append(json.dumps([str(value) for value in row]))
    return "\n".join(rows)


def test_forgetting_a_number_that_is_no_lead_still_lists_its_key(database: Database) -> None:
    erased = forget(database, BOB, now=NOW)
    assert erased.lead_id is None
    with database.engine.connect() as connection:
        entry = suppression.lookup(connection, BOB)
        assert entry is not None and entry.phone == erased.key


def test_the_list_pages_newest_first_and_searches_numbers_keys_and_reasons(
    database: Database,
) -> None:
    with database.engine.begin() as connection:
        for index in range(7):  # two at each moment: the number breaks the tie
            suppression.add(
                connection, f"+4071200000{index}", reason="opted out" if index % 2 else "manual",
                source=f"import file{index}.csv", now=NOW.replace(minute=index // 2),
            )  # fmt: skip
        whole = [entry.phone for entry in suppression.entries(connection)]
        assert whole == [f"+4071200000{i}" for i in (6, 4, 5, 2, 3, 0, 1)]
        assert suppression.count(connection) == 7
        pages, after = [], None
        while True:
            page = suppression.entries(connection, after=after, limit=3)
            pages.append([entry.phone for entry in page])
            if len(page) < 3:
                break
            after = page[-1].phone
        assert [phone for page in pages for phone in page] == whole and len(pages) == 3

        def found(search: str, numbers: tuple[str, ...] = ()) -> list[str]:
            listed = suppression.entries(connection, search=search, numbers=numbers)
            return [entry.phone for entry in listed]

        assert found("OPTED") == ["+40712000005", "+40712000003", "+40712000001"]
        assert found("file4.csv") == ["+40712000004"]
        assert found("0712 000 002") == ["+40712000002"]  # the digits, as part of the number
        assert found("%") == [] and found("_") == []  # no wildcard from a search
        key = suppression.forgotten_key(ANA, suppression.make_salt(connection, NOW))
        suppression.add(connection, key, reason=suppression.FORGOTTEN_REASON, source=None, now=NOW)
        assert found("0712 345 678") == []  # its key holds no digits of it
        assert found("0712 345 678", (ANA,)) == [key]  # the number it stands for finds it


def test_a_reason_has_1_to_64_characters() -> None:
    assert suppression.check_reason("  asked on the phone ") == "asked on the phone"
    for wrong in ("", "   ", "x" * 65):
        with pytest.raises(SequencesError, match="give 1 to 64 characters"):
            suppression.check_reason(wrong)
