"""Who gets in, and what a form needs: every page refuses an anonymous visitor, every
form refuses a missing CSRF token, viewers cannot act, sign-ins are limited."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.routing import APIRoute
from sqlalchemy import select

from console.pages import ROUTERS
from console.users import Directory
from engine.tables import CA, CS
from tests.console.conftest import PASSWORDS, ConsoleHarness, accounts

PUBLIC = {"/login"}


def routes(harness: ConsoleHarness, method: str) -> Iterator[str]:
    """Every route of the app answering ``method``, its path parameters filled with 1 (the
    pages' routers have no prefix)."""
    everything = [*harness.app.routes, *(r for router in ROUTERS for r in router.routes)]
    for route in everything:
        if isinstance(route, APIRoute) and method in route.methods and route.path not in PUBLIC:
            yield re.sub(r"\{[^}]+\}", "1", route.path)


def actions(harness: ConsoleHarness) -> list[tuple[str, str | None, str | None]]:
    with harness.database.engine.connect() as connection:
        rows = connection.execute(select(CA.c.user, CA.c.action, CA.c.detail).order_by(CA.c.id))
        return [tuple(r) for r in rows]  # type: ignore[misc]


def test_every_page_sends_an_anonymous_visitor_to_sign_in(console: ConsoleHarness) -> None:
    pages = list(routes(console, "GET"))
    assert "/" in pages and len(pages) >= 2
    for path in pages:
        answer = console.client.get(path, follow_redirects=False)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/login?next="), path
        live = console.client.get(path, params={"part": "live"}, follow_redirects=False)
        assert live.status_code == 401, path


def test_every_form_refuses_an_anonymous_visitor(console: ConsoleHarness) -> None:
    forms = list(routes(console, "POST"))
    assert "/logout" in forms
    for path in forms:
        answer = console.client.post(path, data={"csrf": "x"}, follow_redirects=False)
        assert answer.status_code == 401, path


def test_every_form_refuses_a_missing_or_wrong_csrf_token(console: ConsoleHarness) -> None:
    assert console.sign_in("ana").status_code == 303
    forms = list(routes(console, "POST"))
    for path in forms:
        for data in ({}, {"csrf": "not-the-token"}):
            answer = console.client.post(path, data=data, follow_redirects=False)
            assert answer.status_code == 403, (path, data)
    refused = [a for a in actions(console) if a[1] == "refused"]
    assert len(refused) == 2 * len(forms)
    # Still signed in: the refused logout did not sign anyone out.
    assert console.client.get("/", follow_redirects=False).status_code == 200


def test_a_viewer_reads_but_cannot_act(console: ConsoleHarness) -> None:
    console.sign_in("vic")
    assert console.client.get("/").status_code == 200
    operator_forms = [p for p in routes(console, "POST") if p != "/logout"]
    for path in operator_forms:
        answer = console.post(path)
        assert answer.status_code == 403, path
        assert "operator" in answer.text
    assert console.post("/logout").status_code == 303  # anyone may sign out


def test_signing_in_sets_a_strict_http_only_cookie_and_records_it(console: ConsoleHarness) -> None:
    answer = console.sign_in("ana")
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    with console.database.engine.connect() as connection:
        stored = connection.execute(select(CS.c.token_hash, CS.c.user)).all()
    token = console.client.cookies.get("outreach_console")
    assert token and len(stored) == 1 and stored[0].user == "ana"
    assert token not in stored[0].token_hash  # only the hash is kept
    assert ("ana", "signed in", None) in actions(console)


def test_a_wrong_password_is_refused_and_sign_ins_are_limited(console: ConsoleHarness) -> None:
    for _ in range(5):
        assert console.sign_in("ana", "wrong-password").status_code == 401
    answer = console.sign_in("ana")  # the right one, too late
    assert answer.status_code == 429
    assert "Too many failed sign-ins" in answer.text
    assert console.client.get("/", follow_redirects=False).status_code == 303


def test_the_sign_in_form_needs_its_own_token(console: ConsoleHarness) -> None:
    answer = console.client.post(
        "/login", data={"name": "ana", "password": PASSWORDS["ana"]}, follow_redirects=False
    )
    assert answer.status_code == 403


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "evil"])
def test_after_sign_in_only_a_path_of_this_site_is_followed(
    console: ConsoleHarness, target: str
) -> None:
    form = console.client.get("/login", params={"next": target})
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token is not None
    answer = console.client.post(
        "/login",
        data={"name": "ana", "password": PASSWORDS["ana"], "csrf": token.group(1), "next": target},
        follow_redirects=False,
    )
    assert answer.headers["location"] == "/"


def test_a_session_ends_when_it_expires_when_signed_out_and_when_the_user_goes(
    console: ConsoleHarness,
) -> None:
    console.sign_in("ana")
    console.clock.advance(hours=console.settings.console.session_hours, seconds=1)
    assert console.client.get("/", follow_redirects=False).status_code == 303
    console.sign_in("ana")
    assert console.post("/logout").status_code == 303
    assert console.client.get("/", follow_redirects=False).status_code == 303
    console.sign_in("vic")
    console.app.state.console.directory = Directory({"ana": accounts()["ana"]})
    assert console.client.get("/", follow_redirects=False).status_code == 303


def test_pages_carry_the_security_headers(console: ConsoleHarness) -> None:
    console.sign_in("ana")
    answer = console.client.get("/")
    assert "default-src 'self'" in answer.headers["content-security-policy"]
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["cache-control"] == "no-store"
    assert "cdn" not in answer.text.lower() and "https://" not in answer.text


def test_the_live_part_answers_304_until_something_changes(console: ConsoleHarness) -> None:
    console.sign_in("ana")
    first = console.client.get("/activity", params={"part": "live"})
    etag = first.headers["etag"]
    assert first.status_code == 200 and "<html" not in first.text
    again = console.client.get(
        "/activity", params={"part": "live"}, headers={"If-None-Match": etag}
    )
    assert again.status_code == 304
    console.post("/logout")  # an action: the activity changed
    console.sign_in("ana")
    changed = console.client.get(
        "/activity", params={"part": "live"}, headers={"If-None-Match": etag}
    )
    assert changed.status_code == 200 and "signed out" in changed.text
