"""Safety benchmark: 20 phones on default pacing, quotas and warm-up, 4,000 leads, three
virtual days against the simulator, with numbers not on WhatsApp, messages that never
deliver, replies and opt-outs, and a do-not-contact list that grows mid-run.

Runs the production services (simulator, webhook receiver, scheduler, replies worker,
2 worker processes) on a fresh SQLite database (or ``--database-url``, an empty one) with
the clock sped up (``[clock] speed`` and a shared ``epoch``). Only the clock and the
scheduler's real-time plumbing (its pass interval, the reconcile and requeue delays, the
API rate limit, which the simulator does not have) are set for the speed; pacing, quotas,
warm-up and every safety rule run on their defaults. A fifth of the phones start today,
a fifth are 5 days old and a fifth 10 (their warm-up caps show), the rest are warmed up.

The virtual run starts at a UTC midnight. Then it prints, per phone and virtual day: new
chats (and the day's quota), follow-ups, refused sends, the most new chats in any rolling
hour, the smallest gap between two sends, near-identical first-message pairs (word-shingle
Jaccard >= 0.8 against the phone's last 20 first messages), sends to suppressed numbers
and breaker trips (``phone_cooling`` alerts); then the "never" checks over the run. Every
figure comes from what the simulator received. Exits 1 when a "never" figure is not 0.

    .venv/bin/python bench/safety.py [--phones 20] [--leads 4000] [--days 3] [--speed 1000]
    .venv/bin/python bench/safety.py --quick --json     # 4 phones, 100 leads, 1 day, ~45 s
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import sys
import tempfile
import time
from dataclasses import fields
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.safety_figures import NEVER, Figures  # noqa: E402
from bench.safety_run import Plan, run  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--phones", type=int, default=20)
    parser.add_argument("--leads", type=int, default=4000)
    parser.add_argument("--days", type=int, default=3, help="virtual days (from a midnight)")
    parser.add_argument("--speed", type=float, default=1000.0, help="clock speed-up")
    parser.add_argument("--invalid", type=float, default=0.05, help="share not on WhatsApp")
    parser.add_argument(
        "--undelivered", type=float, default=0.10, help="share whose messages never deliver"
    )
    parser.add_argument(
        "--replies", type=float, default=0.10, help="chance a lead answers a message"
    )
    parser.add_argument(
        "--opt-outs", type=float, default=0.03, help="chance the answer to a message is STOP"
    )
    parser.add_argument(
        "--listed",
        type=float,
        default=0.02,
        help="share of leads put on the do-not-contact list at noon of day 1 (not yet queued)",
    )
    parser.add_argument(
        "--hourly-cap",
        type=int,
        help="new chats a phone may start in any hour (default: the engine's, else 80)",
    )
    parser.add_argument(
        "--startup-s",
        type=float,
        default=30.0,
        help="real seconds the services get to start before the virtual midnight",
    )
    parser.add_argument("--database-url", help="an empty database (default: SQLite in a tmp dir)")
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument(
        "--quick", action="store_true", help="4 phones, 100 leads, 1 day (10 s), 8640x"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--keep", type=Path, help="run in this folder and keep it (logs, db)")
    args = parser.parse_args(argv)
    if args.quick:
        args.phones, args.leads, args.days, args.speed = 4, 100, 1, 8640.0
        args.startup_s = min(args.startup_s, 20.0)
    if not 1 <= args.phones <= 99 or args.leads < 1 or args.days < 1 or args.speed < 1:
        parser.error("need 1-99 phones, at least one lead, one day and a speed of 1 or more")
    if args.opt_outs > args.replies or args.invalid + args.undelivered > 1:
        parser.error("--opt-outs is a share of --replies; --invalid + --undelivered at most 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="safety-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        given = {f.name for f in fields(Plan)} - {"folder", "secret"}
        plan = Plan(
            folder=folder.resolve(),
            secret=secrets.token_hex(16),
            **{name: getattr(args, name) for name in given},
        )
        result = run(plan, random.Random(args.seed), progress=_progress)
    result.summary["real_s"] = round(time.monotonic() - started, 1)
    if args.json:
        print(json.dumps(as_json(plan, result.figures, result.summary), indent=2))
    else:
        print_table(plan, result.figures, result.summary)
    return 0 if result.figures.ok else 1


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def as_json(plan: Plan, figures: Figures, summary: dict[str, Any]) -> dict[str, Any]:
    return {
        "plan": plan.describe(),
        "summary": summary,
        "rows": [row.as_dict() for row in figures.rows],
        "never": figures.never(),
        "ok": figures.ok,
        "problems": figures.problems[:20],
    }


def print_table(plan: Plan, figures: Figures, summary: dict[str, Any]) -> None:
    print(
        f"\nsafety: {plan.phones} phones, {plan.leads} leads, {plan.days} virtual days at "
        f"{plan.speed:g}x ({summary['real_s']:.0f} s real), "
        f"{plan.invalid:.0%} not on WhatsApp, {plan.undelivered:.0%} never delivered, "
        f"replies {plan.replies:.0%} / opt-outs {plan.opt_outs:.0%} a message, "
        f"{plan.listed:.0%} listed at noon of day 1; hourly cap {summary['hourly_cap']}, "
        f"near-identical: Jaccard >= {summary['similarity']['threshold']} against the last "
        f"{summary['similarity']['window']} ({summary['similarity']['measure']})\n"
    )
    header = (
        f"{'day':>3} {'phone':>5} {'quota':>5} {'new chats':>9} {'follow-ups':>10} "
        f"{'refused':>7} {'max/hour':>8} {'min gap s':>9} {'near-dup':>8} "
        f"{'to suppressed':>13} {'breaker':>7}"
    )
    print(header)
    first_day: date | None = None
    for row in figures.rows:
        first_day = first_day or row.day
        gap = "-" if row.min_gap_s is None else f"{row.min_gap_s:.1f}"
        print(
            f"{(row.day - first_day).days + 1:>3} {row.phone_id:>5} {row.quota:>5} "
            f"{row.new_chats:>9} {row.followups:>10} {row.refused:>7} {row.max_per_hour:>8} "
            f"{gap:>9} {row.near_duplicates:>8} {row.to_suppressed:>13} "
            f"{row.breaker_trips:>7}"
        )
    print(
        f"\nsends: {summary['accepted']} accepted, {summary['refused']} refused; "
        f"new chats {summary['new_chats']}; replies {summary['replies']}; "
        f"suppressed: {summary['suppressed']}"
    )
    print(f"end states: {summary['states']}")
    print(f"breaker trips: {summary['breaker_trips']}; alerts: {summary['alerts']}\n")
    never = figures.never()
    for name, words in NEVER.items():
        mark = "ok  " if never[name] == 0 else "FAIL"
        print(f"[{mark}] never {words}: {never[name]}")
    for problem in figures.problems[:10]:
        print(f"  {problem}")
    print("\nevery never-column is 0" if figures.ok else "\nA NEVER-COLUMN IS NOT 0")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
