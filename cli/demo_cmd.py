"""``outreach demo``: the whole engine, sped up, against the local simulator, with a live view."""

from __future__ import annotations

import os
import random
import signal
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.console import RenderableType
from rich.live import Live

from cli.context import console, error_console
from cli.status_view import collect, render
from engine.errors import ServiceUnavailableError

DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
DEFAULT_SPEED = 4320.0  # a virtual day in 20 real seconds


def _check_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError:
        raise ServiceUnavailableError(
            f"Redis at {url} is not reachable; start it with "
            "`redis-server --daemonize yes --bind 127.0.0.1 --port 6379` or pass --redis-url"
        ) from None
    finally:
        client.close()


def _on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def demo(
    *,
    leads: Annotated[int, typer.Option(min=10, max=2000, help="How many leads to generate.")] = 200,
    folder: Annotated[
        Path | None,
        typer.Option(
            help="Folder for the demo's config, database and logs. Default: a new one.",
            file_okay=False,
        ),
    ] = None,
    speed: Annotated[
        float, typer.Option(min=100, help="Clock speed-up (a virtual day lasts 86400/speed s).")
    ] = DEFAULT_SPEED,
    redis_url: Annotated[
        str | None,
        typer.Option(help="Redis to use. Default: $OUTREACH_REDIS_URL, else the local one."),
    ] = None,
    timeout: Annotated[float, typer.Option(min=10, help="Give up after this many seconds.")] = 110,
    seed: Annotated[int | None, typer.Option(help="Seed for repeatable leads and replies.")] = None,
    live: Annotated[bool, typer.Option(help="Show the live view while it runs.")] = True,
) -> int:
    """Run a whole campaign in under two minutes: simulator, receiver, scheduler, workers.

    Exits 0 only if every invariant held, judged from the simulator's request log.
    """
    from engine.demo import Demo, plan_demo

    url = redis_url or os.environ.get("OUTREACH_REDIS_URL") or DEFAULT_REDIS
    _check_redis(url)
    if folder is not None and (folder / "outreach.db").exists():
        raise typer.BadParameter(f"{folder} already holds a demo; pick a new --folder")
    where = folder or Path(tempfile.mkdtemp(prefix="outreach-demo-"))
    plan = plan_demo(
        where, leads=leads, speed=speed, redis_url=url, epoch=datetime.now(UTC),
        seed=random.randrange(10**6) if seed is None else seed,
    )  # fmt: skip
    out = console()
    out.print(
        f"demo in {plan.folder}: {leads} leads, 5 phones, speed {speed:g}x, seed {plan.seed}",
        markup=False,
    )
    run = Demo(plan, os.environ)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    finished = False
    try:
        run.prepare()
        run.start()
        assert run.database is not None
        assert run.settings is not None
        database, settings = run.database, run.settings
        deadline = time.monotonic() + timeout

        def view() -> RenderableType:
            snapshot = collect(database, settings, run.now(), notes=run.events)
            return render(snapshot)

        with Live(view(), console=out, auto_refresh=False, transient=False) as screen:
            while time.monotonic() < deadline:
                run.tick()
                if run.done():
                    finished = True
                    break
                if live:
                    screen.update(view(), refresh=True)
                time.sleep(0.25)
            screen.update(view(), refresh=True)
        report = run.report(finished=finished)
    except KeyboardInterrupt:
        run.stop()
        error_console().print("\ninterrupted: every demo process was stopped")
        return 130
    finally:
        run.stop()
        signal.signal(signal.SIGTERM, previous)
    out.print()
    for line in report.lines():
        out.print(line, style="green" if report.ok else "red", markup=False)
    out.print(f"files and logs: {plan.folder}", markup=False)
    return 0 if report.ok else 1
