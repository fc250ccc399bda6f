"""``outreach phones ...``: the pool of sending numbers and how each one is doing."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from cli.context import ConfigOption, console, load, open_database
from engine.errors import OutreachError

if TYPE_CHECKING:
    from phones import PhoneRow

app = typer.Typer(help="See and manage the sending phones.", no_args_is_help=True)
PhoneIdArgument = Annotated[str, typer.Argument(help="Phone id, e.g. 03 or london-3.")]


@app.command("list")
def list_phones(
    config: ConfigOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the phones as a JSON list instead of a table.")
    ] = False,
) -> None:
    """Show each phone: number, state, new contacts today / quota, last send, and its
    health: the share of its last first messages delivered and answered, invalid numbers
    among its last attempts, and its last replies / opt-outs ([health] sets how many)."""
    from cli.status_view import health_table
    from engine.runtime import build_clock
    from phones import phone_report, sync_phones

    settings = load(config)
    now = build_clock(settings).now()
    with open_database(settings) as database, database.engine.begin() as connection:
        sync_phones(connection, settings.phones)
        rows = phone_report(connection, settings, now)
    if as_json:
        typer.echo(json.dumps([_as_dict(row) for row in rows], indent=2))
        return
    table = Table(title=f"{len(rows)} phones", title_justify="left")
    numeric = {"today / quota", "queued", "sent", "failures"}
    columns = ("id", "number", "state", "today / quota", "queued", "next send", "last send")
    for name in (*columns, "sent", "failures"):
        table.add_column(
            name,
            justify="right" if name in numeric else "left",
            no_wrap=name in {"id", "number"},  # a cut-off phone number is no use
        )
    for row in rows:
        table.add_row(
            row.id,
            row.phone,
            _state(row.state, row.cooling_until),
            f"{row.used_today} / {row.quota_today}",
            str(row.queued),
            _until(row.next_send_at, now),
            _ago(row.last_send_at, now),
            str(row.sent_total),
            str(row.failures_total),
        )
    console().print(table)
    if rows:
        console().print(health_table(rows, settings.health))
    else:
        console().print(
            f"no phones configured: add a [[phones]] table per WhatsApp number to "
            f"{settings.path} (see its commented example), or a phones file with "
            "`outreach phones import FILE`",
            markup=False,
        )


def _as_dict(row: PhoneRow) -> dict[str, Any]:
    return {
        **asdict(row),
        "next_send_at": None if row.next_send_at is None else row.next_send_at.isoformat(),
        "last_send_at": None if row.last_send_at is None else row.last_send_at.isoformat(),
        "cooling_until": None if row.cooling_until is None else row.cooling_until.isoformat(),
        "health": None if row.health is None else row.health.as_dict(),
    }


def _state(state: str, cooling_until: datetime | None) -> str:
    colour = {"active": "green", "paused": "yellow", "offline": "yellow", "banned": "red"}
    until = "" if cooling_until is None else f" until {cooling_until:%H:%M} UTC"
    return f"[{colour.get(state, 'yellow')}]{state}{until}[/]"


def _until(moment: datetime | None, now: datetime) -> str:
    if moment is None or moment <= now:
        return "now"
    return "in " + _span(int((moment - now).total_seconds()))


def _span(seconds: int) -> str:
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


def _ago(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "never"
    return _span(int((now - moment).total_seconds())) + " ago"


def _set_state(config: ConfigOption, phone_id: str, state: str, expect: tuple[str, ...]) -> None:
    from sqlalchemy import select, update

    from engine.runtime import build_clock
    from engine.tables import P
    from phones import sync_phones

    settings = load(config)
    try:
        settings.phone(phone_id)
    except KeyError:
        raise OutreachError(f"no phone {phone_id!r} in the config") from None
    now = build_clock(settings).now()
    with open_database(settings) as database, database.engine.begin() as connection:
        sync_phones(connection, settings.phones)
        current = connection.scalar(select(P.c.state).where(P.c.id == phone_id))
        if current not in expect:
            raise OutreachError(f"phone {phone_id} is {current or 'unknown'}; nothing to do")
        connection.execute(
            update(P)
            .where(P.c.id == phone_id)
            .values(state=state, state_reason="operator", state_changed_at=now)
        )
    console().print(f"phone {phone_id} is {state}")


@app.command("pause")
def pause(phone_id: PhoneIdArgument, config: ConfigOption = None) -> None:
    """Stop a phone from sending; its queued messages wait (they are not lost). A phone
    its breaker stopped stays paused, instead of coming back after its probe."""
    from engine.states import PhoneState

    sendable = (
        PhoneState.ACTIVE, PhoneState.OFFLINE, PhoneState.COOLING, PhoneState.HALF_OPEN,
        PhoneState.PROBING,
    )  # fmt: skip
    _set_state(config, phone_id, PhoneState.PAUSED, sendable)


@app.command("resume")
def resume(phone_id: PhoneIdArgument, config: ConfigOption = None) -> None:
    """Let a paused phone send again, or one its breaker stopped (cooling, half-open or
    probing: its health tripped it) at once, without waiting for its probe."""
    from engine.states import PhoneState

    stopped = (PhoneState.PAUSED, PhoneState.COOLING, PhoneState.HALF_OPEN, PhoneState.PROBING)
    _set_state(config, phone_id, PhoneState.ACTIVE, stopped)


@app.command("sync")
def sync(config: ConfigOption = None) -> None:
    """Update every phone's state from TimelinesAI (one API call; for a system cron)."""
    from engine.alerts import NoAlerts, WebhookAlerts
    from engine.jobs import sync_phone_states
    from engine.runtime import build_client, build_clock, build_redis
    from engine.webhook.store import alert_severity
    from phones import sync_phones

    settings = load(config)
    with open_database(settings) as database:
        with database.session() as session:
            sync_phones(session, settings.phones)
        with build_client(settings, build_redis(settings)) as client:
            changes = sync_phone_states(build_clock(settings).now(), client, database, settings)
    url = settings.alerts.webhook_url
    alerts = WebhookAlerts(url) if url else NoAlerts()
    for change in changes:
        alerts.notify(
            change.alert_kind, change.message,
            severity=alert_severity(change.after), phone_id=change.phone_id,
        )  # fmt: skip
        console().print(change.message)
    changed = sum(change.kind is None for change in changes)  # not the offline-too-long alerts
    console().print(f"{len(settings.phones)} phones checked, {changed} changed")


