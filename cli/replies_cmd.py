"""``outreach replies ...``: replies a person should read, unmatched replies, the queue's worker."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from cli.context import ConfigOption, console, load, open_database
from engine.errors import OutreachError

app = typer.Typer(
    help="Replies: review flags, unmatched senders, classification.", no_args_is_help=True
)

Limit = Annotated[int, typer.Option(help="Show at most this many.", min=1)]
TEXT_CHARS = 80
HINTED = 5
"""Held colleagues whose resume command the review prints (the table lists them all)."""


@app.command("review")
def review(
    config: ConfigOption = None,
    all_: Annotated[bool, typer.Option("--all", help="Include resolved flags.")] = False,
    assigned_to: Annotated[
        str | None, typer.Option("--assigned-to", help="Only flags given to this person.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    limit: Limit = 200,
) -> None:
    """Replies flagged for a person, most urgent first (priority 3 = urgent).

    Each shows the lead's full number and name (to call back), the campaign, the reply,
    its class, how long it has waited, OVERDUE past [replies] review_sla_h, and who has it.
    """
    from engine.replies.queries import review_items
    from engine.runtime import build_clock

    settings = load(config)
    with open_database(settings) as database, database.engine.connect() as connection:
        items = review_items(
            connection, include_resolved=all_, assigned_to=assigned_to, limit=limit
        )
    now = build_clock(settings).now()
    sla = timedelta(hours=settings.replies.review_sla_h)
    if as_json:
        typer.echo(json.dumps({"review": [i.as_dict(now, sla) for i in items]}, indent=2))
        return
    overdue = sum(1 for item in items if item.overdue(now, sla))
    waiting = sum(1 for item in items if item.resolved_at is None)
    title = f"{waiting} replies to review" + (f", {overdue} overdue" if overdue else "")
    if len(items) > waiting:
        title += f" (and {len(items) - waiting} resolved)"
    table = Table(title=title, title_justify="left")
    for column in ("id", "pri", "waiting", "lead", "name", "campaign", "class", "with", "text"):
        table.add_column(column, overflow="fold")
    for item in items:
        waited = _duration(item.age(now))
        if item.overdue(now, sla):
            waited = f"[bold red]{waited} OVERDUE[/]"
        table.add_row(
            str(item.id) + (" (done)" if item.resolved_at else ""),
            str(item.priority),
            waited,
            item.lead_phone or "-",
            escape(item.lead_name or "-"),
            escape(item.campaign or "-"),
            escape(_class(item.label, item.matched) + _held(item.company_held)),
            escape(_with(item.assigned_to, item.resolved_by)),
            escape(item.text[:TEXT_CHARS]),
        )
    console().print(table)
    if items:
        console().print(
            "call the lead back, then `outreach replies resolve ID`; "
            "`outreach replies assign ID PERSON` gives it to someone"
        )
    paused = sorted(
        {c.get("phone", "?") for i in items for c in i.company_held if c.get("state") == "paused"}
    )
    if paused:
        # Held colleagues wait for a person: the reply may say they should not be written to.
        console().print(
            "a held colleague's sequence goes on once you let it: "
            + "; ".join(f"`outreach leads resume {phone}`" for phone in paused[:HINTED])
            + ("; ..." if len(paused) > HINTED else "")
        )


@app.command("assign")
def assign(
    flag_id: Annotated[int, typer.Argument(help="Review flag id, from `replies review`.")],
    person: Annotated[str, typer.Argument(help="Who takes it (a name or an email).")],
    config: ConfigOption = None,
) -> None:
    """Give an open review flag to a person (taking it from whoever had it)."""
    from engine.replies.queries import PERSON_MAX_CHARS, assign_flag, person_name
    from engine.runtime import build_clock

    name = person_name(person)
    if name is None:
        hint = f"a person is 1-{PERSON_MAX_CHARS} characters"
        raise typer.BadParameter(hint, param_hint="PERSON")
    settings = load(config)
    with open_database(settings) as database, database.engine.begin() as connection:
        done = assign_flag(connection, flag_id, name, build_clock(settings).now())
    if not done:
        raise OutreachError(f"no open review flag {flag_id}; see `outreach replies review --all`")
    console().print(f"review flag {flag_id} assigned to {escape(name)}")


@app.command("resolve")
def resolve(
    ids: Annotated[list[int], typer.Argument(help="Review flag ids, from `replies review`.")],
    by: Annotated[str | None, typer.Option(help="Who handled them (recorded).")] = None,
    config: ConfigOption = None,
) -> None:
    """Mark review flags as handled. Ids that are not open are named, and the exit is 1."""
    from engine.replies.queries import resolve_flags
    from engine.runtime import build_clock

    settings = load(config)
    with open_database(settings) as database, database.engine.begin() as connection:
        resolved = resolve_flags(connection, ids, build_clock(settings).now(), by=by)
    if resolved:
        console().print(f"{len(resolved)} review flag(s) resolved: {_ids(resolved)}")
    missed = sorted(set(ids) - set(resolved))
    if missed:
        raise OutreachError(
            f"no open review flag {_ids(missed)} (unknown or resolved already); "
            "see `outreach replies review --all`"
        )


def _ids(ids: list[int]) -> str:
    return ", ".join(str(i) for i in ids)


@app.command("unmatched")
def unmatched(
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    limit: Limit = 200,
) -> None:
    """Replies from numbers that match no lead, newest first."""
    from engine.replies.queries import unmatched_replies

    settings = load(config)
    with open_database(settings) as database, database.engine.connect() as connection:
        replies = unmatched_replies(connection, limit=limit)
    if as_json:
        rows = [
            {
                "id": r.id,
                "received_at": r.received_at.isoformat() if r.received_at else None,
                "from": r.peer_phone,
                "phone_id": r.phone_id,
                "chat_id": r.chat_id,
                "class": r.label,
                "text": r.text,
            }
            for r in replies
        ]
        typer.echo(json.dumps({"unmatched": rows}, indent=2))
        return
    table = Table(title=f"{len(replies)} unmatched replies", title_justify="left")
    for column in ("id", "received", "from", "to phone", "chat", "class", "text"):
        table.add_column(column)
    for reply in replies:
        table.add_row(
            str(reply.id),
            _when(reply.received_at),
            reply.peer_phone or "-",
            reply.phone_id or "-",
            str(reply.chat_id or "-"),
            reply.label or "-",
            escape(reply.text[:TEXT_CHARS]),
        )
    console().print(table)


@app.command("worker")
def worker(
    config: ConfigOption = None,
    threads: Annotated[int, typer.Option(help="Worker threads.", min=1)] = 2,
) -> None:
    """Classify replies, check unknown sent messages and post alerts: the `replies` queue."""
    from engine import tracing
    from engine.broker import build_broker
    from engine.replies.actors import consume, declare_reply_actors
    from engine.replies.runtime import build_reply_runtime
    from engine.runtime import build_clock, build_redis
    from engine.settings.services import require_shared_clock

    settings = load(config)
    require_shared_clock(settings, datetime.now(UTC))
    tracing.configure(settings.telemetry, role="replies")
    build_redis(settings).close()  # fail fast, in one line, when Redis is down
    with open_database(settings, pool_size=threads + 2) as database:
        runtime = build_reply_runtime(settings, database, build_clock(settings))
        actors = declare_reply_actors(build_broker(settings), settings, runtime)
        console().print(f"replies worker: {threads} threads on the `replies` queue")
        consume(actors, threads)
        actors.broker.close()


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "-"


def _class(label: str | None, matched: dict[str, list[str]]) -> str:
    """The reply's class and the words that made it: ``human_review (urgent, avocat)``."""
    words = ", ".join(dict.fromkeys(word for found in matched.values() for word in found))
    return f"{label or '-'} ({words})" if words else label or "-"


def _held(colleagues: tuple[dict[str, Any], ...]) -> str:
    """The colleagues the reply held: ``; held colleagues: +40700000002 (paused)``."""
    if not colleagues:
        return ""
    listed = ", ".join(f"{c.get('phone', '?')} ({c.get('state', '?')})" for c in colleagues)
    return f"; held colleagues: {listed}"


def _with(assigned_to: str | None, resolved_by: str | None) -> str:
    if resolved_by:
        return f"done by {resolved_by}"
    return assigned_to or "-"


def _duration(span: timedelta) -> str:
    """``3d 4h``, ``2h 05m``, ``12m``: how long a reply has waited."""
    minutes = max(0, int(span.total_seconds() // 60))
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days}d {hours}h"
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m"
