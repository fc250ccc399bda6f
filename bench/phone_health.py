"""Phone health benchmark: reading every phone's health with 1,000,000 enrollments.

Seeds a scratch PostgreSQL database with the console benchmark's rows
(:mod:`bench.console`: 1,000,000 enrollments, about 2.6 million messages, 20 phones,
invalid numbers, replies and opt-outs), then times :func:`phones.health_store.read_health`
for all phones (``--runs`` reads after 3 warm-ups: p50, p95, max) and prints each
statement's ``EXPLAIN ANALYZE``. Prints figures; asserts nothing.

    .venv/bin/python bench/phone_health.py [--enrollments 1000000] [--phones 20] [--runs 30]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import event, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.console import NOW, seed, settings_for  # noqa: E402
from bench.scratch import scratch_database  # noqa: E402
from engine.db import Database  # noqa: E402
from phones import sync_phones  # noqa: E402
from phones.health_store import read_health  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--enrollments", type=int, default=1_000_000)
    parser.add_argument("--phones", type=int, default=20)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    with scratch_database() as url, tempfile.TemporaryDirectory() as folder:
        settings = settings_for(url, args.phones, "bench-health", Path(folder))
        database = Database(url)
        database.upgrade()
        with database.session() as session:
            sync_phones(session, settings.phones)
        seconds = seed(database, args.enrollments, args.phones)
        with database.engine.connect() as connection:
            counts = connection.execute(
                text("SELECT (SELECT count(*) FROM enrollments), (SELECT count(*) FROM messages)")
            ).one()
        print(f"seeded {counts[0]:,} enrollments, {counts[1]:,} messages in {seconds:.0f} s")
        phone_ids = [phone.id for phone in settings.phones]
        statements: list[str] = []

        def record(_c: object, _cur: object, statement: str, *_: object) -> None:
            statements.append(statement)

        times = []
        with database.engine.connect() as connection:
            for run in range(args.runs + 3):
                started = time.perf_counter()
                health = read_health(connection, phone_ids, settings.health, NOW)
                if run >= 3:
                    times.append((time.perf_counter() - started) * 1000)
            event.listen(database.engine, "before_cursor_execute", record)
            read_health(connection, phone_ids, settings.health, NOW)
            event.remove(database.engine, "before_cursor_execute", record)
            times.sort()
            p95 = times[max(0, round(0.95 * len(times)) - 1)]
            print(
                f"read_health, {len(phone_ids)} phones, {len(statements)} statements: "
                f"p50 {statistics.median(times):.1f} ms, p95 {p95:.1f} ms, max {times[-1]:.1f} ms"
            )
            print("phone 01:", health["01"].as_dict())
            compiled = [
                str(statement) for statement in _compiled(connection, phone_ids, settings.health)
            ]
            for sql in compiled:
                plan = connection.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + sql).all()
                print("\n".join(row[0] for row in plan[:14]), "\n  ...", plan[-2][0], plan[-1][0])
        database.dispose()


def _compiled(connection: object, phone_ids: list[str], windows: object) -> list[str]:
    """The three statements with their values inlined, for EXPLAIN."""
    from datetime import timedelta

    from sqlalchemy import select, union_all
    from sqlalchemy.dialects import postgresql

    from phones import health_store as store

    stuck_before = NOW - timedelta(hours=windows.stuck_after_h)  # type: ignore[attr-defined]
    from sqlalchemy import or_

    from engine.tables import M

    settled = or_(M.c.status.in_(["delivered", "failed", "read"]), M.c.sent_at <= stuck_before)
    branches = [
        (store._first_messages(settled), 10),
        (store._first_messages(), 20),
        (store._invalid_numbers, 20),
        (store._replies, 50),
    ]
    out = []
    for branch, size in branches:
        parts = [branch(p).limit(size).subquery() for p in phone_ids]
        statement = union_all(*(select(part) for part in parts))
        out.append(
            str(
                statement.compile(
                    dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}
                )
            )
        )
    return out


if __name__ == "__main__":
    main()
