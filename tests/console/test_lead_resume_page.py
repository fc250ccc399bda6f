"""The lead page's "Resume its sequences": an operator lets a lead's paused sequences go
on (the same function as ``outreach leads resume``); a viewer sees no button."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

from sqlalchemy import select

from engine.db import Database
from engine.models import Enrollment
from engine.tables import CA
from tests.console.conftest import ConsoleHarness
from tests.sequences.test_seq_lead_resume import _paused_pair

BUTTON = "Resume its sequences"


def test_an_operator_resumes_and_a_viewer_sees_no_button(
    make_console: Callable[..., ConsoleHarness], database: Database
) -> None:
    console = make_console(database=database)
    eid, phone = _paused_pair(database)
    path = f"/leads/{quote(phone, safe='')}"
    console.sign_in("vic")
    page = console.client.get(path).text
    assert "paused" in page and BUTTON not in page
    console.sign_in("ana")
    assert BUTTON in console.client.get(path).text
    answer = console.post(f"{path}/resume")
    assert answer.status_code == 303 and answer.headers["location"] == path
    with database.session() as session:
        row = session.get(Enrollment, eid)
        assert row is not None
        assert (row.state, row.end_reason, row.step_state) == ("pending", None, "due")
    with database.engine.connect() as connection:
        rows = connection.execute(
            select(CA.c.user, CA.c.action, CA.c.target).where(CA.c.action == "resume lead")
        ).all()
    assert [tuple(r) for r in rows] == [("ana", "resume lead", phone)]
    shown = console.client.get(path).text
    assert "1 sequence(s) of" in shown and BUTTON not in shown
    again = console.post(f"{path}/resume")  # nothing paused any more: nothing recorded
    assert again.status_code == 303
    assert "is paused: nothing changed" in console.client.get(path).text
    with database.engine.connect() as connection:
        resumes = connection.execute(select(CA.c.id).where(CA.c.action == "resume lead"))
        assert len(resumes.all()) == 1


def test_an_unknown_lead_changes_nothing(console: ConsoleHarness) -> None:
    console.sign_in("ana")
    answer = console.post("/leads/%2B40799999999/resume")
    assert answer.status_code == 303
    assert "no lead +40799999999" in console.client.get(answer.headers["location"]).text
