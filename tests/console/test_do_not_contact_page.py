"""The do-not-contact page: the list as ``outreach suppress list`` shows it, searched and
paged, and ``suppress add|remove`` for operators."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.settings import LeadsSettings
from engine.tables import CA, E, S
from sequences import suppression
from tests.console.conftest import ConsoleHarness, base_settings
from tests.seed import dead_letter

ANA = "+40712345678"


@pytest.fixture
def console(make_console: Callable[..., ConsoleHarness], redis_namespace: str) -> ConsoleHarness:
    """National numbers are read as Romanian ones, as ``leads.default_region = "RO"`` says."""
    settings = base_settings(redis_namespace, leads=LeadsSettings(default_region="RO"))
    return make_console(settings=settings)


def listed(harness: ConsoleHarness) -> dict[str, tuple[str, str | None]]:
    with harness.database.engine.connect() as connection:
        rows = connection.execute(select(S.c.phone, S.c.reason, S.c.source))
        return {row.phone: (row.reason, row.source) for row in rows}


def recorded(harness: ConsoleHarness) -> list[tuple[str, str, str | None, str | None]]:
    with harness.database.engine.connect() as connection:
        rows = connection.execute(
            select(CA.c.user, CA.c.action, CA.c.target, CA.c.detail).order_by(CA.c.id)
        )
        return [tuple(r) for r in rows if r.action != "signed in"]  # type: ignore[misc]


def put(harness: ConsoleHarness, phone: str, reason: str = "manual", ago_min: int = 0) -> None:
    with harness.database.engine.begin() as connection:
        now = harness.clock.now() - timedelta(minutes=ago_min)
        suppression.add(connection, phone, reason=reason, source="import dnc.csv", now=now)


def forgotten(harness: ConsoleHarness, phone: str) -> str:
    """``phone``'s key, put on the list as forgetting the lead puts it."""
    with harness.database.engine.begin() as connection:
        salt = suppression.make_salt(connection, harness.clock.now())
    key = suppression.forgotten_key(phone, salt)
    put(harness, key, suppression.FORGOTTEN_REASON)
    return key


def test_the_list_shows_numbers_and_forgotten_keys_newest_first(console: ConsoleHarness) -> None:
    put(console, "+40712000001", "asked on the phone", ago_min=5)
    key = forgotten(console, ANA)
    console.sign_in("ana")
    page = console.client.get("/do-not-contact")
    assert page.status_code == 200 and "<title>Do not contact" in page.text
    assert "2 numbers on the list" in page.text
    assert page.text.index(f"forgotten ({key})") < page.text.index("+40712000001")
    assert ANA not in page.text and "asked on the phone" in page.text
    assert 'action="/do-not-contact/add"' in page.text
    assert 'action="/do-not-contact/remove"' in page.text


def test_the_list_is_searched_and_paged(console: ConsoleHarness) -> None:
    for index in range(55):
        put(console, f"+407120001{index:02}", "opted out" if index == 7 else "manual", index)
    key = forgotten(console, ANA)
    console.sign_in("vic")
    first = console.client.get("/do-not-contact").text
    assert "56 numbers on the list" in first and first.count("<tr>") == 1 + 50
    assert "Next 50" in first and "First page" not in first
    after = "+40712000148"  # the 50th: the forgotten key first, then the newest 49
    assert f"after={after.replace('+', '%2B')}" in first
    second = console.client.get("/do-not-contact", params={"after": after}).text
    assert second.count("<tr>") == 1 + 6 and "First page" in second and "Next" not in second
    assert "+40712000154" in second and "+40712000148" not in second
    searched = console.client.get("/do-not-contact", params={"q": "OPTED"}).text
    assert searched.count("<tr>") == 2 and "+40712000107" in searched
    by_part = console.client.get("/do-not-contact", params={"q": "0001 07"}).text
    assert by_part.count("<tr>") == 2 and "+40712000107" in by_part
    by_number = console.client.get("/do-not-contact", params={"q": "0712 345 678"}).text
    assert by_number.count("<tr>") == 2 and f"forgotten ({key})" in by_number
    nothing = console.client.get("/do-not-contact", params={"q": "nobody"}).text
    assert "No number matches." in nothing


