"""``outreach alerts [--since] [--kind] [--json]``: what the engine raised, newest first."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from cli.context import ConfigOption, console, load, open_database
from engine.states import KINDS

DEFAULT_SINCE = "7d"


def since_moment(text: str, now: datetime) -> datetime:
    """The start of the window: ``now`` less a duration (``90m``, ``2h``, ``1d``), or an
    ISO 8601 date or time (UTC unless it names its zone)."""
    from sequences.syntax import parse_duration_s

    try:
        return now - timedelta(seconds=parse_duration_s(text))
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is neither a duration (30m, 2h, 1d) nor a date (2026-03-01, "
            "2026-03-01T09:30)",
            param_hint="--since",
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def alerts(
    config: ConfigOption = None,
    since: Annotated[
        str,
        typer.Option(
            help="Show alerts from this far back: a duration (30m, 2h, 1d) or an ISO date "
            "or time (2026-03-01, 2026-03-01T09:30, UTC unless zoned).",
        ),
    ] = DEFAULT_SINCE,
    kind: Annotated[
        list[str] | None,
        typer.Option(
            "--kind",
            help=f"Only this kind (repeat for several): {', '.join(KINDS)}.",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="Show at most this many, newest first.")] = 200,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON list of alerts instead of a table.")
    ] = False,
) -> None:
    """Alerts the engine raised (a refused token, a spent API budget, a phone going offline,
    banned or back, a dead letter), newest first, from the last 7 days unless --since.

    `outreach status` says which of them still stop sending, and how to fix each.
    """
    from engine.alert_log import list_alerts
    from engine.runtime import build_clock

    unknown = sorted(set(kind or ()) - set(KINDS))
    if unknown:
        raise typer.BadParameter(
            f"unknown kind {', '.join(unknown)}; choose from {', '.join(KINDS)}",
            param_hint="--kind",
        )
    settings = load(config)
    start = since_moment(since, build_clock(settings).now())
    with open_database(settings, pool_size=1) as database, database.engine.connect() as connection:
        found = list_alerts(connection, since=start, kinds=kind or (), limit=limit)
    if as_json:
        typer.echo(json.dumps([alert.as_json() for alert in found], indent=2))
        return
    out = console()
    if not found:
        out.print(f"no alerts since {start:%Y-%m-%d %H:%M} UTC")
        return
    more = f" (the newest {limit}: raise --limit for more)" if len(found) == limit else ""
    table = Table(
        title=f"{len(found)} alerts since {start:%Y-%m-%d %H:%M} UTC{more}", title_justify="left"
    )
    for name in ("time (UTC)", "kind", "severity", "phone", "message"):
        table.add_column(name, no_wrap=name != "message")
    for alert in found:
        table.add_row(
            f"{alert.created_at.astimezone(UTC):%Y-%m-%d %H:%M:%S}",
            escape(alert.kind),
            escape(alert.severity),
            escape(alert.phone_id or "-"),
            escape(alert.message),
        )
    out.print(table)
