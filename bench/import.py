"""Import and launch benchmark: 100,000 leads from CSV into a campaign, against a plain COPY.

Generates a CSV of 100,000 leads (national numbers read with --region RO, a name,
a company, a city, a timezone on one row in ten, no name on one in a hundred), then on a
scratch PostgreSQL database, in one run:

1. ``sequences.import_leads`` (normalise, deduplicate, suppressions, insert, tag);
2. ``sequences.launch`` of a 3-step sequence with a weekday window on each lead's
   clock, for the tagged leads (the leads without a name are refused);
3. a plain ``COPY`` of the same file into a scratch table: the floor, what PostgreSQL
   takes to store the rows with no checking at all.

Prints each time, import + launch against COPY, and the process's peak resident
memory. Targets: import + launch under 20 s, peak under 300 MB.

    .venv/bin/python bench/import.py [--leads 100000]

Needs PostgreSQL on 127.0.0.1 (it creates and drops its own database).
"""

from __future__ import annotations

import argparse
import csv
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.scratch import scratch_database  # noqa: E402
from engine.db import Database  # noqa: E402
from sequences import (  # noqa: E402
    SequenceSettings,
    StepSettings,
    WindowSettings,
    compile_sequences,
    import_leads,
    launch,
)

NOW = datetime(2026, 1, 7, 10, 0, tzinfo=UTC)
SEQUENCE = compile_sequences(
    {
        "intro": SequenceSettings(
            timezone="lead",
            send_window=WindowSettings(days="mon-fri", start="09:00", end="18:00"),
            steps=(
                StepSettings(
                    after="0m", template="{Hi|Hello} {{first_name}}, about {{company|your team}}?"
                ),
                StepSettings(
                    after="2d", variants=("Any thoughts, {{first_name}}?", "Just checking in.")
                ),
                StepSettings(after="4d", template="Last note from me, {{first_name}}."),
            ),
        )
    },
    path="bench",
)["intro"]


def write_csv(path: Path, count: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Phone", "First Name", "Company", "City", "Timezone"])
        for i in range(count):
            writer.writerow(
                [
                    f"07{20_000_000 + i:08d}",
                    "" if i % 100 == 0 else f"Name{i}",
                    f"Company {i % 997}",
                    ("Bucharest", "Cluj", "Iasi")[i % 3],
                    "Europe/Bucharest" if i % 10 == 0 else "",
                ]
            )


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KB


def copy_file(url: str, path: Path) -> float:
    """COPY the CSV as it is into a scratch table; the seconds it took, file reading included."""
    with psycopg.connect(url) as connection:
        connection.execute(
            "CREATE TABLE copy_leads (phone text, first_name text, company text, city text, "
            "timezone text)"
        )
        started = time.perf_counter()
        with (
            connection.cursor() as cursor,
            cursor.copy("COPY copy_leads FROM STDIN WITH (FORMAT csv, HEADER true)") as copy,
            path.open("rb") as handle,
        ):
            while chunk := handle.read(1 << 20):
                copy.write(chunk)
        connection.commit()
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--leads", type=int, default=100_000)
    args = parser.parse_args()

    with scratch_database() as url:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "leads.csv"
            write_csv(path, args.leads)
            size_mb = path.stat().st_size / 1e6
            database = Database(url)
            database.upgrade()
            before_mb = peak_rss_mb()

            started = time.perf_counter()
            imported = import_leads(database, path, tag="bench", region="RO", now=NOW)
            import_s = time.perf_counter() - started
            started = time.perf_counter()
            launched = launch(database, SEQUENCE, now=NOW, fallback_zone="UTC", tag="bench")
            launch_s = time.perf_counter() - started
            peak_mb = peak_rss_mb()
            database.dispose()
            copy_s = copy_file(url.replace("postgresql+psycopg", "postgresql"), path)

        refused = sum(launched.refused.values())
        print(f"file: {args.leads:,} leads, {size_mb:.1f} MB")
        print(
            f"import: {imported.imported:,} new, {imported.invalid:,} invalid  {import_s:6.2f} s  ({args.leads / import_s:,.0f} rows/s)"
        )
        print(
            f"launch: {launched.enrolled:,} enrolled, {refused:,} refused (missing first_name)  {launch_s:6.2f} s  ({launched.selected / launch_s:,.0f} leads/s)"
        )
        total_s = import_s + launch_s
        print(f"import + launch: {total_s:6.2f} s")
        print(
            f"plain COPY of the same file: {copy_s:6.2f} s  (import + launch = {total_s / copy_s:.1f}x COPY)"
        )
        print(f"peak resident memory: {peak_mb:.0f} MB ({before_mb:.0f} MB before the import)")
        print()
        print(
            f"{'PASS' if total_s < 20 else 'FAIL'}  import + launch {total_s:.2f} s (target < 20 s)"
        )
        print(
            f"{'PASS' if peak_mb < 300 else 'FAIL'}  peak memory {peak_mb:.0f} MB (target < 300 MB)"
        )


if __name__ == "__main__":
    main()
