"""The database, Redis and OTLP collector URLs outreach can use, checked when the config loads.

A URL the engine cannot use would otherwise fail deep inside SQLAlchemy or redis-py,
in every process, as a long traceback (and a service manager would restart it
forever): these checks turn it into one line naming the key and the accepted forms.
Each returns the problem, or ``None`` for a usable URL.
"""

from __future__ import annotations

DATABASE_FORMS = (
    "sqlite:///PATH (the default: one machine) or "
    "postgresql+psycopg://USER:PASSWORD@HOST:PORT/DATABASE"
)
OTLP_FORMS = "http://HOST:4318 or https://HOST:PORT (an OTLP/HTTP collector), or empty: off"
REDIS_FORMS = "redis://HOST:PORT/DB, rediss://HOST:PORT/DB (TLS) or unix:///PATH/redis.sock"
# The drivers installed with outreach: SQLite's, and psycopg 3 (SQLAlchemy's default
# for a bare postgresql:// URL).
_DATABASE_DRIVERS = frozenset({"sqlite", "sqlite+pysqlite", "postgresql", "postgresql+psycopg"})


def database_url_problem(url: str) -> str | None:
    """Why ``url`` is not a database outreach can use (``None``: it is one)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        return f"not a database URL; use {DATABASE_FORMS}"
    if parsed.drivername not in _DATABASE_DRIVERS:
        shown = parsed.render_as_string(hide_password=True)
        return f"{shown!r} is not a database outreach supports; use {DATABASE_FORMS}"
    return None


def redis_url_problem(url: str) -> str | None:
    """Why ``url`` is not a Redis URL (``None``: it is one).

    The scheme and the port are checked here; a URL with query arguments (timeouts, a
    database, ...) is also read by redis-py's own parser, which knows their types. A
    plain URL does not import redis-py: commands that never touch Redis (``phones
    list``) start without it.
    """
    from urllib.parse import urlsplit

    problem = None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (a port that is not a number, or out of range, raises here)
    except ValueError as error:
        problem = str(error)
    else:
        if not url.lower().startswith(("redis://", "rediss://", "unix://")):
            problem = "the scheme must be redis://, rediss:// or unix://"
        elif parts.query:
            problem = _redis_query_problem(url)
    if problem is None:
        return None
    return f"{_without_password(url)!r} is not a Redis URL ({problem}); use {REDIS_FORMS}"


def _redis_query_problem(url: str) -> str | None:
    from redis.connection import parse_url

    try:
        parse_url(url)  # type: ignore[no-untyped-call]
    except ValueError as error:
        return str(error)
    return None


def otlp_endpoint_problem(url: str) -> str | None:
    """Why ``url`` is not an OTLP/HTTP collector's address (``None``: it is one, or it
    is empty and tracing is off)."""
    from urllib.parse import urlsplit

    if not url:
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (a port that is not a number raises here)
    except ValueError as error:
        return f"{_without_password(url)!r} is not a URL ({error}); use {OTLP_FORMS}"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{_without_password(url)!r} is not an http(s) URL with a host; use {OTLP_FORMS}"
    return None


def _without_password(url: str) -> str:
    """``url`` with anything between ``//`` and ``@`` (user and password) hidden."""
    scheme, slashes, rest = url.partition("//")
    if slashes and "@" in rest:
        return f"{scheme}//***@{rest.rpartition('@')[2]}"
    return url
