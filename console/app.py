"""The console's web application: sign-in, the pages, the headers every answer carries.

:func:`create_app` builds it on the settings, database and clock the command loaded
once; pages come from :mod:`console.pages`, each an ``APIRouter``.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from functools import partial
from typing import Annotated
from urllib.parse import unquote, urlsplit

import redis
from fastapi import Depends, FastAPI, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from console import audit, sessions
from console.freshness import rows_version
from console.pages import ROUTERS
from console.report_cache import ReportCache
from console.throttle import LoginThrottle
from console.users import BusyError, Directory
from console.web import (
    STATIC,
    TEMPLATES,
    Act,
    ConsoleState,
    Refused,
    SignInRequired,
    Unchanged,
    connect,
    now,
    signed_form,
    svg,
)
from engine.clock import Clock
from engine.db import Database
from engine.errors import StorageError
from engine.settings import Settings

__all__ = ["create_app"]

log = logging.getLogger(__name__)

LOGIN_CSRF_COOKIE = "outreach_console_login"
REDIS_TIMEOUT_S = 1.0

_SECURITY_HEADERS = {
    # Everything comes from this server: no CDN, no inline script.
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


class _Headers(BaseHTTPMiddleware):
    """The security headers on every answer; a request whose path or query holds a control
    character (a NUL reaches no page: PostgreSQL refuses it in text) is answered 400."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        raw = unquote(request.url.path) + unquote(request.url.query)
        if "\x00" in raw:
            response: Response = HTMLResponse("Not understood: a control character.", 400)
        else:
            response = await call_next(request)
        for name, value in _SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if not request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        secure = request.app.state.console.settings.console.secure_cookies
        if secure or request.url.scheme == "https":  # every cookie only over HTTPS
            headers = response.headers.raw
            for index, (key, data) in enumerate(headers):
                if key.lower() == b"set-cookie" and b"secure" not in data.lower():
                    headers[index] = (key, data + b"; Secure")
        return response


def create_app(
    settings: Settings, database: Database, clock: Clock, directory: Directory,
    *, redis_client: redis.Redis | None = None, throttle: LoginThrottle | None = None,
) -> FastAPI:  # fmt: skip
    """The console on ``database``; ``directory`` says who may sign in."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    client = redis_client or redis.Redis.from_url(
        settings.redis.url, socket_connect_timeout=REDIS_TIMEOUT_S, socket_timeout=REDIS_TIMEOUT_S
    )
    reports = ReportCache(
        clock, partial(_rows_version, database), max_age_s=settings.console.report_max_age_s
    )
    app.state.console = ConsoleState(settings, database, clock, directory, client, reports)
    found = Jinja2Templates(directory=str(TEMPLATES))
    found.env.globals["svg"] = svg
    found.env.filters["ago"] = _ago
    found.env.filters["when"] = _when
    app.state.templates = found
    app.state.throttle = throttle or LoginThrottle()
    app.add_middleware(_Headers)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    _handlers(app, found)
    _sign_in(app, found)
    for router in ROUTERS:
        app.include_router(router)
    return app


def _rows_version(database: Database) -> str:
    with database.engine.connect() as connection:
        return rows_version(connection)


def _handlers(app: FastAPI, found: Jinja2Templates) -> None:
    @app.exception_handler(SignInRequired)
    async def sign_in_required(request: Request, _: SignInRequired) -> Response:
        if request.method == "GET" and request.query_params.get("part") != "live":
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={_quote_next(target)}", status_code=303)
        return HTMLResponse("Sign in first.", status_code=401)

    @app.exception_handler(Refused)
    async def refused(request: Request, error: Refused) -> Response:
        return found.TemplateResponse(
            request, "error.html", {"title": "Not allowed", "message": error.reason},
            status_code=403,
        )  # fmt: skip

    @app.exception_handler(Unchanged)
    async def unchanged(_: Request, error: Unchanged) -> Response:
        return Response(status_code=304, headers={"ETag": error.etag})

    def error_page(request: Request, title: str, message: str, status: int) -> Response:
        response = found.TemplateResponse(
            request, "error.html", {"title": title, "message": message}, status_code=status
        )
        response.headers.update(_SECURITY_HEADERS)
        return response

    @app.exception_handler(StorageError)
    async def storage(request: Request, error: StorageError) -> Response:
        return error_page(
            request, "Database unavailable", f"The database does not answer: {error}", 503
        )

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    async def database_gone(request: Request, error: Exception) -> Response:
        log.warning("console: the database does not answer: %s", error)
        message = "The database does not answer; try again in a moment."
        return error_page(request, "Database unavailable", message, 503)

    @app.exception_handler(DBAPIError)
    @app.exception_handler(OverflowError)
    async def unusable_input(request: Request, error: Exception) -> Response:
        log.info("console: input the database refused: %s", error)
        message = (
            "The database cannot use what was typed (a number too large, a control character)."
        )
        return error_page(request, "Not understood", message, 400)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> Response:
        names = sorted({str(e.get("loc", ("", "?"))[-1]) for e in error.errors()})
        message = f"Not understood: {', '.join(names)} (a number was expected, or it is too long)."
        return error_page(request, "Not understood", message, 400)

    @app.exception_handler(Exception)
    async def failed(request: Request, error: Exception) -> Response:
        return error_page(
            request, "Something went wrong", "The error is in the console's log.", 500
        )


def _quote_next(target: str) -> str:
    from urllib.parse import quote

    return quote(target, safe="/")


def _safe_next(target: str | None) -> str:
    """Only a path of this site: never a redirect elsewhere."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if (
        parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//")
        or "\\" in target or any(ord(c) < 32 for c in target)
    ):  # fmt: skip
        return "/"
    return target


