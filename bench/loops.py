"""Per-phone loops benchmark: one pass of the dispatcher, the status view, ``phones list``,
the forecast and phone sync at 100 and 1,000 phones over 10,000,000 enrollments.

Rows are generated in the database (``INSERT ... SELECT generate_series``, a recursive
``WITH`` on SQLite): one lead per enrollment, 20 campaigns of one 3-step sequence with a
weekday window on the lead's clock (the 16 oldest completed, their journeys ended). 7%
of the enrollments run, all in the oldest active campaign: 10,000 steps are due now
(7,000 first messages, 3,000 follow-ups), 200,000 more leads wait for a first message
(due, over the phones' quota), 500,000 for a later follow-up, 2 steps per phone are
queued or sending; the rest ended (completed, replied, stopped, invalid number, opted
out, failed). Every journey past its first step has its first message stored (delivered
or read) and every reply its inbound message, so the phones' health and the campaigns'
funnels read real history. Phones: 95% active, a few offline, banned, paused; each has
used part of today's quota. (Figures for 10,000,000; a smaller ``--size`` scales them.)

The passes, each timed as the command runs it, without Redis (the dispatcher's messages
go to a counting stub; the status view is read without the Redis facts):

- the dispatcher with every queue empty (a pass that fills 1,000 phones' queues hands
  out about 12,000 sends), and the pass right after it (the queues full: what a pass
  costs when it has little to hand out);
- ``outreach status`` without the campaigns' funnels (phones, health, what stops
  sending), and the funnels apart, as status reads them (live below ``[scheduler]
  live_funnel_max_messages``, else the scheduler's snapshot); beside them the funnels
  grouped live (:func:`engine.reports.campaign_status`, what status did before the
  snapshot: every campaign's whole history, growing with enrollments) and the snapshot
  job that stores them (:func:`engine.funnel_snapshots.save_funnel_snapshot`);
- ``outreach phones list`` (the phones with their health), ``outreach forecast`` of the
  running campaign, and phone sync, whose fake TimelinesAI client lists every phone's
  account (1% of them newly disconnected).

Each figure is the median of ``--passes`` after one warm-up pass. Between passes the
dispatcher's claims and phone sync's changes are put back, so each pass does the same
work.

    .venv/bin/python bench/loops.py [--size 10000000 | --quick] [--phones 100,1000]
        [--passes 3] [--keep] [--sqlite] [--against REV]

``--quick`` is 1,000,000 enrollments. ``--keep`` keeps the seeded databases
(``outreach_loops_<phones>p_<size>``) and reuses them on the next run. ``--sqlite`` runs
on SQLite files instead, at a tenth of the size. ``--against REV`` also times the code of
git revision ``REV`` (a temporary worktree) on the same databases, side by side. Seeding
10,000,000 enrollments takes several minutes a database on the 2-core development
machine. Needs PostgreSQL on 127.0.0.1 (the databases are created and dropped here).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

# A Wednesday, 12:00 in Bucharest (the leads' numbers are Romanian), no public holiday.
NOW = datetime(2026, 1, 14, 10, 0, tzinfo=UTC)
CAMPAIGNS = 20
ACTIVE_CAMPAIGNS = 4
DUE = 10_000
IN_FLIGHT_PER_PHONE = 2
PASSES = (
    "dispatcher, queues empty", "dispatcher, queues full", "status: phones", "status: funnels",
    "funnels grouped live", "funnel snapshot job", "phones list", "forecast", "phone sync",
)  # fmt: skip
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=test"

CONFIG = """
[database]
url = "{url}"
[quota]
new_contacts_per_day = 200
warmup = []
[[phones]]
id = "01"
phone = "+447700900001"
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

