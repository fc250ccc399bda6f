"""Dispatcher benchmark: one pass over 1,000,000 enrollments with 10,000 due, on PostgreSQL.

Rows are generated in the database (``INSERT ... SELECT generate_series``): 1,000,000
leads, each with one enrollment in a 3-step sequence with a weekday send window on
the lead's clock. 7,000 first messages and 3,000 follow-ups are due now; 390,000
journeys wait for a later follow-up; 600,000 have ended. 20 phones, quota 200 a day.

The pass is timed as the scheduler runs it, minus Redis: messages go to a counting
stub, so the figure is the database's. Between passes every step the pass queued is
put back to ``due``, so each pass does the same work. Prints the median pass time,
the time of each statement of one pass, and the plan of the main scan.
Target: under 1 s.

    .venv/bin/python bench/dispatcher.py [--enrollments 1000000] [--due 10000] [--passes 5]
        [--now 2026-01-14T10:00Z]

Needs PostgreSQL on 127.0.0.1 (it creates and drops its own database).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.scratch import scratch_database  # noqa: E402
from engine.db import Database  # noqa: E402
from engine.dispatcher import Dispatcher  # noqa: E402
from engine.settings import load_settings  # noqa: E402
from phones import sync_phones  # noqa: E402
from sequences import compiled_sequences  # noqa: E402

# A Wednesday, 12:00 in Bucharest, and no public holiday in Romania (the 7th is one: every
# due step would wait for the next day; --now 2026-01-07T10:00Z measures that pass).
NOW = datetime(2026, 1, 14, 10, 0, tzinfo=UTC)
PHONES = 20

CONFIG = """
[database]
url = "{url}"
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

# Enrollment i (1-based): the first `due_first` are first messages due now, the next
# `due_followups` follow-ups due now, then 39% waiting for a later step, the rest ended.
SEED = """
INSERT INTO campaigns (id, name, sequence, state, created_at, updated_at)
VALUES (1, 'intro', 'intro', 'active', :now, :now);

INSERT INTO leads (phone, variables, created_at, updated_at)
SELECT '+4072' || lpad(i::text, 7, '0'), json_build_object('name', 'Lead' || i), :now, :now
FROM generate_series(1, :total) AS i;

INSERT INTO enrollments (lead_id, campaign_id, sequence, state, step, step_state, due_at,
                         phone_id, attempts, end_reason, ended_at, created_at, updated_at)
SELECT i, 1, 'intro',
       CASE WHEN i <= :due_first THEN 'pending'
            WHEN i <= :waiting THEN 'active'
            ELSE (ARRAY['completed', 'replied', 'stopped', 'invalid_number'])[1 + i % 4] END,
       CASE WHEN i <= :due_first THEN 0 WHEN i <= :waiting THEN 1 + i % 2 ELSE 2 END,
       CASE WHEN i <= :waiting THEN 'due' ELSE 'sent' END,
       CASE WHEN i <= :due THEN :now - make_interval(secs => i)
            ELSE :now + make_interval(secs => i % 604800) END,
       CASE WHEN i <= :due_first THEN NULL ELSE lpad((1 + i % :phones)::text, 2, '0') END,
       0,
       CASE WHEN i > :waiting THEN 'sequence_completed' END,
       CASE WHEN i > :waiting THEN :now END,
       :now, :now
FROM generate_series(1, :total) AS i;
"""

REMARK_DUE = """
UPDATE enrollments SET step_state = 'due', queued_at = NULL,
       phone_id = CASE WHEN step = 0 THEN NULL ELSE phone_id END
WHERE step_state = 'queued'
"""


class StatementTimes:
    """The time of each statement the engine sends, summed by statement text."""

    def __init__(self, database: Database) -> None:
        self.times: dict[str, float] = defaultdict(float)
        self.last: dict[str, tuple[Any, ...] | dict[str, Any]] = {}
        self.on = False
        event.listen(database.engine, "before_cursor_execute", self._before)
        event.listen(database.engine, "after_cursor_execute", self._after)

    def _before(self, conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        conn.info["bench_started"] = time.perf_counter()

    def _after(self, conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if self.on:
            self.times[statement] += time.perf_counter() - conn.info["bench_started"]
            self.last[statement] = params

    @contextmanager
    def recording(self) -> Iterator[None]:
        self.times.clear()
        self.on = True
        try:
            yield
        finally:
            self.on = False


def seed(database: Database, total: int, due: int, now: datetime) -> float:
    started = time.perf_counter()
    due_first = due * 7 // 10
    values = {
        "now": now, "total": total, "due": due, "due_first": due_first,
        "waiting": due + int(total * 0.39), "phones": PHONES,
    }  # fmt: skip
    with database.engine.begin() as connection:
        for statement in SEED.split(";\n"):
            if statement.strip():
                connection.execute(text(statement), values)
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE"))
    return time.perf_counter() - started


def explain(database: Database, statement: str, params: Any) -> str:
    with database.engine.connect() as connection:
        cursor = connection.connection.cursor()
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        connection.rollback()  # EXPLAIN ANALYZE of an UPDATE changes rows
    return plan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--enrollments", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--now", type=datetime.fromisoformat, default=NOW)
    args = parser.parse_args()

    with scratch_database() as url:
        with tempfile.TemporaryDirectory() as folder:
            phones = "\n".join(
                f'[[phones]]\nid = "{i:02d}"\nphone = "+4477009{i:05d}"'
                for i in range(1, PHONES + 1)
            )
            config = Path(folder) / "config.toml"
            config.write_text(CONFIG.format(url=url, phones=phones))
            settings = load_settings(config)
        database = Database(url)
        database.upgrade()
        with database.session() as session:
            sync_phones(session, settings.phones)
        seeded_s = seed(database, args.enrollments, args.due, args.now)
        print(f"seeded {args.enrollments:,} enrollments ({args.due:,} due) in {seeded_s:.1f} s")

        enqueued = [0]

        def enqueue(*_: object) -> None:
            enqueued[0] += 1

        dispatcher = Dispatcher(settings, compiled_sequences(settings), database, enqueue)
        times = StatementTimes(database)
        passes = []
        for index in range(args.passes + 1):
            enqueued[0] = 0
            with times.recording():
                started = time.perf_counter()
                report = dispatcher.run_once(args.now)
                elapsed = time.perf_counter() - started
            if index > 0:  # the first pass warms the connection pool and caches
                passes.append(elapsed)
            with database.engine.begin() as connection:
                connection.execute(text(REMARK_DUE))
        print(
            f"each pass: {report.first_messages} first messages and {report.followups} "
            f"follow-ups queued ({enqueued[0]} enqueued) for {PHONES} phones"
        )
        print(f"passes (s): {', '.join(f'{p:.3f}' for p in passes)}")
        median = statistics.median(passes)
        print("\nstatements of the last pass (ms):")
        for statement, seconds in sorted(times.times.items(), key=lambda kv: -kv[1]):
            print(f"  {seconds * 1000:7.1f}  {' '.join(statement.split())[:110]}")
        main_scan = next(s for s in times.times if "row_number" not in s and "LIMIT" in s)
        print("\nEXPLAIN of the main scan (due first messages, oldest first):")
        print(explain(database, main_scan, times.last[main_scan]))
        verdict = "PASS" if median < 1.0 else "FAIL"
        print(
            f"\n{verdict}  dispatcher pass median {median:.3f} s over {args.enrollments:,} "
            f"enrollments, {args.due:,} due (target < 1 s)"
        )
        database.dispose()


if __name__ == "__main__":
    main()