def _sign_in(app: FastAPI, found: Jinja2Templates) -> None:
    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request, next: str | None = None) -> Response:
        token = secrets.token_urlsafe(32)
        response = found.TemplateResponse(
            request, "login.html", {"title": "Sign in", "csrf": token, "next": _safe_next(next)}
        )
        _set_cookie(request, response, LOGIN_CSRF_COOKIE, token, max_age=3600)
        return response

    @app.post("/login")
    def login(
        request: Request,
        name: Annotated[str, Form()] = "",
        password: Annotated[str, Form()] = "",
        csrf: Annotated[str, Form()] = "",
        next: Annotated[str, Form()] = "/",
    ) -> Response:
        console = request.app.state.console
        throttle: LoginThrottle = request.app.state.throttle
        expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
        if not csrf or not hmac.compare_digest(csrf.encode(), expected.encode()):
            return _login_again(request, found, "The sign-in form expired: try again.", 403, next)
        address = request.client.host if request.client else "unknown"
        wait = throttle.admit(name, address, time.monotonic())
        if wait > 0:
            minutes = max(1, round(wait / 60))
            message = f"Too many failed sign-ins: try again in {minutes} min."
            return _login_again(request, found, message, 429, next)
        try:
            user = console.directory.verify(name, password)
        except BusyError as error:
            return _login_again(request, found, f"{str(error).capitalize()}.", 503, next)
        with connect(request) as connection:
            if user is None:
                audit.record(connection, now(request), name[:64] or "-", "sign-in failed")
                return _login_again(request, found, "Wrong name or password.", 401, next)
            throttle.succeeded(name, address)
            hours = console.settings.console.session_hours
            token, _ = sessions.start(connection, user, now(request), hours)
            audit.record(connection, now(request), user.name, "signed in")
        response = RedirectResponse(_safe_next(next), status_code=303)
        _set_cookie(request, response, sessions.COOKIE, token, max_age=int(hours * 3600))
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
        return response

    @app.post("/logout")
    def logout(request: Request, submitted: Annotated[Act, Depends(signed_form)]) -> Response:
        with connect(request) as connection:
            sessions.end(connection, submitted.visitor.token)
            audit.record(connection, now(request), submitted.user, "signed out")
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(sessions.COOKIE, path="/")
        return response


def _login_again(
    request: Request, found: Jinja2Templates, message: str, status: int, target: str
) -> Response:
    token = secrets.token_urlsafe(32)
    response = found.TemplateResponse(
        request, "login.html",
        {"title": "Sign in", "csrf": token, "next": _safe_next(target), "error": message},
        status_code=status,
    )  # fmt: skip
    _set_cookie(request, response, LOGIN_CSRF_COOKIE, token, max_age=3600)
    return response


def _set_cookie(
    request: Request, response: Response, name: str, value: str, *, max_age: int
) -> None:
    response.set_cookie(
        name, value, max_age=max_age, httponly=True, samesite="strict", path="/",
        secure=request.url.scheme == "https",
    )  # fmt: skip


def _ago(moment: object, now: object) -> str:
    """``3 min ago``, ``in 2 h``: a moment relative to the page's ``now`` (the engine's
    clock), for tables."""
    from datetime import datetime

    if not isinstance(moment, datetime) or not isinstance(now, datetime):
        return "-"
    seconds = (moment - now).total_seconds()
    future, seconds = seconds > 0, abs(seconds)
    if seconds < 60:
        text = f"{int(seconds)} s"
    elif seconds < 3600:
        text = f"{int(seconds // 60)} min"
    elif seconds < 86400:
        text = f"{seconds / 3600:.1f} h"
    else:
        text = f"{seconds / 86400:.1f} d"
    return f"in {text}" if future else f"{text} ago"


def _when(moment: object) -> str:
    from datetime import datetime

    return moment.strftime("%Y-%m-%d %H:%M") if isinstance(moment, datetime) else "-"
