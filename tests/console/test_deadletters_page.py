"""The dead letters page: what ``outreach dlq list`` shows, retried one by one or all at once."""

from __future__ import annotations

from sqlalchemy import select

from engine.db import Database
from engine.tables import CA, E
from tests import seed
from tests.console.conftest import ConsoleHarness


def dead_letter(harness: ConsoleHarness, phone: str, *, step: int = 1, error: str = "boom") -> int:
    with harness.database.session() as session:
        return seed.dead_letter(
            session, phone, failed_at=harness.clock.now(), step=step, error=error
        )


def step_states(database: Database) -> dict[int, tuple[str, int]]:
    with database.engine.connect() as connection:
        rows = connection.execute(select(E.c.id, E.c.step_state, E.c.attempts))
        return {row.id: (row.step_state, row.attempts) for row in rows}


def recorded(database: Database) -> list[tuple[str, str, str | None]]:
    with database.engine.connect() as connection:
        rows = connection.execute(select(CA.c.user, CA.c.action, CA.c.target).order_by(CA.c.id))
        return [(r.user, r.action, r.target) for r in rows if r.action != "signed in"]


def test_the_page_lists_each_dead_letter_with_its_step_from_1_and_a_retry(
    console: ConsoleHarness,
) -> None:
    first = dead_letter(console, "+40712000001", step=1, error="PayloadTooLarge: 17 MB")
    console.sign_in("ana")
    page = console.client.get("/dead-letters")
    assert page.status_code == 200
    assert "<title>Dead letters" in page.text and 'aria-current="page">Dead letters' in page.text
    row = page.text.split(f'<td class="num">{first}</td>')[1].split("</tr>")[0]
    assert '<td class="num">2</td>' in row  # step index 1 is the second message
    assert "+40712000001" in row and "PayloadTooLarge: 17 MB" in row  # the operator's whole view
    assert f'name="id" value="{first}"' in row
    assert "Retry all 1" in page.text


def test_retrying_one_makes_its_step_due_now_and_records_who(console: ConsoleHarness) -> None:
    retried = dead_letter(console, "+40712000001")
    left = dead_letter(console, "+40712000002")
    console.sign_in("ana")
    answer = console.post("/dead-letters/retry", {"id": str(retried)})
    assert answer.status_code == 303 and answer.headers["location"] == "/dead-letters"
    assert step_states(console.database) == {retried: ("due", 0), left: ("failed", 5)}
    with console.database.engine.connect() as connection:
        due_at = connection.execute(select(E.c.due_at).where(E.c.id == retried)).scalar_one()
    assert due_at == console.clock.now()
    assert recorded(console.database) == [("ana", "retry dead letter", f"enrollment {retried}")]
    page = console.client.get("/dead-letters")
    assert "1 step(s) due again" in page.text
    assert f'value="{retried}"' not in page.text and f'value="{left}"' in page.text


def test_retry_all_makes_every_dead_letter_due(console: ConsoleHarness) -> None:
    ids = [dead_letter(console, f"+4071200000{i}") for i in range(3)]
    console.sign_in("ana")
    assert console.post("/dead-letters/retry").status_code == 303  # not confirmed
    assert recorded(console.database) == []
    assert "tick" in console.client.get("/dead-letters").text
    assert console.post("/dead-letters/retry", {"confirm": "yes"}).status_code == 303
    assert step_states(console.database) == dict.fromkeys(ids, ("due", 0))
    assert recorded(console.database) == [("ana", "retry all dead letters", None)]
    page = console.client.get("/dead-letters")
    assert "3 step(s) due again" in page.text and "No dead letters" in page.text


def test_an_unknown_or_malformed_id_is_a_note_and_changes_nothing(
    console: ConsoleHarness,
) -> None:
    kept = dead_letter(console, "+40712000001")
    console.sign_in("ana")
    wrong_ids = {str(kept + 1): "has no dead letter", "7; drop": "is not an enrollment id"}
    for wrong, said in wrong_ids.items():
        answer = console.post("/dead-letters/retry", {"id": wrong})
        assert answer.status_code == 303
        assert said in console.client.get("/dead-letters").text
    assert step_states(console.database) == {kept: ("failed", 5)}
    assert recorded(console.database) == []


def test_a_viewer_sees_the_dead_letters_but_no_forms(console: ConsoleHarness) -> None:
    kept = dead_letter(console, "+40712000001")
    console.sign_in("vic")
    page = console.client.get("/dead-letters")
    assert "+40712000001" in page.text
    assert "/dead-letters/retry" not in page.text and "Retry" not in page.text
    assert console.post("/dead-letters/retry", {"id": str(kept)}).status_code == 403
    assert step_states(console.database) == {kept: ("failed", 5)}
    live = console.client.get("/dead-letters", params={"part": "live"})
    assert "+40712000001" in live.text and "/dead-letters/retry" not in live.text
