"""What every console page shares: who is asking, the forms' CSRF check, rendering, the
live refresh, and the record of actions.

A page handler takes a :class:`Visitor` from :func:`viewer` (any signed-in user) or
an :class:`Act` from :func:`act` (a POSTed form of an operator, its CSRF token
checked), reads through the shared query layer with :func:`connect`, and answers
:func:`page` (a whole page, or only its ``live`` block when the page's script asks
whether its figures changed) or :func:`done` (record the action, redirect back).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import redis
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool

from console import audit, sessions
from console.freshness import data_version
from console.report_cache import ReportCache
from console.users import Directory, User
from engine.clock import Clock
from engine.db import Database
from engine.settings import Settings

__all__ = [
    "Act",
    "ConsoleState",
    "Refused",
    "SignInRequired",
    "Unchanged",
    "Visitor",
    "act",
    "connect",
    "done",
    "noted",
    "page",
    "signed_form",
    "state",
    "templates",
    "viewer",
]

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
FLASH_COOKIE = "outreach_console_note"


@dataclass
class ConsoleState:
    """What the pages read from: built once by :func:`console.app.create_app`."""

    settings: Settings
    database: Database
    clock: Clock
    directory: Directory
    redis: redis.Redis
    reports: ReportCache


@dataclass(frozen=True)
class Visitor:
    """A signed-in person on this request."""

    user: User
    csrf: str
    token: str


@dataclass(frozen=True)
class Act:
    """A form an operator POSTed, its CSRF token checked."""

    visitor: Visitor
    form: Mapping[str, str]

    @property
    def user(self) -> str:
        return self.visitor.user.name


class SignInRequired(Exception):  # noqa: N818 (a signal handled into a redirect)
    """No live session: a page redirects to the sign-in, anything else answers 401."""


class Refused(Exception):  # noqa: N818 (a signal handled into a 403 page)
    """Signed in but not allowed (403): a viewer acting, a form without its token."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Unchanged(Exception):  # noqa: N818 (a signal handled into a 304)
    """The figures the page shows have not changed since it asked (304)."""

    def __init__(self, etag: str) -> None:
        super().__init__(etag)
        self.etag = etag


def state(request: Request) -> ConsoleState:
    console: ConsoleState = request.app.state.console
    return console


def templates(request: Request) -> Jinja2Templates:
    found: Jinja2Templates = request.app.state.templates
    return found


@contextmanager
def connect(request: Request) -> Iterator[Connection]:
    """A connection for a page's reads or an action's writes, committed at the end."""
    with state(request).database.engine.begin() as connection:
        yield connection


def now(request: Request) -> datetime:
    return state(request).clock.now()


def _visitor(request: Request) -> Visitor:
    console = state(request)
    token = request.cookies.get(sessions.COOKIE)
    with console.database.engine.begin() as connection:
        found = sessions.find(connection, token, console.clock.now())
    if found is None or token is None:
        raise SignInRequired
    role = console.directory.role_of(found.user.name)
    if role is None:  # removed from the users since signing in
        raise SignInRequired
    return Visitor(User(found.user.name, role), found.csrf, token)


def viewer(request: Request) -> Visitor:
    """Dependency: any signed-in user. For the live refresh (``?part=live``), answers 304
    here, before the page's queries run, when nothing it shows has changed."""
    visitor = _visitor(request)
    if request.query_params.get("part") == "live":
        etag = _etag(request)
        if request.headers.get("if-none-match") == etag:
            raise Unchanged(etag)
    return visitor


async def signed_form(request: Request) -> Act:
    """Dependency: a POSTed form of any signed-in user whose CSRF token is the session's."""
    visitor = await run_in_threadpool(_visitor, request)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    sent = form.get("csrf", "")
    if not sent or not hmac.compare_digest(sent.encode(), visitor.csrf.encode()):
        await run_in_threadpool(_refusal, request, visitor.user.name, "missing or wrong CSRF token")
        raise Refused("This form has expired or did not come from this console: reload the page.")
    return Act(visitor, form)


async def act(request: Request) -> Act:
    """Dependency: a POSTed form of an operator, its CSRF token checked."""
    submitted = await signed_form(request)
    if not submitted.visitor.user.can_act:
        await run_in_threadpool(_refusal, request, submitted.user, "viewers may not act")
        raise Refused("Your role is viewer: an operator can do this.")
    return submitted


def _refusal(request: Request, user: str, why: str) -> None:
    with connect(request) as connection:
        audit.record(connection, now(request), user, "refused", target=request.url.path, detail=why)


def _etag(request: Request) -> str:
    with connect(request) as connection:
        version = data_version(connection, now(request))
    return f'"{version}"'


def page(
    request: Request, visitor: Visitor, template: str, *, title: str, **context: Any
) -> Response:
    """The page ``template`` for ``visitor``; only its ``live`` block (with the ETag the
    next refresh sends back) when the page's script asks for ``?part=live``."""
    console = state(request)
    values = {
        "request": request, "visitor": visitor, "title": title, "now": console.clock.now(),
        "refresh_s": console.settings.console.refresh_s, "etag": _etag(request),
        "note": unquote(request.cookies.get(FLASH_COOKIE, "")) or None, **context,
    }  # fmt: skip
    found = templates(request)
    if request.query_params.get("part") == "live":
        template_object = found.get_template(template)
        block = template_object.blocks.get("live")
        body = "" if block is None else "".join(block(template_object.new_context(values)))
        return HTMLResponse(body, headers={"ETag": values["etag"], "Cache-Control": "no-cache"})
    response = found.TemplateResponse(request, template, values)
    if values["note"]:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def done(
    request: Request, submitted: Act, action: str, target: str | None, note: str,
    *, to: str, detail: str | None = None,
) -> Response:  # fmt: skip
    """Record that the operator did ``action`` to ``target``, and send them to ``to``
    with ``note`` shown once."""
    with connect(request) as connection:
        audit.record(
            connection, now(request), submitted.user, action, target=target,
            detail=detail or note,
        )  # fmt: skip
    state(request).reports.clear()  # what was done shows on the next page
    return noted(note, to=to)


def noted(note: str, *, to: str) -> Response:
    """Send the visitor to ``to`` with ``note`` shown once, recording nothing: for a
    user error (an unknown id, an invalid number) where nothing was done."""
    response = RedirectResponse(to, status_code=303)
    response.set_cookie(
        FLASH_COOKIE, quote(note, safe=""), max_age=60, httponly=True,
        samesite="strict", path="/",
    )  # fmt: skip
    return response


def svg(markup: str) -> Markup:
    """An SVG made by :mod:`console.charts` (which escapes every label) for a template."""
    return Markup(markup)  # noqa: S704 (the charts escape their text themselves)