@app.command("import")
def import_phones(
    file: Annotated[
        Path,
        typer.Argument(
            help="A CSV (header: id,phone[,account_id,new_contacts_per_day,started_on]) or a"
            " TOML file of [[phones]] tables.",
            dir_okay=False,
        ),
    ],
    config: ConfigOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check and count, but write nothing.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the outcome (or the bad rows) as JSON.")
    ] = False,
) -> None:
    """Add or update phones in the config's phones file ([phones] file), creating it if
    needed. A phone whose id is in the file gets the fields FILE sets (its columns; an
    empty cell clears one); others are appended. Every row is checked first: on any bad
    row nothing is written and each one is listed (exit status 2). Restart the workers
    (`outreach serve`) to send from new phones."""
    from engine.config_loader import read_toml
    from engine.errors import ConfigError
    from engine.settings import find_config
    from engine.settings.phone_file import phones_file_of, read_phones, write_phones
    from engine.settings.phone_import import plan_import

    config_path = find_config(config, os.environ)
    if not config_path.is_file():
        raise ConfigError(
            "no such config file; create one with `outreach init` or pass --config PATH",
            path=str(config_path),
        )
    data = read_toml(config_path)
    target = phones_file_of(data, config_path)
    if target is None:
        raise ConfigError(_no_phones_file(bool(data.get("phones"))), path=str(config_path))
    plan = plan_import(read_phones(target) if target.exists() else None, read_phones(file))
    if plan.problems:
        if as_json:
            problems = [str(problem) for problem in plan.problems]
            typer.echo(json.dumps({"file": str(target), "written": False, "errors": problems}))
        lines = "\n".join(f"  {problem}" for problem in plan.problems)
        raise ConfigError(f"{len(plan.problems)} problem(s), nothing written:\n{lines}")
    written = plan.changes and not dry_run
    if written:
        write_phones(target, plan.phones, plan.columns)
    if as_json:
        outcome = {
            "file": str(target), "written": written, "dry_run": dry_run,
            "added": list(plan.added), "updated": list(plan.updated),
            "unchanged": list(plan.unchanged), "phones": len(plan.phones),
        }  # fmt: skip
        typer.echo(json.dumps(outcome, indent=2))
        return
    counts = (
        f"{len(plan.added)} added, {len(plan.updated)} updated, {len(plan.unchanged)} unchanged"
    )
    if dry_run:
        done = "dry run, nothing written"
    else:
        done = f"{len(plan.phones)} phones in the file" if written else "nothing to write"
    console().print(f"{target}: {counts} ({done})", markup=False)


def _no_phones_file(has_tables: bool) -> str:
    if has_tables:
        return (
            "phones: no phones file to import into. Move the [[phones]] tables into"
            ' phones.toml and put in their place:\n  [phones]\n  file = "phones.toml"'
        )
    return 'phones: no phones file to import into. Add:\n  [phones]\n  file = "phones.csv"'