_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def phone_id(n: int) -> str:
    """Phone ``n`` (from 0)'s id: two base-36 characters (``00`` .. ``rr`` for 1,000),
    which fit the ``phones.id`` column of any revision and are not all numbers."""
    return _DIGITS[n // 36] + _DIGITS[n % 36]


# The seed, written once for both databases: {series} yields i = 1..:total, {ts(x)} is
# :now plus x seconds, {pid(x)} phone x's id, {pad(x, n)} x zero-padded to n digits.
SEED = """
INSERT INTO phones (id, phone, state, state_reason, state_changed_at, sent_total,
                    failures_total, trips, created_at)
{with_phones} SELECT {pid(i - 1)}, '+4477' || {pad(i - 1, 8)},
       CASE WHEN i % 50 = 1 THEN 'offline' WHEN i % 100 = 2 THEN 'banned'
            WHEN i % 100 = 3 THEN 'paused' ELSE 'active' END,
       CASE WHEN i % 50 = 1 OR i % 100 IN (2, 3) THEN 'seeded' END,
       {ts(-86400)}, 1000 + i, i % 7, 0, {ts(-8640000)}
FROM {series_phones};

INSERT INTO campaigns (id, name, sequence, state, created_at, updated_at)
{with_campaigns} SELECT i, 'intro-' || {pad(i, 2)}, 'intro',
       CASE WHEN i > :campaigns - :active_campaigns THEN 'active' ELSE 'completed' END,
       {ts(-86400 * (:campaigns - i + 1) * 20)}, {ts(-86400)}
FROM {series_campaigns};

INSERT INTO leads (phone, variables, created_at, updated_at)
{with_total} SELECT '+407' || {pad(i, 8)}, '{{}}', {ts(-86400 * 400)}, {ts(-86400 * 400)}
FROM {series_total};

INSERT INTO enrollments (lead_id, campaign_id, sequence, state, step, step_state, due_at,
                         queued_at, sending_at, phone_id, attempts, end_reason, ended_at,
                         created_at, updated_at)
{with_total} SELECT i, campaign, 'intro', state,
       CASE WHEN state = 'pending' THEN 0 WHEN state = 'active' THEN 1 + i % 2 ELSE 2 END,
       CASE WHEN kind = 'flight' AND i % 2 = 0 THEN 'queued'
            WHEN kind = 'flight' THEN 'sending'
            WHEN state IN ('pending', 'active') THEN 'due' ELSE 'sent' END,
       CASE WHEN kind IN ('first', 'followup', 'backlog') THEN {ts(-(i % 86400) - 1)}
            WHEN kind = 'waiting' THEN {ts(1 + i % 604800)} END,
       CASE WHEN kind = 'flight' THEN {ts(-60)} END,
       CASE WHEN kind = 'flight' AND i % 2 = 1 THEN {ts(-30)} END,
       CASE WHEN state = 'pending' THEN NULL ELSE {pid(i % :phones)} END,
       0,
       CASE WHEN state NOT IN ('pending', 'active') THEN 'seeded' END,
       CASE WHEN state NOT IN ('pending', 'active') THEN {ts(-(:total - i) * 5)} END,
       {ts(-(:total - i) * 5 - 86400)}, {ts(-(:total - i) * 5)}
FROM (
    SELECT i, campaign, kind,
           CASE WHEN kind IN ('first', 'backlog') THEN 'pending'
                WHEN kind IN ('followup', 'waiting', 'flight') THEN 'active'
                WHEN i % 20 < 12 THEN 'completed' WHEN i % 20 < 15 THEN 'replied'
                WHEN i % 20 < 17 THEN 'stopped' WHEN i % 20 = 17 THEN 'invalid_number'
                WHEN i % 20 = 18 THEN 'opted_out' ELSE 'failed' END AS state
    FROM (
        SELECT i, 1 + ((i - 1) * :campaigns) / :total AS campaign,
               CASE WHEN i <= :ended THEN 'ended'
                    WHEN i - :ended <= :due_first THEN 'first'
                    WHEN i - :ended <= :due THEN 'followup'
                    WHEN i - :ended <= :due + :in_flight THEN 'flight'
                    WHEN i - :ended <= :due + :in_flight + :backlog THEN 'backlog'
                    WHEN i - :ended <= :due + :in_flight + :backlog + :waiting THEN 'waiting'
                    ELSE 'ended' END AS kind
        FROM {series_total}
    ) AS numbered
) AS journeys;

INSERT INTO messages (direction, enrollment_id, step, lead_id, phone_id, text, status,
                      sent_at, delivered_at, read_at, created_at)
SELECT 'out', id, 0, lead_id, phone_id, '',
       CASE WHEN id % 3 = 0 THEN 'read' ELSE 'delivered' END,
       {ts_of(created_at, 3600)}, {ts_of(created_at, 3700)},
       CASE WHEN id % 3 = 0 THEN {ts_of(created_at, 4000)} END, {ts_of(created_at, 3600)}
FROM enrollments
WHERE state <> 'pending' AND phone_id IS NOT NULL;

INSERT INTO messages (direction, enrollment_id, step, lead_id, phone_id, text, status,
                      sent_at, intent, created_at)
SELECT 'in', id, 0, lead_id, phone_id, 'thanks', 'received', {ts_of(created_at, 7200)},
       CASE WHEN state = 'opted_out' THEN 'opt_out' ELSE 'other' END,
       {ts_of(created_at, 7200)}
FROM enrollments
WHERE state IN ('replied', 'opted_out');
"""


class _Dialect:
    """How the seed's few non-portable expressions are spelled on one database."""

    def __init__(self, name: str) -> None:
        self.name = name

    def series(self, bound: str) -> tuple[str, str]:
        """(the ``WITH`` before the ``SELECT``, the ``FROM``) of i = 1 .. ``bound``."""
        if self.name == "postgresql":
            return "", f"generate_series(1, {bound}) AS g(i)"
        cte = f"g_{bound.strip(':')}"
        return (
            f"WITH RECURSIVE {cte}(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM {cte} "
            f"WHERE i < {bound})",
            cte,
        )

    def ts(self, seconds: str) -> str:
        return self.ts_of(":now", seconds)

    def ts_of(self, moment: str, seconds: str | int) -> str:
        if self.name == "postgresql":
            return f"({moment} + ({seconds}) * interval '1 second')"
        return f"datetime({moment}, ({seconds}) || ' seconds')"

    def pad(self, value: str, width: int) -> str:
        if self.name == "postgresql":
            return f"lpad(({value})::text, {width}, '0')"
        return f"printf('%0{width}d', {value})"

    def pid(self, value: str) -> str:
        digits = f"'{_DIGITS}'"
        return (
            f"(substr({digits}, ({value}) / 36 + 1, 1) || substr({digits}, ({value}) % 36 + 1, 1))"
        )

    def render(self, sql: str) -> str:
        import re

        def call(match: re.Match[str]) -> str:
            name, args = match.group(1), match.group(2)
            parts = [part.strip() for part in _split_args(args)]
            method: Callable[..., str] = getattr(self, name)
            if name == "pad":
                return method(parts[0], int(parts[1]))
            return method(*parts)

        # Innermost calls first: {ts(-(:total - i) * 5)} holds parentheses of its own.
        pattern = re.compile(r"\{(ts_of|ts|pad|pid)\((.*?)\)\}")
        previous = None
        while previous != sql:
            previous, sql = sql, pattern.sub(call, sql)
        for bound in ("phones", "campaigns", "total"):
            with_, from_ = self.series(f":{bound}")
            sql = sql.replace(f"{{with_{bound}}}", with_).replace(f"{{series_{bound}}}", from_)
        return sql.replace("{{}}", "{}")


def _split_args(args: str) -> list[str]:
    """``a, b`` split at the top-level commas."""
    parts, depth, current = [], 0, ""
    for char in args:
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        depth += (char == "(") - (char == ")")
        current += char
    return [*parts, current]


def seed_values(total: int, phones: int) -> dict[str, Any]:
    """The seed's parameters: the active campaigns' share of the leads, and in it the due
    steps, the steps in flight, the first-message backlog and the waiting follow-ups."""
    active_block = total * ACTIVE_CAMPAIGNS // CAMPAIGNS
    due = min(DUE, total // 100)
    return {
        "total": total, "phones": phones, "campaigns": CAMPAIGNS,
        "active_campaigns": ACTIVE_CAMPAIGNS, "ended": total - active_block,
        "due_first": due * 7 // 10, "due": due, "in_flight": IN_FLIGHT_PER_PHONE * phones,
        "backlog": active_block // 10, "waiting": active_block // 4,
    }  # fmt: skip


# Measuring ---------------------------------------------------------------------------


def _settings(url: str, phones: int) -> Any:
    from engine.settings import PhoneSettings, load_settings

    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "config.toml"
        config.write_text(CONFIG.format(url=url))
        settings = load_settings(config)
    configured = tuple(PhoneSettings(id=phone_id(n), phone=f"+4477{n:08d}") for n in range(phones))
    return replace(settings, phones=configured)


class _Accounts:
    """A TimelinesAI client that lists every phone's account: the seeded offline and banned
    ones as such, 1% of the active ones newly disconnected."""

    def __init__(self, settings: Any) -> None:
        from engine.timelinesai import WhatsAppAccount

        def status(n: int) -> str:
            i = n + 1
            if i % 50 == 1 or i % 97 == 5:
                return "disconnected"
            return "banned" if i % 100 == 2 else "connected"

        self.accounts = [
            WhatsAppAccount(id=phone.jid, phone=phone.phone, status=status(n))
            for n, phone in enumerate(settings.phones)
        ]

    def whatsapp_accounts(self) -> list[Any]:
        return self.accounts


def measure(
    url: str, phones: int, passes: int, skip: frozenset[str] = frozenset()
) -> dict[str, float]:
    """The median time of each pass, on the code importable now (this tree or ``--root``)."""
    from sqlalchemy import text

    from engine.db import Database
    from engine.dispatcher import Dispatcher
    from engine.funnel_snapshots import (
        live_funnels,
        messages_estimate,
        save_funnel_snapshot,
        saved_campaign_status,
    )
    from engine.jobs import sync_phone_states
    from engine.projection import project
    from engine.reports import campaign_status
    from engine.snapshot import collect
    from phones import phone_report
    from sequences import compiled_sequences, find_campaign

    settings = _settings(url, phones)
    database = Database(url)
    sequences = compiled_sequences(settings)
    enqueued = [0]

    def enqueue(*_: object) -> None:
        enqueued[0] += 1

    dispatcher = Dispatcher(settings, sequences, database, enqueue)
    client = _Accounts(settings)
    with database.engine.connect() as connection:
        seeded_states = dict(connection.execute(text("SELECT id, state FROM phones")).all())
        # The oldest active campaign: the one with running journeys.
        campaign = find_campaign(connection, f"intro-{CAMPAIGNS - ACTIVE_CAMPAIGNS + 1:02d}")

    def dispatch() -> None:
        dispatcher.run_once(NOW)

    def undo_dispatch() -> None:
        with database.engine.begin() as connection:
            connection.execute(
                text(
                    "UPDATE enrollments SET step_state = 'due', queued_at = NULL, "
                    "phone_id = CASE WHEN step = 0 THEN NULL ELSE phone_id END "
                    "WHERE step_state = 'queued' AND queued_at = :now"
                ),
                {"now": NOW if database.engine.dialect.name == "postgresql" else _sqlite(NOW)},
            )

    def status() -> None:  # all but the campaigns' funnels
        collect(database, settings, NOW, campaigns=[])

    def funnels() -> None:  # as status reads them: live below the limit, else the snapshot
        with database.engine.connect() as connection:
            limit = settings.scheduler.live_funnel_max_messages
            if live_funnels(messages_estimate(connection), limit):
                campaign_status(connection)
            else:
                saved_campaign_status(connection)

    def grouped() -> None:  # what status did before the snapshot (and still does below it)
        with database.engine.connect() as connection:
            campaign_status(connection)

    def ensure_snapshot() -> None:
        with database.engine.connect() as connection:
            missing = saved_campaign_status(connection)[1] is None
        if missing:
            snapshot_job()

    def snapshot_job() -> None:
        with database.engine.begin() as connection:
            save_funnel_snapshot(connection, NOW)

    def phones_list() -> None:
        with database.engine.connect() as connection:
            phone_report(connection, settings, NOW)

    def forecast() -> None:
        project(settings, database, sequences["intro"], NOW, campaign=campaign)

    def sync() -> None:
        sync_phone_states(NOW, client, database, settings)  # type: ignore[arg-type]

    def undo_sync() -> None:
        with database.engine.begin() as connection:
            now_states = dict(connection.execute(text("SELECT id, state FROM phones")).all())
            changed = [
                {"pid": pid, "state": state}
                for pid, state in seeded_states.items()
                if now_states.get(pid) != state
            ]
            if changed:
                connection.execute(
                    text("UPDATE phones SET state = :state WHERE id = :pid"), changed
                )

    nothing = lambda: None  # noqa: E731
    runs: dict[str, tuple[Callable[[], None], Callable[[], None], Callable[[], None]]] = {
        # (prepare, the timed pass, undo)
        "dispatcher, queues empty": (nothing, dispatch, undo_dispatch),
        # The pass after: the same scans, and nothing left to hand out.
        "dispatcher, queues full": (dispatch, dispatch, undo_dispatch),
        "status: phones": (nothing, status, nothing),
        "status: funnels": (ensure_snapshot, funnels, nothing),
        "funnels grouped live": (nothing, grouped, nothing),
        "funnel snapshot job": (nothing, snapshot_job, nothing),
        "phones list": (nothing, phones_list, nothing),
        "forecast": (nothing, forecast, nothing),
        "phone sync": (nothing, sync, undo_sync),
    }
    figures: dict[str, float] = {}
    for name, (prepare, run, undo) in runs.items():
        if name in skip:
            figures[name] = math.nan
            continue
        times = []
        for index in range(passes + 1):
            prepare()
            started = time.perf_counter()
            run()
            elapsed = time.perf_counter() - started
            undo()
            if index > 0:  # the first pass warms the connection pool and caches
                times.append(elapsed)
        figures[name] = statistics.median(times)
    figures["handed out a pass"] = enqueued[0] / (passes + 1) / 2
    database.dispose()
    return figures


def _sqlite(moment: datetime) -> str:
    return moment.replace(tzinfo=None).isoformat(sep=" ")


# Databases ---------------------------------------------------------------------------


@contextmanager
def database_for(
    phones: int, total: int, *, sqlite: bool, keep: bool, folder: Path
) -> Iterator[str]:
    """A seeded database of ``phones`` phones and ``total`` enrollments: its URL."""
    import psycopg

    name = f"outreach_loops_{phones}p_{total}"
    if sqlite:
        path = folder / f"{name}.sqlite"
        url = f"sqlite:///{path}"
        fresh = not path.exists() or not keep
        if fresh:
            path.unlink(missing_ok=True)
    else:
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            exists = admin.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            fresh = exists is None or not keep
            if fresh:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                admin.execute(f'CREATE DATABASE "{name}"')
    try:
        if fresh:
            seconds = seed(url, phones, total)
            print(f"seeded {name}: {total:,} enrollments, {phones:,} phones in {seconds:.0f} s")
        else:
            from engine.db import Database

            kept = Database(url)
            kept.upgrade()  # tables added since it was seeded
            kept.dispose()
            print(f"reusing {name}")
        yield url
    finally:
        if not keep:
            if sqlite:
                Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
            else:
                with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def seed(url: str, phones: int, total: int) -> float:
    from sqlalchemy import text

    from engine.db import Database
    from phones.quota import quota_day

    started = time.perf_counter()
    database = Database(url)
    database.upgrade()
    dialect = _Dialect(database.engine.dialect.name)
    values = {**seed_values(total, phones)}
    values["now"] = NOW if dialect.name == "postgresql" else _sqlite(NOW)
    with database.engine.begin() as connection:
        if dialect.name == "postgresql":
            connection.execute(text("SET LOCAL synchronous_commit = off"))
            connection.execute(text("SET LOCAL maintenance_work_mem = '512MB'"))
        for statement in dialect.render(SEED).split(";\n"):
            if statement.strip():
                used = {k: v for k, v in values.items() if f":{k}" in statement}
                connection.execute(text(statement), used)
        settings = _settings(url, phones)
        day = quota_day(NOW, settings.quota.timezone)
        connection.execute(
            text("INSERT INTO quota_usage (phone_id, day, used) VALUES (:p, :d, :u)"),
            [{"p": phone_id(n), "d": day, "u": 20 + n % 150} for n in range(phones)],
        )
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE" if dialect.name == "postgresql" else "ANALYZE"))
    database.dispose()
    return time.perf_counter() - started


# Trees -------------------------------------------------------------------------------


@contextmanager
def tree_of(revision: str | None, folder: Path) -> Iterator[Path]:
    """The source tree of ``revision`` (``None``: this one), as a temporary worktree."""
    if revision is None:
        yield ROOT
        return
    path = folder / f"tree-{revision}"
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path), revision],
        check=True, capture_output=True,
    )  # fmt: skip
    try:
        yield path
    finally:
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(path)],
            check=True, capture_output=True,
        )  # fmt: skip


