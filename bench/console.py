"""Console benchmark: every page's answer time with 1,000,000 enrollments and 20 phones.

Rows are generated in the database (``INSERT ... SELECT generate_series``): 1,000,000
leads (names, companies, a tag each), four campaigns of 250,000 enrollments in a 3-step
sequence (two active, one paused, one completed). Of the enrollments about 61% have
completed the sequence, 29% are running (due now, or waiting for a later follow-up),
5% replied, 0.5% opted out, 0.4% have an invalid number and 0.1% are dead letters
(their step failed for good). Each step sent has its outbound message (about
2.4 million, most delivered or read, with two A/B variants); each reply and opt-out
its inbound message, webhook event and, for one reply in five, a review flag (half
still open). 20 phones (two paused, one offline) with today's quota use, a few
hundred alerts over the last two weeks, opt-outs and hand-added numbers on the
suppression list, and a record of console actions.

The real console (:func:`console.app.create_app`) is served by uvicorn on a loopback
port, a user signs in through the form, and every GET route of the app is timed with
httpx: ``--runs`` requests after 3 warm-ups, p50, p95 and max per page, plus the live
refresh answered 304 (``?part=live`` with the page's ETag). Routes are found on the app
(pages added later are measured without editing this file); a path parameter is filled
from the seeded rows by its name and the route's first segment (a campaign's name, a
lead's number or id, ...), trying each candidate until the page answers 200; a route
whose parameters match nothing is skipped with a note. The clock is fixed at the
moment the rows were seeded around. Target: every page under 200 ms p95.

    .venv/bin/python bench/console.py [--enrollments 1000000] [--phones 20] [--runs 30] [--keep]
    .venv/bin/python bench/console.py --sqlite --enrollments 100000

Needs PostgreSQL on 127.0.0.1 and Redis (for the console's halt and budget reads). It
creates and drops its own database; ``--keep`` seeds ``outreach_bench_console`` once
and reuses it while it holds as many enrollments as asked (migrations still run, so
a new index is built on the kept rows). ``--sqlite`` seeds a file database in a
temporary folder instead.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import psycopg
import redis
from sqlalchemy import event, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.scratch import PG_ADMIN, REDIS_URL, drop_namespace, scratch_database  # noqa: E402
from console.app import create_app  # noqa: E402
from console.pages import ROUTERS  # noqa: E402
from console.users import Account, Directory, hash_password  # noqa: E402
from engine.clock import FakeClock  # noqa: E402
from engine.db import Database  # noqa: E402
from engine.settings import load_settings  # noqa: E402
from phones import sync_phones  # noqa: E402
from tests.serving import serving  # noqa: E402

NOW = datetime(2026, 1, 7, 10, 0, tzinfo=UTC)  # a Wednesday: 12:00 in Bucharest
KEPT_DATABASE = "outreach_bench_console"
USER, PASSWORD = "bench", "bench-password-1"
WARMUPS = 3
TARGET_MS = 200.0
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_PARAMETER = re.compile(r"\{([^}:]+)(?::[^}]+)?\}")

CONFIG = """
[database]
url = "{url}"
[redis]
url = "{redis_url}"
namespace = "{namespace}"
[quota]
new_contacts_per_day = 200
warmup = []
{phones}
[sequences.intro]
timezone = "lead"
send_window = {{ days = "mon-fri", start = "09:00", end = "18:00" }}
[[sequences.intro.steps]]
after = "0m"
template = "{{Hi|Hello}} {{{{name|there}}}}, a question about {{{{company|your team}}}}?"
[[sequences.intro.steps]]
after = "2d"
template = "Any thoughts, {{{{name|there}}}}?"
[[sequences.intro.steps]]
after = "4d"
template = "Last note from me, {{{{name|there}}}}."
"""

# Enrollment i (1-based) belongs to campaign 1 + (i - 1) * 4 / total and lead i. Its
# state is chosen by i modulo 1000 (``k``): replies and opt-outs first, then dead
# letters and invalid numbers, then running journeys (due now or later), the rest
# completed. ``sent`` is how many outbound messages its steps left.
SEED = """
INSERT INTO campaigns (id, name, sequence, state, tag, created_at, updated_at)
VALUES (1, 'spring-a', 'intro', 'active', 'spring', :now - interval '30 days', :now),
       (2, 'spring-b', 'intro', 'active', 'spring', :now - interval '20 days', :now),
       (3, 'winter-retail', 'intro', 'paused', 'winter', :now - interval '60 days', :now),
       (4, 'autumn-pilot', 'intro', 'completed', NULL, :now - interval '90 days', :now);

