"""The review queue: each flagged reply with its lead's full number, its age and overdue
mark, who has it; assigning and resolving as the CLI does, recorded with the person."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.models import Message
from engine.tables import CA, R
from tests.console.conftest import ConsoleHarness
from tests.console.replied_lead import Replied, replied_lead

NUMBER = "+40712343644"
FRESH = "+40712343655"


@pytest.fixture
def flags(console: ConsoleHarness) -> tuple[Replied, Replied]:
    """An overdue flag (30 h, past the default 24 h) in ``spring`` and a fresh one (1 h)
    in ``autumn``."""
    now = console.clock.now()
    old = replied_lead(console.database, now, waited=timedelta(hours=30))
    fresh = replied_lead(
        console.database, now, phone=FRESH, campaign="autumn", waited=timedelta(hours=1),
        variables={"name": "Dan Radu"}, text="Cât costă?",
    )  # fmt: skip
    return old, fresh


def flag_row(console: ConsoleHarness, flag_id: int) -> tuple[str | None, object, str | None]:
    with console.database.engine.connect() as connection:
        row = connection.execute(
            select(R.c.assigned_to, R.c.resolved_at, R.c.resolved_by).where(R.c.id == flag_id)
        ).one()
    return row.assigned_to, row.resolved_at, row.resolved_by


def audit(console: ConsoleHarness) -> list[tuple[str, str, str | None, str | None]]:
    with console.database.engine.connect() as connection:
        rows = connection.execute(
            select(CA.c.user, CA.c.action, CA.c.target, CA.c.detail)
            .where(CA.c.action.like("%review flag"))
            .order_by(CA.c.id)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


def test_the_queue_shows_number_age_and_overdue_mark(
    console: ConsoleHarness, flags: tuple[Replied, Replied]
) -> None:
    console.sign_in("vic")
    text = console.client.get("/replies").text
    assert f'<a href="/leads/%2B40712343644">{NUMBER}</a>' in text and "Ioana Pop" in text
    assert "Sunați-mă mâine la 10" in text and "schedule_call" in text and "suna" in text
    assert "1.2 d ago" in text and "1.0 h ago" in text
    assert text.count("OVERDUE") == 1 and "1 overdue" in text
    overdue_row = text.split("1.2 d ago", 1)[1].split("</td>", 1)[0]
    assert "OVERDUE" in overdue_row
    assert "spring" in text and "autumn" in text and "Dan Radu" in text


def test_a_viewer_sees_the_queue_but_no_forms(
    console: ConsoleHarness, flags: tuple[Replied, Replied]
) -> None:
    console.sign_in("vic")
    text = console.client.get("/replies").text
    assert NUMBER in text
    assert "/assign" not in text and "/resolve" not in text
    live = console.client.get("/replies", params={"part": "live"}).text
    assert NUMBER in live  # a viewer's queue refreshes by itself


def test_an_operator_assigns_a_flag_and_filters_by_person_and_campaign(
    console: ConsoleHarness, flags: tuple[Replied, Replied]
) -> None:
    old, fresh = flags
    console.sign_in("ana")
    page = console.client.get("/replies").text
    assert f'action="/replies/{old.flag_id}/assign"' in page and 'value="ana"' in page
    answer = console.post(f"/replies/{old.flag_id}/assign", {"person": " maria@example.com "})
    assert answer.status_code == 303 and answer.headers["location"] == "/replies"
    assert flag_row(console, old.flag_id)[0] == "maria@example.com"
    answer = console.post(f"/replies/{fresh.flag_id}/assign", {"show": "mine", "person": ""})
    assert answer.headers["location"] == "/replies?show=mine"
    assert flag_row(console, fresh.flag_id)[0] == "ana"  # the signed-in user by default
    assert audit(console) == [
        ("ana", "assign review flag", f"review flag {old.flag_id}",
         f"Review flag {old.flag_id} assigned to maria@example.com."),
        ("ana", "assign review flag", f"review flag {fresh.flag_id}",
         f"Review flag {fresh.flag_id} assigned to ana."),
    ]  # fmt: skip
    mine = console.client.get("/replies", params={"show": "mine"}).text
    assert FRESH in mine and NUMBER not in mine
    assert "assigned to ana" in mine  # the note, shown once
    assert "Nothing to review here" in console.client.get("/replies?show=unassigned").text
    spring = console.client.get("/replies", params={"campaign": "spring"}).text
    assert NUMBER in spring and FRESH not in spring


def test_an_operator_resolves_a_flag_with_a_note(
    console: ConsoleHarness, flags: tuple[Replied, Replied]
) -> None:
    old, _ = flags
    console.sign_in("ana")
    answer = console.post(
        f"/replies/{old.flag_id}/resolve", {"note": "called back, booked Tuesday"}
    )
    assert answer.status_code == 303
    _, resolved_at, resolved_by = flag_row(console, old.flag_id)
    assert resolved_at is not None and resolved_by == "ana"
    [(user, action, target, detail)] = audit(console)
    assert (user, action, target) == ("ana", "resolve review flag", f"review flag {old.flag_id}")
    assert detail is not None and "called back, booked Tuesday" in detail
    queue = console.client.get("/replies").text
    assert NUMBER not in queue and FRESH in queue and "OVERDUE" not in queue
    timeline = console.client.get("/leads/%2B40712343644").text
    assert "review resolved" in timeline


@pytest.mark.parametrize("action", ["assign", "resolve"])
def test_an_unknown_or_resolved_flag_is_a_note_not_an_error(
    console: ConsoleHarness, flags: tuple[Replied, Replied], action: str
) -> None:
    old, _ = flags
    console.sign_in("ana")
    console.post(f"/replies/{old.flag_id}/resolve")
    for flag_id in (9999, old.flag_id):
        answer = console.post(f"/replies/{flag_id}/{action}", {"person": "maria"})
        assert answer.status_code == 303
        page = console.client.get(answer.headers["location"])
        assert page.status_code == 200
        assert f"No open review flag {flag_id}" in page.text
    assert flag_row(console, old.flag_id)[2] == "ana"  # still resolved by ana, not reassigned
    assert flag_row(console, old.flag_id)[0] is None


def test_a_name_too_long_assigns_nothing(
    console: ConsoleHarness, flags: tuple[Replied, Replied]
) -> None:
    old, _ = flags
    console.sign_in("ana")
    answer = console.post(f"/replies/{old.flag_id}/assign", {"person": "x" * 65})
    assert "1-64 characters" in console.client.get(answer.headers["location"]).text
    assert flag_row(console, old.flag_id)[0] is None


def test_replies_from_unknown_numbers_are_listed(console: ConsoleHarness) -> None:
    with console.database.session() as session:
        session.add(
            Message(
                direction="in", peer_phone="+40799888777", phone_id="01", chat_id=42,
                text="Cine sunteți?", status="received", sent_at=console.clock.now(),
            )
        )  # fmt: skip
    console.sign_in("vic")
    text = console.client.get("/replies/unmatched").text
    assert "+40799888777" in text and "Cine sunteți?" in text and "<td>42</td>" in text
    assert "Replies from unknown numbers" in text


def test_the_queue_names_the_colleagues_a_reply_held(
    console: ConsoleHarness, flags: tuple[Replied, Replied]
) -> None:
    old, _ = flags
    held = [{"lead_id": 9, "phone": "+40712349999", "sequence": "s", "state": "paused"}]
    with console.database.engine.begin() as connection:
        connection.execute(
            R.update()
            .where(R.c.id == old.flag_id)
            .values(reasons={"matched": {"human_review": ["suna"]}, "company_held": held})
        )
    console.sign_in("vic")
    text = console.client.get("/replies").text
    assert "held colleagues: +40712349999 (paused)" in text
    assert text.count("held colleagues") == 1
    assert "outreach leads resume +40712349999" in text
    assert 'href="/leads/%2B40712349999"' in text  # its page has the resume button
