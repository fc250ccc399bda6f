"""``outreach replies ...``: replies a person should read, unmatched replies, the queue's worker."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from cli.context import ConfigOption, console, load
from engine.errors import OutreachError
from engine.queues import build_broker
from engine.redact import mask_phone
from engine.replies.actors import consume, declare_reply_actors
from engine.replies.queries import resolve_flags, review_items, unmatched_replies
from engine.replies.runtime import build_reply_runtime
from engine.runtime import build_clock, build_database, build_redis

app = typer.Typer(
    help="Replies: review flags, unmatched senders, classification.", no_args_is_help=True
)

Limit = Annotated[int, typer.Option(help="Show at most this many.", min=1)]
TEXT_CHARS = 80


@app.command("review")
def review(
    config: ConfigOption = None,
    all_: Annotated[bool, typer.Option("--all", help="Include resolved flags.")] = False,
    limit: Limit = 200,
) -> None:
    """Replies flagged for a person, most urgent first (priority 3 = urgent)."""
    database = build_database(load(config))
    with database.engine.connect() as connection:
        items = review_items(connection, include_resolved=all_, limit=limit)
    table = Table(title=f"{len(items)} replies to review", title_justify="left")
    for column in ("id", "priority", "received", "lead", "sequence", "class", "matched", "text"):
        table.add_column(column)
    for item in items:
        words = ", ".join(word for found in item.matched.values() for word in found)
        table.add_row(
            str(item.id) + (" (done)" if item.resolved_at else ""),
            str(item.priority),
            _when(item.created_at),
            f"{item.lead_id or '-'} {mask_phone(item.lead_phone)}",
            item.sequence or "-",
            item.label or "-",
            escape(words),
            escape(item.text[:TEXT_CHARS]),
        )
    console().print(table)


@app.command("resolve")
def resolve(
    ids: Annotated[list[int], typer.Argument(help="Review flag ids, from `replies review`.")],
    config: ConfigOption = None,
) -> None:
    """Mark review flags as handled."""
    settings = load(config)
    database = build_database(settings)
    with database.engine.begin() as connection:
        count = resolve_flags(connection, ids, build_clock(settings).now())
    if count == 0:
        raise OutreachError("no open review flag with those ids; see `outreach replies review`")
    console().print(f"{count} review flag(s) resolved")


@app.command("unmatched")
def unmatched(config: ConfigOption = None, limit: Limit = 200) -> None:
    """Replies from numbers that match no lead, newest first."""
    database = build_database(load(config))
    with database.engine.connect() as connection:
        replies = unmatched_replies(connection, limit=limit)
    table = Table(title=f"{len(replies)} unmatched replies", title_justify="left")
    for column in ("id", "received", "from", "to phone", "chat", "class", "text"):
        table.add_column(column)
    for reply in replies:
        table.add_row(
            str(reply.id),
            _when(reply.received_at),
            mask_phone(reply.peer_phone) or "-",
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
    settings = load(config)
    build_redis(settings).close()  # fail fast, in one line, when Redis is down
    database = build_database(settings, pool_size=threads + 2)
    database.require_current()
    runtime = build_reply_runtime(settings, database, build_clock(settings))
    actors = declare_reply_actors(build_broker(settings), settings, runtime)
    console().print(f"replies worker: {threads} threads on the `replies` queue")
    consume(actors, threads)
    actors.broker.close()
    database.dispose()


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "-"