INSERT INTO leads (phone, variables, timezone, region, created_at, updated_at)
SELECT '+4072' || lpad(i::text, 7, '0'),
       json_build_object('name', (ARRAY['Ana', 'Ion', 'Maria', 'Radu', 'Elena', 'Mihai'])[1 + i % 6]
                         || ' ' || 'Lead' || i, 'company', 'Company ' || (i % 5000)),
       'Europe/Bucharest', 'RO', :now - interval '90 days', :now
FROM generate_series(1, :total) AS i;

INSERT INTO lead_tags (lead_id, tag)
SELECT i, (ARRAY['spring', 'spring', 'winter', 'autumn'])[1 + (i - 1) * 4 / :total]
FROM generate_series(1, :total) AS i;

INSERT INTO enrollments (id, lead_id, campaign_id, sequence, state, step, step_state, due_at,
                         phone_id, chat_id, attempts, last_error, end_reason, ended_at,
                         created_at, updated_at)
SELECT i, i, campaign_id, 'intro', state,
       CASE WHEN state IN ('pending', 'invalid_number') THEN 0
            WHEN state = 'completed' THEN 2
            WHEN state = 'active' AND k = 55 THEN i % 3
            ELSE 1 + i % 2 END,
       CASE WHEN state = 'active' AND k = 55 THEN 'failed'
            WHEN state = 'pending' THEN 'due'
            WHEN state = 'active' AND k = 80 THEN 'queued'
            WHEN state = 'active' THEN 'due'
            WHEN state = 'invalid_number' THEN 'failed'
            ELSE 'sent' END,
       CASE WHEN state = 'pending' THEN :now - make_interval(secs => k)
            WHEN state = 'active' THEN :now + make_interval(secs => (i * 37) % 432000)
            END,
       CASE WHEN state = 'pending' THEN NULL ELSE lpad((1 + i % :phones)::text, 2, '0') END,
       CASE WHEN state = 'pending' THEN NULL ELSE 100000000 + i END,
       CASE WHEN state = 'active' AND k = 55 THEN 5 ELSE 0 END,
       CASE WHEN state = 'active' AND k = 55 THEN 'TimelinesAI answered 500 five times'
            WHEN state = 'invalid_number' THEN 'not on WhatsApp' END,
       CASE state WHEN 'completed' THEN 'sequence_completed' WHEN 'replied' THEN 'replied'
                  WHEN 'opted_out' THEN 'opted_out' WHEN 'invalid_number' THEN 'invalid_number'
                  END,
       CASE WHEN state IN ('completed', 'replied', 'opted_out', 'invalid_number')
            THEN :now - make_interval(secs => (i * 53) % 1209600) END,
       :now - make_interval(days => 14 + campaign_id * 5), :now - make_interval(secs => i % 86400)
FROM (
    SELECT i, campaign_id, k,
           CASE WHEN k < 50 THEN 'replied'
                WHEN k < 55 THEN 'opted_out'
                WHEN k < 56 AND campaign_id < 4 THEN 'active'
                WHEN k < 60 THEN 'invalid_number'
                WHEN k < 80 AND campaign_id < 4 THEN 'pending'
                WHEN k < 350 AND campaign_id < 4 THEN 'active'
                ELSE 'completed' END AS state
    FROM (SELECT i, 1 + (i - 1) * 4 / :total AS campaign_id, i % 1000 AS k
          FROM generate_series(1, :total) AS i) AS numbered
) AS plan;

SELECT setval(pg_get_serial_sequence('enrollments', 'id'), :total);

INSERT INTO messages (direction, enrollment_id, step, lead_id, phone_id, chat_id, message_uid,
                      text, template_variant, status, sent_at, delivered_at, read_at,
                      created_at, peer_phone)
