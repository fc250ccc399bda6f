"""The console under test: the real app on a real database, signed in as a person would.

``console`` gives a :class:`ConsoleHarness`: a TestClient on the app, the fake clock,
the database and the settings, with two users (``ana`` an operator, ``vic`` a viewer)
and helpers that sign in and post forms with the session's CSRF token.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

import httpx
import pytest
import redis
from fastapi import FastAPI
from httpx import Response

from console.app import create_app
from console.users import Account, Directory, hash_password
from engine.clock import FakeClock
from engine.db import Database
from engine.settings import ConsoleSettings, PhoneSettings, RedisSettings, Settings
from tests.serving import serving

PASSWORDS = {"ana": "operator-pass-1", "vic": "viewer-pass-1"}
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@cache
def accounts() -> dict[str, Account]:
    """The test users, hashed once per process (argon2 takes a while on purpose)."""
    return {
        "ana": Account("ana", "operator", hash_password(PASSWORDS["ana"])),
        "vic": Account("vic", "viewer", hash_password(PASSWORDS["vic"])),
    }


def base_settings(namespace: str, **changes: Any) -> Settings:
    """Settings with two phones and a fast-refreshing console."""
    settings = Settings(
        redis=RedisSettings(namespace=namespace),
        phones=(
            PhoneSettings(id="01", phone="+40700000001"),
            PhoneSettings(id="02", phone="+40700000002"),
        ),
        console=ConsoleSettings(refresh_s=5, report_max_age_s=0),
    )
    return replace(settings, **changes)


@dataclass
class ConsoleHarness:
    client: httpx.Client
    app: FastAPI
    clock: FakeClock
    database: Database
    settings: Settings

    def sign_in(self, name: str = "ana", password: str | None = None) -> Response:
        """Sign in through the form, as a browser does."""
        form = self.client.get("/login")
        token = _CSRF.search(form.text)
        assert token is not None, form.text
        return self.client.post(
            "/login",
            data={"name": name, "password": password or PASSWORDS[name], "csrf": token.group(1)},
            follow_redirects=False,
        )

    def csrf(self, path: str = "/") -> str:
        """The session's CSRF token, read from a page's forms."""
        page = self.client.get(path)
        found = _CSRF.search(page.text)
        assert found is not None, page.text
        return found.group(1)

    def post(self, path: str, data: dict[str, str] | None = None) -> Response:
        """POST a form with the session's CSRF token; redirects are not followed."""
        return self.client.post(
            path, data={"csrf": self.csrf(), **(data or {})}, follow_redirects=False
        )


@pytest.fixture
def make_console(
    sqlite_database: Database, redis_client: redis.Redis, redis_namespace: str
) -> Iterator[Callable[..., ConsoleHarness]]:
    """``make_console(settings=None, database=None)``: a harness on SQLite by default,
    the app served by uvicorn on a loopback port."""
    with ExitStack() as stack:

        def make(
            settings: Settings | None = None, database: Database | None = None
        ) -> ConsoleHarness:
            settings = settings or base_settings(redis_namespace)
            database = database or sqlite_database
            clock = FakeClock()
            directory = Directory(accounts())
            app = create_app(settings, database, clock, directory, redis_client=redis_client)
            url = stack.enter_context(serving(app))
            client = stack.enter_context(httpx.Client(base_url=url, timeout=10.0))
            return ConsoleHarness(client, app, clock, database, settings)

        yield make


@pytest.fixture
def console(make_console: Callable[..., ConsoleHarness]) -> ConsoleHarness:
    """A console on SQLite, nobody signed in yet."""
    return make_console()
