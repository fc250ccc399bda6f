"""``outreach status [--watch]``: the phones and campaigns at a glance, once or live."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.live import Live

from cli.context import ConfigOption, console, load, open_database
from cli.status_view import collect, render


def status(
    config: ConfigOption = None,
    watch: Annotated[
        bool, typer.Option("--watch", "-w", help="Keep the view live until Ctrl-C.")
    ] = False,
    interval: Annotated[
        float, typer.Option(min=0.2, help="Seconds between refreshes with --watch.")
    ] = 2.0,
) -> None:
    """Per phone its state, today's quota, next send and sends; per campaign step the funnel."""
    from engine.runtime import build_clock

    settings = load(config)
    clock = build_clock(settings)
    out = console()
    with open_database(settings, pool_size=1) as database:
        if not watch:
            out.print(render(collect(database, settings, clock.now())))
            return
        with Live(render(collect(database, settings, clock.now())), console=out) as live:
            try:
                while True:
                    time.sleep(interval)
                    live.update(render(collect(database, settings, clock.now())))
            except KeyboardInterrupt:
                pass