def measure_in(tree: Path, url: str, phones: int, passes: int, skip: str) -> dict[str, float]:
    """:func:`measure` run in a child process on the code of ``tree``."""
    command = [
        sys.executable, str(Path(__file__).resolve()), "--measure", url,
        "--root", str(tree), "--phones", str(phones), "--passes", str(passes), "--skip", skip,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(command, env=env, check=True, capture_output=True, text=True, cwd=tree)
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def print_table(rows: list[tuple[str, str, dict[str, dict[str, float]]]], trees: list[str]) -> None:
    """One line per (database, pass), a column per tree, and the ratio old / new."""
    head = f"{'enrollments':>12} {'phones':>6}  {'pass':<24}" + "".join(
        f" {name:>12}" for name in trees
    )
    if len(trees) == 2:
        head += f" {'old/new':>8}"
    print(head)
    for size, phones, by_tree in rows:
        for name in PASSES:
            line = f"{size:>12} {phones:>6}  {name:<24}"
            figures = [by_tree[tree][name] for tree in trees]
            if any(math.isnan(seconds) for seconds in figures):
                continue
            line += "".join(f" {seconds * 1000:9.0f} ms" for seconds in figures)
            if len(figures) == 2:
                line += f" {figures[0] / figures[1]:7.1f}x"
            print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=10_000_000, help="enrollments")
    parser.add_argument("--quick", action="store_true", help="1,000,000 enrollments")
    parser.add_argument("--phones", default="100,1000", help="phone counts, comma-separated")
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep and reuse seeded databases")
    parser.add_argument("--sqlite", action="store_true", help="SQLite files, a tenth the size")
    parser.add_argument("--against", metavar="REV", help="also time git revision REV")
    parser.add_argument(
        "--skip", default="", help="passes not to time, comma-separated (e.g. 'status: funnels')"
    )
    parser.add_argument("--measure", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:  # the child of measure_in
        sys.path.insert(0, args.root)
        skip = frozenset(name.strip() for name in args.skip.split(",") if name.strip())
        print(json.dumps(measure(args.measure, int(args.phones), args.passes, skip)))
        return
    sys.path.insert(0, str(ROOT))
    size = 1_000_000 if args.quick else args.size
    if args.sqlite:
        size //= 10
    counts = [int(n) for n in args.phones.split(",")]
    folder = Path(tempfile.gettempdir()) / "outreach-loops"
    folder.mkdir(exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        trees = {"this tree": ROOT}
        with tree_of(args.against, Path(scratch)) as old:
            if args.against:
                trees = {args.against: old, "this tree": ROOT}
            for phones in counts:
                with database_for(
                    phones, size, sqlite=args.sqlite, keep=args.keep, folder=folder
                ) as url:
                    by_tree = {}
                    for name, tree in trees.items():
                        by_tree[name] = measure_in(tree, url, phones, args.passes, args.skip)
                        print(f"  {name}: {json.dumps(by_tree[name])}", flush=True)
                    rows.append((f"{size:,}", f"{phones:,}", by_tree))
    database = "SQLite" if args.sqlite else "PostgreSQL"
    print(f"\n{database}, median of {args.passes} passes after a warm-up:")
    print_table(rows, list(trees))
    # Grouping the funnels reads every campaign's history: it grows with enrollments, not
    # phones, and runs in the scheduler's background job; status reads what it stored.
    timed = [
        (by_tree["this tree"][name], name, phones)
        for _, phones, by_tree in rows
        for name in PASSES
        if name not in ("funnels grouped live", "funnel snapshot job")
    ]
    worst, name, phones = max(t for t in timed if not math.isnan(t[0]))
    verdict = "PASS" if worst < 1.0 else "FAIL"
    print(
        f"\n{verdict}  slowest per-phone pass {worst:.3f} s ({name}, {phones} phones; target < 1 s)"
    )


if __name__ == "__main__":
    main()
