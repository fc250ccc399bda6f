"""``outreach serve``: the workers, the scheduler, the webhook receiver, the replies worker and
the console."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Annotated

import typer

from cli.context import ConfigOption, child_options, console, load, logs, open_database
from cli.webhook_cmd import _secret


def serve_command(
    config: ConfigOption = None,
    worker_processes: Annotated[
        int | None,
        typer.Option(
            "--workers-processes",
            help="Worker processes. Default: worker.processes in the config.",
            min=1,
        ),
    ] = None,
    threads: Annotated[
        int | None,
        typer.Option(help="Threads per worker process. Default: worker.threads.", min=1),
    ] = None,
    webhook_workers: Annotated[
        int | None,
        typer.Option(help="Webhook receiver processes. Default: webhook.workers.", min=1),
    ] = None,
) -> None:
    """Run every service until SIGTERM or Ctrl-C: workers, scheduler, webhook, replies.

    Also the web console, when someone can sign in to it as serve starts (`outreach
    console user add NAME`, or OUTREACH_CONSOLE_PASSWORD; a user added later needs a
    restart of serve, or `outreach console` run on its own).

    For a small deployment on one machine. A service that dies is restarted; on
    SIGTERM in-flight sends finish (up to worker.send_time_limit_s) and queued
    messages stay in Redis.
    """
    from console.users import directory_of
    from engine import tracing
    from engine.logs import configure_logging
    from engine.runtime import build_redis
    from engine.serve import child_specs
    from engine.settings import find_config
    from engine.settings.services import require_sending
    from engine.supervisor import STOP_MARGIN_S, Supervisor, run_until_signalled

    settings = load(config)
    require_sending(settings, datetime.now(UTC))  # now, not in a restart loop of a child
    _secret(settings)  # the receiver needs it: say so now, not in a restart loop
    configure_logging(logs(), settings.timelinesai.token)
    tracing.check(settings.telemetry)  # once here, not in a restart loop of each child
    build_redis(settings).close()  # fail fast, in one line, when Redis is down
    with open_database(settings):
        pass  # fail fast, in one line, when the database is down or not migrated
    path = find_config(config, os.environ).resolve()
    processes = worker_processes or settings.worker.processes
    threads = threads or settings.worker.threads
    receivers = webhook_workers or settings.webhook.workers
    with_console = len(directory_of(settings)) > 0
    specs = child_specs(
        path, worker_processes=processes, threads=threads, webhook_workers=receivers,
        console=with_console, options=child_options(),
    )  # fmt: skip
    web = (
        f", console on http://{settings.console.host}:{settings.console.port}/"
        if with_console
        else " (console off: nobody can sign in; `outreach console user add NAME`)"
    )
    console().print(
        f"serve: worker ({processes} processes x {threads} threads), scheduler, "
        f"webhook ({receivers} process(es)), replies worker{web} on {path}",
        markup=False,
    )
    # The worker child first waits as long for its own worker processes: one margin more.
    stop_timeout_s = settings.worker.send_time_limit_s + 2 * STOP_MARGIN_S
    supervisor = Supervisor(specs, os.environ, stop_timeout_s=stop_timeout_s)
    raise typer.Exit(run_until_signalled(supervisor))