def test_adding_a_number_ends_its_campaigns_and_records_who(console: ConsoleHarness) -> None:
    with console.database.session() as session:
        dead_letter(session, ANA, failed_at=console.clock.now())  # a running enrollment
    console.sign_in("ana")
    answer = console.post("/do-not-contact/add", {"number": "0712 345 678", "reason": " asked "})
    assert answer.status_code == 303 and answer.headers["location"] == "/do-not-contact"
    assert listed(console) == {ANA: ("asked", "console (ana)")}
    with console.database.engine.connect() as connection:
        assert connection.execute(select(E.c.state, E.c.end_reason)).one() == (
            "stopped", "suppressed",
        )  # fmt: skip
    note = f"{ANA}: added to the do-not-contact list; 1 running campaign(s) of the lead ended."
    assert recorded(console) == [("ana", "add to do-not-contact list", ANA, note)]
    assert note in console.client.get("/do-not-contact").text
    console.post("/do-not-contact/add", {"number": ANA})  # again: no second row
    assert listed(console) == {ANA: ("asked", "console (ana)")}
    assert "already on the do-not-contact list" in console.client.get("/do-not-contact").text


@pytest.mark.parametrize(
    ("number", "reason", "said"),
    [
        ("abc", "", "Nothing added: 'abc' is not a phone number."),
        ("0712", "", "Nothing added: '0712' is not a possible phone number."),
        ("", "", "Nothing added: no phone number."),
        (ANA, "x" * 65, "Nothing added: the reason must give 1 to 64 characters."),
    ],
)
def test_an_invalid_number_or_reason_is_a_note_naming_the_problem(
    console: ConsoleHarness, number: str, reason: str, said: str
) -> None:
    console.sign_in("ana")
    answer = console.post("/do-not-contact/add", {"number": number, "reason": reason})
    assert answer.status_code == 303
    assert said.replace("'", "&#39;") in console.client.get("/do-not-contact").text
    assert listed(console) == {} and recorded(console) == []


def test_removing_a_number_takes_it_off_and_records_who(console: ConsoleHarness) -> None:
    put(console, ANA)
    put(console, "+40712000001")
    console.sign_in("ana")
    assert console.post("/do-not-contact/remove", {"number": "40712345678"}).status_code == 303
    assert list(listed(console)) == ["+40712000001"]
    note = f"{ANA}: removed from the do-not-contact list."
    assert recorded(console) == [("ana", "remove from do-not-contact list", ANA, note)]
    assert console.post("/do-not-contact/remove", {"number": ANA}).status_code == 303
    assert "is not on the do-not-contact list" in console.client.get("/do-not-contact").text
    assert len(recorded(console)) == 1


def test_removing_a_forgotten_number_records_its_key_never_the_number(
    console: ConsoleHarness,
) -> None:
    key = forgotten(console, ANA)
    console.sign_in("ana")
    assert console.post("/do-not-contact/remove", {"number": ANA}).status_code == 303
    assert listed(console) == {}
    assert "(it had been forgotten)" in console.client.get("/do-not-contact").text
    [(user, action, target, detail)] = recorded(console)
    assert (user, action, target) == ("ana", "remove from do-not-contact list", key)
    assert detail is not None and "712" not in detail


def test_a_viewer_searches_but_sees_no_forms_and_cannot_act(console: ConsoleHarness) -> None:
    put(console, ANA)
    console.sign_in("vic")
    page = console.client.get("/do-not-contact").text
    assert ANA in page and 'name="q"' in page
    assert "/do-not-contact/add" not in page and "/do-not-contact/remove" not in page
    assert console.post("/do-not-contact/remove", {"number": ANA}).status_code == 403
    assert console.post("/do-not-contact/add", {"number": "+40712000001"}).status_code == 403
    assert list(listed(console)) == [ANA]
