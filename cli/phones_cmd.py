"""``outreach phones ...``: the pool of sending numbers and how each one is doing."""

from __future__ import annotations

from datetime import datetime

import typer
from rich.table import Table

from cli.context import ConfigOption, console, load
from engine.runtime import build_clock, build_database, quota_day
from phones import phone_rows, sync_phones

app = typer.Typer(help="See and manage the sending phones.", no_args_is_help=True)


@app.command("list")
def list_phones(config: ConfigOption = None) -> None:
    """Show each phone: number, state, new contacts today / quota, last send."""
    settings = load(config)
    database = build_database(settings)
    now = build_clock(settings).now()
    try:
        database.require_current()
        with database.session() as session:
            sync_phones(session, settings.phones)
            rows = phone_rows(session, settings, quota_day(now, settings.quota.timezone))
    finally:
        database.dispose()
    table = Table(title=f"{len(rows)} phones", title_justify="left")
    for name in ("id", "number", "state", "today / quota", "last send"):
        table.add_column(name, justify="right" if name == "today / quota" else "left")
    for row in rows:
        table.add_row(
            row.id,
            row.phone,
            _state(row.state),
            f"{row.used_today} / {row.quota_today}",
            _ago(row.last_send_at, now),
        )
    console().print(table)


def _state(state: str) -> str:
    colour = {"active": "green", "paused": "yellow", "offline": "yellow", "banned": "red"}
    return f"[{colour.get(state, 'white')}]{state}[/]"


def _ago(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "never"
    seconds = int((now - moment).total_seconds())
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{max(seconds, 0)}s ago"
