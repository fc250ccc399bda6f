"""``outreach status [--watch] [--json]``: what stops sending, the phones and campaigns at a
glance, once or live."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Annotated

import typer
from rich.live import Live

from cli.context import ConfigOption, console, load, open_database

if TYPE_CHECKING:
    import redis

    from cli.status_view import Snapshot
    from engine.clock import Clock
    from engine.db import Database
    from engine.settings import Settings

REDIS_TIMEOUT_S = 2.0
"""How long status waits for Redis before it reports it unreachable (it still shows the
rest)."""


def status(
    config: ConfigOption = None,
    watch: Annotated[
        bool, typer.Option("--watch", "-w", help="Keep the view live until Ctrl-C.")
    ] = False,
    interval: Annotated[
        float, typer.Option(min=0.2, help="Seconds between refreshes with --watch.")
    ] = 2.0,
    as_json_: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print one JSON object (blockers, phones, campaigns) instead of the view.",
        ),
    ] = False,
    refresh_funnels: Annotated[
        bool,
        typer.Option(
            "--refresh-funnels",
            help="Compute every campaign's funnels now and store them as the snapshot "
            "status shows on a large deployment (what the scheduler's funnel_snapshot job "
            "does; may take minutes at millions of messages).",
        ),
    ] = False,
) -> None:
    """What stops sending right now (a refused token, phones offline or banned, the API
    budget, dead letters), each with the command that fixes it; then per phone its state,
    today's quota, next send and sends; per campaign step the funnel.

    An active phone shows "halted: ..." while the whole workspace cannot send. Once the
    messages are many (``[scheduler] live_funnel_max_messages``), the funnels are the
    scheduler's last snapshot, with its age.
    """
    import redis

    from cli.status_view import as_json, render
    from engine.runtime import build_clock

    if watch and as_json_:
        raise typer.BadParameter("--json prints once; leave out --watch")
    settings = load(config)
    clock = build_clock(settings)
    out = console()
    client = redis.Redis.from_url(
        settings.redis.url,
        socket_connect_timeout=REDIS_TIMEOUT_S,
        socket_timeout=REDIS_TIMEOUT_S,
    )
    try:
        with open_database(settings, pool_size=1) as database:
            if refresh_funnels:
                _refresh_funnels(database, clock)
            if as_json_:
                typer.echo(
                    json.dumps(as_json(_snapshot(database, settings, clock, client)), indent=2)
                )
                return
            if not watch:
                out.print(render(_snapshot(database, settings, clock, client)))
                return
            first = render(_snapshot(database, settings, clock, client))
            with Live(first, console=out) as live:
                try:
                    while True:
                        time.sleep(interval)
                        live.update(render(_snapshot(database, settings, clock, client)))
                except KeyboardInterrupt:
                    pass
    finally:
        client.close()


def _refresh_funnels(database: Database, clock: Clock) -> None:
    from engine.funnel_snapshots import save_funnel_snapshot

    with database.engine.begin() as connection:
        save_funnel_snapshot(connection, clock.now())


def _snapshot(
    database: Database, settings: Settings, clock: Clock, client: redis.Redis
) -> Snapshot:
    from cli.status_view import collect
    from engine.blocker_facts import read_workspace

    workspace = read_workspace(
        client,
        namespace=settings.redis.namespace,
        monthly_call_budget=settings.timelinesai.monthly_call_budget,
    )
    return collect(database, settings, clock.now(), workspace=workspace)