SELECT 'out', e.id, s, e.lead_id, e.phone_id, e.chat_id, 'out-' || e.id || '-' || s,
       'Hello Lead' || e.id || ', a question about your team?', (e.id + s) % 2,
       CASE WHEN e.id % 10 = 0 THEN 'sent' WHEN e.id % 10 < 5 THEN 'delivered' ELSE 'read' END,
       sent, CASE WHEN e.id % 10 > 0 THEN sent + interval '1 minute' END,
       CASE WHEN e.id % 10 >= 5 THEN sent + interval '1 hour' END,
       sent, '+4072' || lpad(e.id::text, 7, '0')
FROM enrollments AS e
CROSS JOIN LATERAL generate_series(0, CASE
    WHEN e.state = 'completed' THEN 2
    WHEN e.state IN ('replied', 'opted_out') THEN e.step
    WHEN e.state = 'active' AND e.step_state = 'failed' THEN e.step - 1
    WHEN e.state = 'active' THEN e.step - 1
    ELSE -1 END) AS s
CROSS JOIN LATERAL (SELECT :now - make_interval(days => 12 - 3 * s, secs => e.id % 86400)) AS t(sent);

INSERT INTO messages (direction, enrollment_id, step, lead_id, phone_id, chat_id, message_uid,
                      text, status, sent_at, created_at, peer_phone, intent, intents,
                      classified_at, origin)
SELECT 'in', e.id, e.step, e.lead_id, e.phone_id, e.chat_id, 'in-' || e.id,
       CASE WHEN e.state = 'opted_out' THEN 'stop, please remove me'
            WHEN e.id % 3 = 0 THEN 'Sounds interesting, call me tomorrow'
            ELSE 'Not right now, thanks' END,
       'received', e.ended_at, e.ended_at, '+4072' || lpad(e.id::text, 7, '0'),
       CASE WHEN e.state = 'opted_out' THEN 'opt_out'
            WHEN e.id % 3 = 0 THEN 'interested' ELSE 'not_now' END,
       CASE WHEN e.state = 'opted_out' THEN '["opt_out"]'::json
            WHEN e.id % 3 = 0 THEN '["interested"]'::json ELSE '["not_now"]'::json END,
       e.ended_at, 'WhatsApp'
FROM enrollments AS e WHERE e.state IN ('replied', 'opted_out');

INSERT INTO webhook_events (dedupe_key, event_type, payload, received_at, processed_at)
SELECT 'received:' || m.message_uid, 'message:received:new',
       json_build_object('message_uid', m.message_uid, 'text', m.text), m.created_at,
       m.created_at
FROM messages AS m WHERE m.direction = 'in';

INSERT INTO review_flags (message_id, lead_id, enrollment_id, priority, reasons, created_at,
                          resolved_at, resolved_by)
SELECT m.id, m.lead_id, m.enrollment_id, 1 + m.enrollment_id % 3,
       json_build_object('intent', m.intent), m.created_at,
       CASE WHEN m.enrollment_id % 2 = 0 THEN m.created_at + interval '2 hours' END,
       CASE WHEN m.enrollment_id % 2 = 0 THEN 'ana' END
FROM messages AS m WHERE m.direction = 'in' AND m.enrollment_id % 5 = 0;

INSERT INTO suppressions (phone, reason, source, created_at)
SELECT '+4072' || lpad(e.lead_id::text, 7, '0'), 'opt_out', 'reply', e.ended_at
FROM enrollments AS e WHERE e.state = 'opted_out';

INSERT INTO suppressions (phone, reason, source, created_at)
SELECT '+4073' || lpad(i::text, 7, '0'), 'manual', 'do-not-contact.csv',
       :now - make_interval(hours => i)
FROM generate_series(1, 2000) AS i;

INSERT INTO alerts (kind, severity, phone_id, message, details, created_at)
SELECT (ARRAY['dead_letter', 'phone_state', 'quota_full', 'dead_letter'])[1 + i % 4],
       CASE WHEN i % 4 = 1 THEN 'critical' ELSE 'warning' END,
       lpad((1 + i % :phones)::text, 2, '0'), 'Alert number ' || i,
       json_build_object('n', i), :now - make_interval(mins => i * 40)
FROM generate_series(1, 500) AS i;

INSERT INTO quota_usage (phone_id, day, used)
SELECT lpad(p::text, 2, '0'), day, 120 + p * 3
FROM generate_series(1, :phones) AS p,
     generate_series(CAST(:now AS date) - 30, CAST(:now AS date), interval '1 day') AS day;

UPDATE phones SET state = CASE WHEN id IN ('03', '07') THEN 'paused'
                               WHEN id = '11' THEN 'offline' ELSE 'active' END,
       last_send_at = :now - make_interval(secs => id::int * 17),
       next_send_at = :now + make_interval(secs => id::int * 7),
       sent_total = :total * 2 / :phones, failures_total = id::int;

INSERT INTO console_actions (at, "user", action, target, detail)
SELECT :now - make_interval(mins => i * 7), (ARRAY['ana', 'vic', 'bench'])[1 + i % 3],
       (ARRAY['signed in', 'paused campaign', 'resolved reply', 'retried dead letter'])[1 + i % 4],
       'spring-a', 'bench row ' || i
FROM generate_series(1, 3000) AS i;
"""


def settings_for(url: str, phones: int, namespace: str, folder: Path) -> Any:
    rows = "\n".join(
        f'[[phones]]\nid = "{i:02d}"\nphone = "+4477009{i:05d}"' for i in range(1, phones + 1)
    )
    config = folder / "config.toml"
    config.write_text(CONFIG.format(url=url, redis_url=REDIS_URL, namespace=namespace, phones=rows))
    return load_settings(config)


def seed(database: Database, total: int, phones: int) -> float:
    started = time.perf_counter()
    values = {"now": NOW, "total": total, "phones": phones}
    with database.engine.begin() as connection:
        for statement in SEED.split(";\n"):
            if statement.strip():
                connection.execute(text(statement), values)
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE"))
    return time.perf_counter() - started


def seed_sqlite(database: Database, settings: Any, total: int, phones: int) -> float:
    """The same rows on SQLite, made in a scratch PostgreSQL database (the dialects'
    generators differ) and copied table by table."""
    from sqlalchemy import insert

    from engine.tables import CA, A, C, E, L, M, P, Q, R, S, T, W

    started = time.perf_counter()
    with scratch_database() as url:
        source = Database(url)
        source.upgrade()
        with source.session() as session:
            sync_phones(session, settings.phones)
        seed(source, total, phones)
        with source.engine.connect() as reader, database.engine.begin() as writer:
            writer.execute(P.delete())
            for table in (P, C, L, T, E, M, W, R, S, A, Q, CA):
                result = reader.execution_options(stream_results=True).execute(table.select())
                for chunk in result.mappings().partitions(50_000):
                    writer.execute(insert(table), [dict(row) for row in chunk])
        source.dispose()
    with database.engine.connect() as connection:
        connection.exec_driver_sql("ANALYZE")
    return time.perf_counter() - started


@contextmanager
def postgres_database(keep: bool) -> Iterator[tuple[str, bool]]:
    """A database for the run and whether it already holds seeded rows."""
    if not keep:
        with scratch_database() as url:
            yield url, False
        return
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        exists = admin.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (KEPT_DATABASE,)
        ).fetchone()
        if not exists:
            admin.execute(f'CREATE DATABASE "{KEPT_DATABASE}"')
    yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{KEPT_DATABASE}", bool(exists)


def seeded_enrollments(database: Database) -> int:
    with database.engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM enrollments")).scalar_one())


def sign_in(client: httpx.Client) -> None:
    form = client.get("/login")
    token = _CSRF.search(form.text)
    if token is None:
        raise RuntimeError("no sign-in form")
    answer = client.post(
        "/login", data={"name": USER, "password": PASSWORD, "csrf": token.group(1)},
        follow_redirects=False,
    )  # fmt: skip
    if answer.status_code != 303:
        raise RuntimeError(f"sign-in answered {answer.status_code}")


def candidates(database: Database) -> dict[str, list[str]]:
    """Values a path parameter may take, by kind, read from the seeded rows (a running
    journey's lead, a replied one's, a dead letter's, ...)."""
    queries = {
        "campaign": "SELECT name FROM campaigns WHERE state = 'active' ORDER BY id LIMIT 1",
        "lead_phone": "SELECT l.phone FROM leads l JOIN enrollments e ON e.lead_id = l.id "
        "WHERE e.state = 'replied' ORDER BY e.id LIMIT 1",
        "lead_id": "SELECT lead_id FROM enrollments WHERE state = 'replied' ORDER BY id LIMIT 1",
        "enrollment": "SELECT id FROM enrollments WHERE step_state = 'failed' "
        "AND state = 'active' ORDER BY id LIMIT 1",
        "flag": "SELECT id FROM review_flags WHERE resolved_at IS NULL ORDER BY id LIMIT 1",
        "message": "SELECT message_id FROM review_flags WHERE resolved_at IS NULL "
        "ORDER BY id LIMIT 1",
        "suppression": "SELECT phone FROM suppressions ORDER BY created_at DESC LIMIT 1",
        "phone": "SELECT id FROM phones ORDER BY id LIMIT 1",
        "alert": "SELECT id FROM alerts ORDER BY id DESC LIMIT 1",
        "user": "SELECT 'ana'",
        "tag": "SELECT 'spring'",
        "sequence": "SELECT 'intro'",
    }
    found: dict[str, list[str]] = {}
    with database.engine.connect() as connection:
        for kind, query in queries.items():
            value = connection.execute(text(query)).scalar()
            found[kind] = [] if value is None else [str(value)]
    return found


def kinds_for(path: str, parameter: str) -> list[str]:
    """Which seeded values may fill ``parameter`` of ``path``, most likely first."""
    section = path.strip("/").split("/")[0].replace("-", "_")
    name = parameter.lower()
    by_section = {
        "campaigns": ["campaign"], "leads": ["lead_phone", "lead_id"],
        "replies": ["flag", "message", "lead_phone", "lead_id"],
        "dead_letters": ["enrollment"], "dlq": ["enrollment"],
        "do_not_contact": ["suppression"], "suppressions": ["suppression"],
        "phones": ["phone"], "alerts": ["alert"], "activity": ["user"],
    }  # fmt: skip
    by_name = {
        "campaign": ["campaign"], "name": ["campaign"], "campaign_name": ["campaign"],
        "number": ["lead_phone", "suppression"], "lead": ["lead_phone", "lead_id"],
        "lead_id": ["lead_id"], "phone": ["lead_phone", "phone", "suppression"],
        "phone_id": ["phone"], "enrollment_id": ["enrollment"], "enrollment": ["enrollment"],
        "flag_id": ["flag"], "flag": ["flag"], "message_id": ["message"], "reply_id": ["flag", "message"],
        "alert_id": ["alert"], "user": ["user"], "tag": ["tag"], "sequence": ["sequence"],
    }  # fmt: skip
    kinds = by_name.get(name, [])
    if name in ("id", "key", "value") or not kinds:
        kinds = kinds + by_section.get(section, [])
    return list(dict.fromkeys(kinds))


def get_routes(app: Any) -> list[str]:
    """Every GET route of the app and of the pages' routers, once each, sign-in aside."""
    from fastapi.routing import APIRoute

    everything = [*app.routes, *(r for router in ROUTERS for r in router.routes)]
    paths = [
        route.path for route in everything
        if isinstance(route, APIRoute) and "GET" in (route.methods or ()) and route.path != "/login"
    ]  # fmt: skip
    return list(dict.fromkeys(paths))


def fill(client: httpx.Client, path: str, values: dict[str, list[str]]) -> tuple[str | None, str]:
    """``path`` with its parameters filled so the page answers 200, or ``None`` and why."""
    parameters = _PARAMETER.findall(path)
    if not parameters:
        return path, ""
    choices: list[list[str]] = []
    for parameter in parameters:
        options = [v for kind in kinds_for(path, parameter) for v in values.get(kind, [])]
        if not options:
            return None, f"no seeded value for {{{parameter}}}"
        choices.append(list(dict.fromkeys(options)))
    tried = []
    for combination in _product(choices):
        filled = path
        for value in combination:
            filled = _PARAMETER.sub(quote(value, safe=""), filled, count=1)
        answer = client.get(filled, follow_redirects=False)
        tried.append(f"{filled} -> {answer.status_code}")
        if answer.status_code == 200:
            return filled, ""
    return None, "; ".join(tried)


def _product(choices: list[list[str]]) -> Iterator[list[str]]:
    if not choices:
        yield []
        return
    for first in choices[0]:
        for rest in _product(choices[1:]):
            yield [first, *rest]


class StatementTimes:
    """The time of each statement the console sends, summed by statement text, while on."""

    def __init__(self, database: Database) -> None:
        self.times: dict[str, float] = defaultdict(float)
        self.on = False
        event.listen(database.engine, "before_cursor_execute", self._before)
        event.listen(database.engine, "after_cursor_execute", self._after)

    def _before(self, conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        conn.info["bench_started"] = time.perf_counter()

    def _after(self, conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if self.on:
            self.times[statement] += time.perf_counter() - conn.info["bench_started"]

    @contextmanager
    def recording(self) -> Iterator[dict[str, float]]:
        self.times = defaultdict(float)
        self.on = True
        try:
            yield self.times
        finally:
            self.on = False


def timed(
    request: Callable[[], httpx.Response], runs: int, expect: int
) -> tuple[float, list[float]]:
    """Milliseconds of the first request and of ``runs`` requests after the warm-ups; each
    must answer ``expect``."""
    times, first = [], 0.0
    for index in range(WARMUPS + runs):
        started = time.perf_counter()
        answer = request()
        elapsed = (time.perf_counter() - started) * 1000
        if answer.status_code != expect:
            raise RuntimeError(f"{answer.request.url} answered {answer.status_code}")
        if index == 0:
            first = elapsed
        if index >= WARMUPS:
            times.append(elapsed)
    return first, times


def p95(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]


Timings = list[tuple[str, float, list[float], dict[str, float]]]
"""Per page: its path, the milliseconds of its first request and of each measured one,
the seconds of each statement."""


def measure(client: httpx.Client, database: Database, app: Any, runs: int) -> Timings:
    rows: Timings = []
    values = candidates(database)
    statements = StatementTimes(database)
    for route in get_routes(app):
        path, why = fill(client, route, values)
        if path is None:
            print(f"  skipped {route}: {why}")
            continue
        with statements.recording() as spent:
            first, times = timed(partial(client.get, path, follow_redirects=False), runs, 200)
        rows.append((path, first, times, dict(spent)))
    first = client.get("/", params={"part": "live"})
    etag = first.headers["etag"]
    with statements.recording() as spent:
        first, times = timed(
            lambda: client.get("/?part=live", headers={"If-None-Match": etag}), runs, 304
        )
    rows.append(("/?part=live (304)", first, times, dict(spent)))
    with statements.recording() as spent:
        first, times = timed(lambda: client.get("/?part=live"), runs, 200)
    rows.append(("/?part=live (200)", first, times, dict(spent)))
    return rows


def report_seconds(database: Database) -> dict[str, float]:
    """Seconds ``campaign status``'s report takes: every campaign, and the largest one."""
    from engine.reports import campaign_status

    spent = {}
    with database.engine.connect() as connection:
        started = time.perf_counter()
        every = campaign_status(connection)
        spent["every campaign"] = time.perf_counter() - started
        largest = max(every, key=lambda status: status.enrolled)
        started = time.perf_counter()
        campaign_status(connection, largest.name)
        spent[f"one campaign ({largest.enrolled:,} enrollments)"] = time.perf_counter() - started
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--enrollments", type=int, default=1_000_000)
    parser.add_argument("--phones", type=int, default=20)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--keep", action="store_true", help=f"seed {KEPT_DATABASE} once, reuse it")
    parser.add_argument("--sqlite", action="store_true", help="a SQLite file instead")
    parser.add_argument(
        "--max-age", type=float, default=15.0,
        help="[console] report_max_age_s: funnels kept in memory (0: computed per request)",
    )  # fmt: skip
    args = parser.parse_args()
    print("$ .venv/bin/python bench/console.py " + " ".join(sys.argv[1:]))

    namespace = f"outreach-bench-{uuid.uuid4().hex[:8]}"
    client_redis = redis.Redis.from_url(REDIS_URL)
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        if args.sqlite:
            url, seeded = f"sqlite:///{folder / 'bench.db'}", False
        else:
            url, seeded = stack.enter_context(postgres_database(args.keep))
        settings = settings_for(url, args.phones, namespace, folder)
        database = Database(url)
        stack.callback(database.dispose)
        started = time.perf_counter()
        database.upgrade()
        print(f"migrations: {time.perf_counter() - started:.1f} s")
        with database.session() as session:
            sync_phones(session, settings.phones)
        if seeded and seeded_enrollments(database) != args.enrollments:
            raise SystemExit(
                f"{KEPT_DATABASE} holds {seeded_enrollments(database):,} enrollments, not "
                f"{args.enrollments:,}: drop it (DROP DATABASE {KEPT_DATABASE}) or ask for as many"
            )
        if not seeded:
            if args.sqlite:
                seconds = seed_sqlite(database, settings, args.enrollments, args.phones)
            else:
                seconds = seed(database, args.enrollments, args.phones)
            print(
                f"seeded {args.enrollments:,} enrollments, {args.phones} phones in {seconds:.1f} s"
            )
        else:
            print(f"reusing {KEPT_DATABASE}: {args.enrollments:,} enrollments")
        with database.engine.connect() as connection:
            counts = {
                table: int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
                for table in ("messages", "review_flags", "suppressions", "alerts")
            }  # fmt: skip
        print("rows: " + ", ".join(f"{n:,} {table}" for table, n in counts.items()))

        settings = replace(
            settings, console=replace(settings.console, report_max_age_s=args.max_age)
        )
        report_s = report_seconds(database)
        directory = Directory({USER: Account(USER, "operator", hash_password(PASSWORD))})
        app = create_app(settings, database, FakeClock(NOW), directory, redis_client=client_redis)
        stack.callback(drop_namespace, client_redis, namespace)
        base = stack.enter_context(serving(app))
        client = stack.enter_context(httpx.Client(base_url=base, timeout=60.0))
        sign_in(client)
        rows = measure(client, database, app, args.runs)

    backend = "SQLite" if args.sqlite else "PostgreSQL"
    print(
        f"\n{backend}, {args.enrollments:,} enrollments, {args.phones} phones: "
        f"{args.runs} requests per page after {WARMUPS} warm-ups (ms)"
    )
    width = max(len(path) for path, _, _, _ in rows)
    print(f"  {'page':<{width}}  {'first':>7}  {'p50':>7}  {'p95':>7}  {'max':>7}")
    slow = []
    for path, first, times, _ in rows:
        high = p95(times)
        mark = "" if high < TARGET_MS else "  over"
        if high >= TARGET_MS:
            slow.append(path)
        print(
            f"  {path:<{width}}  {first:7.1f}  {statistics.median(times):7.1f}  {high:7.1f}  "
            f"{max(times):7.1f}{mark}"
        )
    print(
        f"\nfunnels kept in memory (report_max_age_s = {args.max_age:g}); 'first' is a page's "
        "first request, which computes them. Computing them (each refresh in the background, "
        "only when the data moved):"
    )
    for name, seconds in report_s.items():
        print(f"  {name}: {seconds * 1000:.0f} ms")
    print("\nslowest statements per request (mean ms, warm-ups included):")
    for path, _, _, spent in rows:
        top = sorted(spent.items(), key=lambda kv: -kv[1])[:4]
        print(f"  {path}")
        for statement, seconds in top:
            print(
                f"    {seconds * 1000 / (WARMUPS + args.runs):7.1f}  {' '.join(statement.split())[:100]}"
            )
    verdict = "PASS" if not slow else "FAIL"
    print(f"\n{verdict}  p95 under {TARGET_MS:.0f} ms on every page" + (
        f"; over: {', '.join(slow)}" if slow else ""
    ))  # fmt: skip


if __name__ == "__main__":
    main()
